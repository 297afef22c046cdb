"""The GFlowNet reward R(G) = P(G) P(D | G), in log space (Deleu et al. 2022 §2-3).

``delta_edges`` gives log R(G') - log R(G) for sampled transitions G -> G' = G + (i -> j): the local
score difference of node j plus the prior difference (per-edge constant for decomposable priors,
log_prob difference otherwise). This is exactly what the modified detailed balance loss needs, so a
non-decomposable external prior plugs in with no other change.
"""
from __future__ import annotations

import torch

from theorycov.gfn.errors import ShapeError
from theorycov.gfn.graphs import as_adjacency
from theorycov.gfn.scores.base import LocalScore
from theorycov.gfn.scores.priors import GraphPrior, UniformPrior

__all__ = ["Reward"]


class Reward:
    """log R(G) = log P(D | G) + log P(G) over graphs on ``score.d`` variables."""

    def __init__(self, score: LocalScore, prior: GraphPrior | None = None) -> None:
        self.score = score
        self.prior = prior if prior is not None else UniformPrior()
        self.d = score.d
        self.names = score.names

    @property
    def device(self) -> torch.device:
        """Where the score's tensors live (graphs passed in must be there too)."""
        return self.score.device

    def to(self, device: str | torch.device) -> Reward:
        """Move the score's tensors (and caches) to ``device``, in place; returns self."""
        self.score.to(device)
        return self

    def log_reward(self, adj: torch.Tensor) -> torch.Tensor:
        """(B, d, d) bool -> (B,) float64."""
        adj = as_adjacency(adj, self.d)
        return self.score.log_score(adj) + self.prior.log_prob(adj)

    def delta_edges(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """log R(G + src->dst) - log R(G) per graph: (B, d, d), (B,), (B,) -> (B,) float64."""
        adj = as_adjacency(adj, self.d)
        B = adj.shape[0]
        if src.shape != (B,) or dst.shape != (B,):
            raise ShapeError(f"src and dst must have shape ({B},)")
        out = self.score.delta_edges(adj, src, dst)
        if self.prior.decomposable:
            return out + self.prior.delta_at(adj, src, dst)
        nxt = adj.clone()
        nxt[torch.arange(B, device=adj.device), src, dst] = True
        return out + self.prior.log_prob(nxt) - self.prior.log_prob(adj)

    def delta_features(self, adj: torch.Tensor) -> torch.Tensor:
        """Per-candidate-edge change of the decomposable part of log R: (B, d, d) -> (B, d, d) float64.

        This is what the policy sees as an input feature. A non-decomposable prior's part is included
        when the prior offers it (``feature_delta``), else left to the network (the loss always uses the
        exact :meth:`delta_edges`).
        """
        adj = as_adjacency(adj, self.d)
        out = self.score.delta(adj)
        pd = self.prior.delta(adj) if (self.prior.decomposable or self.prior.feature_delta) else None
        return out if pd is None else out + pd

    def delta_features_at(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """:meth:`delta_features` at the F edges src[f] -> dst[f] only: (B, d, d), (F,), (F,) -> (B, F) float64."""
        adj = as_adjacency(adj, self.d)
        out = self.score.delta_subset(adj, src, dst)
        pd = self.prior.delta_subset(adj, src, dst) if (self.prior.decomposable or self.prior.feature_delta) else None
        return out if pd is None else out + pd

    @property
    def columnwise_features(self) -> bool:
        """True when adding i -> j changes only column j of :meth:`delta_features` (decomposable parts only)."""
        return self.prior.decomposable or not self.prior.feature_delta

    def delta_feature_columns(
        self, adj: torch.Tensor, dst: torch.Tensor, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Column ``dst[k]`` of :meth:`delta_features` for graph ``rows[k]`` (default k): (B, d, d), (R,), (R,) -> (R, d),
        or only its entries ``cols[k]`` (R, K) -> (R, K) (a sampler reads node dst's candidate parents only)."""
        out = self.score.delta_columns(adj, dst, rows, cols)
        if self.prior.decomposable:
            pd = self.prior.delta_column(adj, dst, rows)
            out = out + (pd if cols is None else pd.gather(1, cols))
        return out
