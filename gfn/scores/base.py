"""Decomposable scores: log P(D | G) = sum_j local(j, Pa_G(j)).

Adding the edge i -> j changes node j's term only, which is what makes the modified detailed
balance of Deleu et al. 2022 (§3.2, the "delta score" log R(G') - log R(G)) cheap: one local
score difference per transition (jax-dag-gflownet ``scores/base.py``, ``get_local_scores``).

Caching: for d <= ``table_max_d`` every local score is computed once, in one batched call, into
a dense table ``table[j, parent_code]`` of d * 2^d entries, so a graph's score is a gather and a
sum (at d = 5: 160 entries serve all 29,281 DAGs). Above that, subclasses compute local scores on
the fly with batched linear algebra, and the candidate deltas of each distinct (node, parent set) are
computed once and kept (gfn/scores/cache.py; exact keys to d = 57, verified hashes above).
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import torch

from theorycov.gfn.errors import ShapeError
from theorycov.gfn.graphs import as_adjacency, parent_codes
from theorycov.gfn.scores.cache import RowCache

__all__ = ["LocalScore"]

logger = logging.getLogger(__name__)


class LocalScore(ABC):
    """Base class of BGe and BDeu: vectorized local scores, whole-graph scores and edge deltas.

    Subclasses implement :meth:`local_scores`; everything else derives from it. All outputs are float64.
    """

    #: largest d for which the dense local-score table is built at construction
    table_max_d: int = 12
    #: rows kept by the candidate-delta cache used above the table size (gfn/scores/cache.py)
    cache_rows: int = 200_000

    def __init__(self, d: int, names: tuple[str, ...]) -> None:
        self.d = d
        self.names = names
        self.device = torch.device("cpu")
        self._table: torch.Tensor | None = None
        self._delta_cache: RowCache | None = RowCache(d, d, self.cache_rows)

    #: names of the tensor attributes :meth:`to` moves (subclasses add their own)
    _tensors: tuple[str, ...] = ()

    def to(self, device: str | torch.device) -> LocalScore:
        """Move the score's tensors to ``device`` in place (the caches restart there); returns self."""
        device = torch.device(device)
        for name in self._tensors:
            setattr(self, name, getattr(self, name).to(device))
        if self._table is not None:
            self._table = self._table.to(device)
        self.device = device
        if self._delta_cache is not None:
            self._delta_cache = RowCache(self.d, self.d, self.cache_rows, device=device)
        return self

    # ---- to implement -------------------------------------------------------------------------
    @abstractmethod
    def local_scores(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """Local scores of node ``nodes[m]`` with parent set ``parents[m]``.

        nodes: (M,) int64; parents: (M, d) bool with ``parents[m, nodes[m]]`` False. Returns (M,) float64.
        """

    # ---- cache ----------------------------------------------------------------------------------
    def _build_table(self) -> None:
        """Fill ``table[j, code]`` (d, 2^d) for every parent set; entries with j in its own set are NaN."""
        d = self.d
        dev = self.device
        codes = torch.arange(2**d, dtype=torch.int64, device=dev)
        bits = ((codes[:, None] >> torch.arange(d, device=dev)) & 1).bool()  # (2^d, d)
        table = torch.full((d, 2**d), float("nan"), dtype=torch.float64, device=dev)
        for j in range(d):  # d batched calls of 2^(d-1) parent sets each
            valid = ~bits[:, j]
            nodes = torch.full((int(valid.sum()),), j, dtype=torch.int64, device=dev)
            table[j, valid] = self.local_scores(nodes, bits[valid])
        self._table = table
        logger.debug("built local-score table of %d entries", d * 2**d)

    @property
    def table(self) -> torch.Tensor | None:
        """The dense local-score table (d, 2^d) float64 when d <= table_max_d, else None."""
        if self._table is None and self.d <= self.table_max_d:
            self._build_table()
        return self._table

    # ---- derived --------------------------------------------------------------------------------
    def _check(self, adj: torch.Tensor) -> torch.Tensor:
        return as_adjacency(adj, self.d)

    def local(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """:meth:`local_scores` through the dense table when there is one: (M,), (M, d) bool -> (M,) float64."""
        table = self.table
        if table is None:
            return self.local_scores(nodes, parents)
        w = 2 ** torch.arange(self.d, dtype=torch.int64, device=parents.device)
        return table[nodes, (parents.to(torch.int64) * w).sum(1)]

    def node_scores(self, adj: torch.Tensor) -> torch.Tensor:
        """Per-node local scores: (B, d, d) -> (B, d) float64."""
        adj = self._check(adj)
        table = self.table
        if table is not None:
            codes = parent_codes(adj)  # (B, d)
            return table.gather(1, codes.T).T  # (B, d)
        B, d = adj.shape[0], self.d
        nodes = torch.arange(d, device=adj.device).repeat(B)  # (B*d,)
        parents = adj.transpose(1, 2).reshape(B * d, d)  # row (b, j) = parents of j
        return self.local_scores(nodes, parents).view(B, d)

    def log_score(self, adj: torch.Tensor) -> torch.Tensor:
        """log P(D | G) up to a constant shared by all graphs: (B, d, d) -> (B,) float64."""
        return self.node_scores(adj).sum(dim=1)

    def delta(self, adj: torch.Tensor) -> torch.Tensor:
        """Score change of adding each edge i -> j: (B, d, d) -> (B, d, d) float64.

        Entries for edges already present or on the diagonal are 0 (they are masked anyway); the
        caller's mask decides which candidates are acyclic.
        """
        adj = self._check(adj)
        B, d = adj.shape[0], self.d
        table = self.table
        dev = adj.device
        eye = torch.eye(d, dtype=torch.bool, device=dev)
        invalid = adj | eye  # (B, d, d)
        if table is not None:
            codes = parent_codes(adj)  # (B, d)
            before = table.gather(1, codes.T).T  # (B, d): node j
            add = (2 ** torch.arange(d, dtype=torch.int64, device=dev))[None, :, None]  # bit of parent i
            after_codes = (codes[:, None, :] | add).clamp(max=2**d - 1)  # (B, d_i, d_j)
            after = table[torch.arange(d, device=dev)[None, None, :].expand(B, d, d), after_codes]
            out = after - before[:, None, :]
            return torch.where(invalid, torch.zeros((), dtype=torch.float64, device=dev), out)
        nodes = torch.arange(d, device=dev).repeat(B)  # (B*d,)
        parents = adj.transpose(1, 2).reshape(B * d, d)  # row (b, j) = parents of j
        return self._delta_nodes_cached(nodes, parents).view(B, d, d).transpose(1, 2).contiguous()

    def delta_subset(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """``delta(adj)[:, src, dst]`` for F edges src[f] -> dst[f]: (B, d, d), (F,), (F,) -> (B, F) float64.

        What a policy over candidate edges reads: the (B, d, d) result is never materialized.
        """
        adj = self._check(adj)
        if self.table is not None:
            return self.delta(adj)[:, src, dst]
        B, d = adj.shape[0], self.d
        nodes = torch.arange(d, device=adj.device).repeat(B)  # (B*d,)
        parents = adj.transpose(1, 2).reshape(B * d, d)  # row (b, j) = parents of j
        if self._delta_cache is None:
            return self._delta_nodes(nodes, parents).view(B, d, d)[:, dst, src]  # rows hold [b, j, i]
        table, index = self._delta_cache.resolve(nodes, parents, self._delta_nodes)  # (U, d), (B*d,)
        return table[index.view(B, d)[:, dst], src]  # (B, F): never the (B*d, d) rows

    def _delta_nodes_cached(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """:meth:`_delta_nodes` computed once per distinct (node, parent set) and kept across calls.

        Graphs in a batch (and from one step to the next) share most parent sets, so this turns
        B*d factorizations into a handful once a sampler has settled.
        """
        cache = self._delta_cache
        if cache is None:
            return self._delta_nodes(nodes, parents)
        return cache.rows(nodes, parents, self._delta_nodes)

    def _delta_nodes(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """(M,) nodes with (M, d) parent sets -> (M, d) delta of adding each candidate parent (0 where invalid).

        Generic version: d + 1 local scores per row. Subclasses with a faster closed form override it.
        """
        M, d = parents.shape
        dev = parents.device
        eye = torch.eye(d, dtype=torch.bool, device=dev)
        invalid = parents.clone()
        invalid[torch.arange(M, device=dev), nodes] = True
        ok = ~invalid  # (M, d)
        cand = parents[:, None, :] | eye[None]  # (M, i, d)
        out = torch.zeros(M, d, dtype=torch.float64, device=dev)
        after = self.local_scores(nodes[:, None].expand(M, d)[ok], cand[ok])
        before = self.local_scores(nodes, parents)  # (M,)
        out[ok] = after - before[:, None].expand(M, d)[ok]
        return out

    def delta_columns(
        self, adj: torch.Tensor, dst: torch.Tensor, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score change of adding i -> dst[k] to graph rows[k], for every i: (B, d, d), (R,), (R,) -> (R, d) float64
        (0 where invalid); rows default to 0..B-1 (then R = B); with ``cols`` (R, K) only those i: (R, K).

        After the edge i -> j is added only node j's candidates change, so the environment refreshes
        that one column per graph instead of the whole (B, d, d) delta; ``rows`` spares the caller a copy
        of the graphs that moved.
        """
        adj = self._check(adj)
        rows = torch.arange(adj.shape[0], device=adj.device) if rows is None else rows
        parents = adj[rows, :, dst]  # (R, d)
        table = self.table
        if table is None and self._delta_cache is not None:
            vals, index = self._delta_cache.resolve(dst, parents, self._delta_nodes)  # (U, d), (R,)
            return vals[index] if cols is None else vals[index[:, None], cols]
        if table is None:
            out = self._delta_nodes(dst, parents)
            return out if cols is None else out.gather(1, cols)
        w = 2 ** torch.arange(self.d, dtype=torch.int64, device=adj.device)
        code = (parents.to(torch.int64) * w).sum(1)  # (R,)
        after = table[dst[:, None], code[:, None] | w[None, :]]  # (R, d)
        out = after - table[dst, code][:, None]
        invalid = parents.clone()
        invalid[torch.arange(dst.shape[0], device=adj.device), dst] = True
        out = torch.where(invalid, torch.zeros((), dtype=torch.float64, device=adj.device), out)
        return out if cols is None else out.gather(1, cols)

    def delta_edges(self, adj: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Score change of adding the single edge src[b] -> dst[b] to graph b: (B,) float64.

        Only 2B local scores are computed, so this is what training uses for sampled transitions.
        """
        adj = self._check(adj)
        B = adj.shape[0]
        if src.shape != (B,) or dst.shape != (B,):
            raise ShapeError(f"src and dst must have shape ({B},), got {tuple(src.shape)}, {tuple(dst.shape)}")
        rows = torch.arange(B, device=adj.device)
        parents = adj[rows, :, dst]  # (B, d)
        table = self.table
        if table is not None:
            w = 2 ** torch.arange(self.d, dtype=torch.int64, device=adj.device)
            code = (parents.to(torch.int64) * w).sum(1)
            return table[dst, code | (1 << src)] - table[dst, code]
        if self._delta_cache is not None:  # the cached candidate row of node dst holds the answer
            return self._delta_nodes_cached(dst, parents)[rows, src]
        after_parents = parents.clone()
        after_parents[rows, src] = True
        nodes = torch.cat([dst, dst])
        scores = self.local_scores(nodes, torch.cat([after_parents, parents]))
        return scores[:B] - scores[B:]
