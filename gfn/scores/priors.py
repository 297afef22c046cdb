"""Priors over DAGs, P(G), and the hook for priors supplied from outside.

Decomposable priors (uniform, edge-count, Erdős–Rényi) are sums of per-node terms that depend on the
parent count only, so adding an edge changes log P(G) by a constant that :meth:`GraphPrior.delta`
returns for every candidate edge at once (DAG-GFlowNet ``priors.py``). A non-decomposable prior, such
as the coverage issue's human-floor mixture P(G) = (1 - lam) P0(G) + lam sum_h w_h P0(G | G |= h),
only needs ``log_prob``: the reward then takes log P(G') - log P(G) for the transitions it scores.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch

from theorycov.gfn.errors import ConfigError, ShapeError
from theorycov.gfn.graphs import as_adjacency, num_edges

__all__ = ["GraphPrior", "UniformPrior", "EdgeCountPrior", "ErdosRenyiPrior", "CallablePrior"]


class GraphPrior(ABC):
    """log P(G) up to a constant: ``log_prob(adj (B, d, d)) -> (B,)`` float64."""

    #: True when log P(G + i->j) - log P(G) is available for every candidate edge via :meth:`delta`
    decomposable: bool = False
    #: a non-decomposable prior whose :meth:`delta` still gives every candidate's change (for the policy's
    #: input features; it depends on the whole graph, so it is recomputed per step rather than per column)
    feature_delta: bool = False

    @abstractmethod
    def log_prob(self, adj: torch.Tensor) -> torch.Tensor:
        """(B, d, d) bool -> (B,) float64 unnormalized log prior."""

    def delta(self, adj: torch.Tensor) -> torch.Tensor | None:
        """(B, d, d) -> (B, d, d) float64 change of log P for adding each edge, or None if not decomposable."""
        return None

    def delta_at(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """:meth:`delta` at one edge per graph: (B, d, d), (B,), (B,) -> (B,) float64 (decomposable priors)."""
        pd = self.delta(adj)
        if pd is None:
            raise ConfigError(f"{type(self).__name__} is not decomposable: it has no per-edge delta")
        return pd[torch.arange(adj.shape[0], device=adj.device), src, dst]

    def delta_column(self, adj: torch.Tensor, dst: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Column ``dst[k]`` of :meth:`delta` for graph ``rows[k]`` (default k): (B, d, d), (R,), (R,) -> (R, d) float64
        (decomposable priors)."""
        pd = self.delta(adj if rows is None else adj[rows])
        if pd is None:
            raise ConfigError(f"{type(self).__name__} is not decomposable: it has no per-edge delta")
        return pd[torch.arange(dst.shape[0], device=adj.device), :, dst]

    def delta_subset(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor | None:
        """:meth:`delta` at the F edges src[f] -> dst[f] of every graph: (B, d, d), (F,), (F,) -> (B, F) float64, or None."""
        pd = self.delta(adj)
        return None if pd is None else pd[:, src, dst]


class _EdgeConstantPrior(GraphPrior):
    """Priors with log P(G) = |E| * c (+ const): every added edge changes log P by c."""

    decomposable = True
    per_edge: float = 0.0

    def log_prob(self, adj: torch.Tensor) -> torch.Tensor:
        return num_edges(as_adjacency(adj)).to(torch.float64) * self.per_edge

    def delta(self, adj: torch.Tensor) -> torch.Tensor:
        adj = as_adjacency(adj)
        return torch.full(adj.shape, self.per_edge, dtype=torch.float64, device=adj.device)

    # the constant, without the (B, d, d) tensor of :meth:`delta` (46 MB a step for a sampler's 512 graphs at d = 107)
    def delta_at(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return torch.full(src.shape, self.per_edge, dtype=torch.float64, device=adj.device)

    def delta_column(self, adj: torch.Tensor, dst: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        return torch.full((dst.shape[0], adj.shape[-1]), self.per_edge, dtype=torch.float64, device=adj.device)

    def delta_subset(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return torch.full((adj.shape[0], src.shape[0]), self.per_edge, dtype=torch.float64, device=adj.device)


class UniformPrior(_EdgeConstantPrior):
    """P(G) constant over all DAGs."""

    per_edge = 0.0


class EdgeCountPrior(_EdgeConstantPrior):
    """P(G) proportional to beta^|E| (beta < 1 favours sparse graphs)."""

    def __init__(self, beta: float) -> None:
        if beta <= 0:
            raise ConfigError(f"edge-count prior needs beta > 0, got {beta}")
        self.beta = float(beta)
        self.per_edge = math.log(beta)


class ErdosRenyiPrior(_EdgeConstantPrior):
    """P(G) proportional to p^|E| (1 - p)^(d(d-1) - |E|), p = 2 * edges_per_node / (d - 1) (DAG-GFlowNet's ER prior)."""

    def __init__(self, d: int, edges_per_node: float = 1.0) -> None:
        p = 2.0 * edges_per_node / max(d - 1, 1)
        if not 0.0 < p < 1.0:
            raise ConfigError(f"ER prior edge probability must be in (0, 1), got {p} for d={d}, edges_per_node={edges_per_node}")
        self.p = p
        self.per_edge = math.log(p) - math.log1p(-p)


class CallablePrior(GraphPrior):
    """A prior supplied from outside: ``fn(adj (B, d, d) bool) -> (B,) log P(G)``.

    Give ``delta_fn`` too (same input, output (B, d, d)) when the prior is decomposable; otherwise the
    reward falls back to log_prob differences for the transitions it scores.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        delta_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.fn = fn
        self.delta_fn = delta_fn
        self.decomposable = delta_fn is not None

    def log_prob(self, adj: torch.Tensor) -> torch.Tensor:
        adj = as_adjacency(adj)
        out = torch.as_tensor(self.fn(adj), dtype=torch.float64)
        if out.shape != (adj.shape[0],):
            raise ShapeError(f"external prior returned shape {tuple(out.shape)}, expected ({adj.shape[0]},)")
        return out

    def delta(self, adj: torch.Tensor) -> torch.Tensor | None:
        if self.delta_fn is None:
            return None
        adj = as_adjacency(adj)
        out = torch.as_tensor(self.delta_fn(adj), dtype=torch.float64)
        if out.shape != adj.shape:
            raise ShapeError(f"external prior delta has shape {tuple(out.shape)}, expected {tuple(adj.shape)}")
        return out
