"""Human hypotheses as constraints on causal graphs, checked for whole batches of graphs at once.

A hypothesis h (``theorycov.db.schemas.Hypothesis``) is a set of constraints over named variables:
required edges, required directed paths, forbidden edges, forbidden paths (DESIGN.md, "Definitions").
:class:`ConstraintSet` compiles H hypotheses into four (H, d*d) 0/1 matrices so that G |= h for a batch of
B graphs and all H hypotheses is four matrix products against the flattened adjacency and its transitive
closure: ``satisfies(adj (B, d, d)) -> (B, H) bool``; no Python loop over graphs or hypotheses.

Exceptions::

    ValueError
     +-- HypothesisError         a hypothesis names an unknown variable, or no DAG can satisfy it
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.gfn.graphs import transitive_closure as _reflexive_closure

__all__ = ["ConstraintSet", "HypothesisError", "transitive_closure"]


class HypothesisError(ValueError):
    """A hypothesis cannot be used as stated; the message names it and the reason."""


def transitive_closure(adj: torch.Tensor) -> torch.Tensor:
    """Reachability by paths of length >= 1: (B, d, d) bool -> (B, d, d) bool (out[b, i, j]: i ~> j).

    gfn's closure is reflexive; a constraint "A ~> B" with A != B needs the strict one, which is the same
    on DAGs once the diagonal is dropped.
    """
    reach = _reflexive_closure(adj)
    return reach & ~torch.eye(adj.shape[-1], dtype=torch.bool)


@dataclass(frozen=True)
class _Compiled:
    req_edge: torch.Tensor  # (H, d*d) float 0/1
    req_path: torch.Tensor
    forb_edge: torch.Tensor
    forb_path: torch.Tensor
    n_req_edge: torch.Tensor  # (H,)
    n_req_path: torch.Tensor


class ConstraintSet:
    """H hypotheses compiled against an ordered list of d variables.

    Args:
        hypotheses: the hypotheses, in the order of the output's columns.
        variables: the domain's variable names; index i is row/column i of every adjacency matrix.
    Raises:
        HypothesisError: unknown variable, a self-loop, a constraint both required and forbidden, or required
            edges/paths that form a directed cycle (no DAG satisfies such a theory).
    """

    def __init__(self, hypotheses: Sequence[Hypothesis], variables: Sequence[str]) -> None:
        self.hypotheses = tuple(hypotheses)
        self.variables = tuple(variables)
        self._index = {v: i for i, v in enumerate(self.variables)}
        d, h = len(self.variables), len(self.hypotheses)
        mats = {k: torch.zeros(h, d, d) for k in ("req_edge", "req_path", "forb_edge", "forb_path")}
        for row, hyp in enumerate(self.hypotheses):
            for c in hyp.constraints:
                i, j = self._indices(c, row)
                key = ("forb_" if c.forbidden else "req_") + ("path" if c.path else "edge")
                mats[key][row, i, j] = 1.0
            self._check_consistent(row, mats)
        flat = {k: v.reshape(h, d * d) for k, v in mats.items()}
        self._c = _Compiled(**flat, n_req_edge=flat["req_edge"].sum(1), n_req_path=flat["req_path"].sum(1))

    def __len__(self) -> int:
        return len(self.hypotheses)

    def _indices(self, c: Constraint, row: int) -> tuple[int, int]:
        for name in (c.cause, c.effect):
            if name not in self._index:
                raise HypothesisError(
                    f"hypothesis {row} ({self.hypotheses[row].render()!r}) names {name!r}, which is not a variable "
                    f"of this domain; known variables: {', '.join(self.variables)}"
                )
        i, j = self._index[c.cause], self._index[c.effect]
        if i == j:
            raise HypothesisError(f"hypothesis {row} relates {c.cause!r} to itself; a causal graph has no self-loops")
        return i, j

    def _check_consistent(self, row: int, mats: dict[str, torch.Tensor]) -> None:
        req_e, req_p = mats["req_edge"][row] > 0, mats["req_path"][row] > 0
        forb_e, forb_p = mats["forb_edge"][row] > 0, mats["forb_path"][row] > 0
        required = req_e | req_p
        name = self.hypotheses[row].render()
        cyclic = required & _reflexive_closure(required[None])[0].T  # edge i -> j with a path j ~> i
        if bool(cyclic.any()):
            v = self.variables[int(cyclic.nonzero()[0, 0])]
            raise HypothesisError(f"hypothesis {row} ({name!r}) is cyclic: its required edges lead from {v!r} back to itself")
        closure = transitive_closure(required[None])[0]
        if bool((req_e & forb_e).any() | (closure & forb_p).any() | (req_e & forb_p).any()):
            raise HypothesisError(f"hypothesis {row} ({name!r}) both requires and forbids the same edge or path")

    def required_edges(self) -> torch.Tensor:
        """(d, d) bool: the edges a candidate screen (gfn/candidates.py) must keep so that every theory has a
        graph inside it: each required edge and, for a required path i ~> j, the direct edge i -> j (a path that
        needs no other edge). A screen that dropped them would give a human theory zero mass by construction.
        (A theory that requires i ~> j and forbids i -> j still needs its intermediate edges inside the screen.)"""
        d = len(self.variables)
        c = self._c
        return ((c.req_edge + c.req_path).sum(0) > 0).reshape(d, d)

    def satisfies(self, adj: torch.Tensor, *, reach: torch.Tensor | None = None) -> torch.Tensor:
        """G |= h for every graph and hypothesis.

        Args:
            adj: (B, d, d) bool or 0/1 adjacency matrices (DAGs).
            reach: optional (B, d, d) bool reachability by paths of length >= 1 (:func:`transitive_closure`), when
                the caller has it cheaper than this closure (coverage/completion.py, from a common graph).
        Returns:
            (B, H) bool.
        """
        b, d = adj.shape[0], len(self.variables)
        if adj.shape[1:] != (d, d):
            raise HypothesisError(f"graphs must be (B, {d}, {d}) over {self.variables}, got {tuple(adj.shape)}")
        c = self._c
        # only the cells some constraint names enter the counts: (B, k) @ (k, H) with k the few named cells, not
        # (B, d^2) @ (d^2, H) (at d = 46 and ~2,000 graphs the full products were most of a completion's climb)
        e_cols, p_cols = self._support
        a = adj.reshape(b, d * d)[:, e_cols].to(torch.float32)  # (B, k_edges)
        ok = (a @ c.req_edge[:, e_cols].T) == c.n_req_edge  # (B, H) every required edge present
        ok &= (a @ c.forb_edge[:, e_cols].T) == 0  # no forbidden edge
        if p_cols.numel():
            r = (transitive_closure(adj.to(torch.bool)) if reach is None else reach).reshape(b, d * d)[:, p_cols].to(torch.float32)
            ok &= (r @ c.req_path[:, p_cols].T) == c.n_req_path
            ok &= (r @ c.forb_path[:, p_cols].T) == 0
        return ok

    @property
    def _support(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The flat cells (i * d + j) that an edge constraint, resp. a path constraint, names: (k_e,), (k_p,) int64."""
        if not hasattr(self, "_cols"):
            c = self._c
            self._cols = (((c.req_edge + c.forb_edge).sum(0) > 0).nonzero().flatten(),
                          ((c.req_path + c.forb_path).sum(0) > 0).nonzero().flatten())
        return self._cols

    def satisfies_after_each_edge(self, adj: torch.Tensor) -> torch.Tensor:
        """Whether G + (i -> j) |= h, for every graph, candidate edge and hypothesis at once.

        Adding i -> j creates exactly the paths a ~> c with a ~>= i and j ~>= c (reflexive closure), so each
        count of satisfied constraints after the edge is the count before plus a rank-structured correction:
        O(B H d^3), no loop over candidates. Candidates that close a cycle get values too (ignore them).

        Args:
            adj: (B, d, d) bool DAGs.
        Returns:
            (B, d, d, H) bool: out[b, i, j, h] = (G_b + i->j) |= h (= G_b |= h where i -> j is already in G_b).
        """
        b, d, c = adj.shape[0], len(self.variables), self._c
        h = len(self)
        a = adj.to(torch.float32)
        new = (1.0 - a)[..., None]  # (B, d, d, 1): the candidate is a new edge
        req_e, forb_e = c.req_edge.reshape(h, d, d), c.forb_edge.reshape(h, d, d)
        flat = a.reshape(b, d * d)
        req_now, forb_now = flat @ c.req_edge.T, flat @ c.forb_edge.T  # (B, H)
        ok = (req_now[:, None, None, :] + new * req_e.permute(1, 2, 0)[None]) == c.n_req_edge
        ok &= (forb_now[:, None, None, :] + new * forb_e.permute(1, 2, 0)[None]) == 0
        rows = [(mat, need_all, (mat.sum(1) > 0).nonzero().flatten()) for mat, need_all in ((c.req_path, True), (c.forb_path, False))]
        rows = [r for r in rows if r[2].numel()]
        if rows:
            reach_r = _reflexive_closure(adj.to(torch.bool)).to(torch.float32)  # (B, d, d) incl. diagonal
            strict = reach_r * (1.0 - torch.eye(d))
            for mat, need_all, idx in rows:  # only hypotheses with path constraints of this kind
                k = idx.numel()
                m = mat[idx].reshape(k, d, d)
                now = strict.reshape(b, d * d) @ mat[idx].T  # (B, k)
                missing = m[None] * (1.0 - strict)[:, None]  # (B, k, d, d): constraint pairs not yet reachable
                # gained[b, i, j, h] = sum_{a, c} missing[b, h, a, c] reach_r[b, a, i] reach_r[b, j, c], as two bmm
                t1 = reach_r.transpose(1, 2) @ missing.permute(0, 2, 1, 3).reshape(b, d, k * d)  # (B, i, k*c)
                gained = t1.reshape(b, d * k, d) @ reach_r.transpose(1, 2)  # (B, i*k, j)
                after = now[:, None, None, :] + gained.reshape(b, d, k, d).permute(0, 1, 3, 2)  # (B, i, j, k)
                sub = (after == c.n_req_path[idx]) if need_all else (after == 0)
                ok[..., idx] &= sub
        return ok

    def edges(self, row: int) -> torch.Tensor:
        """(d, d) bool: the edges hypothesis ``row`` requires directly (a start state for the sampler)."""
        d = len(self.variables)
        return self._c.req_edge[row].reshape(d, d) > 0

    def required_pairs(self, row: int) -> torch.Tensor:
        """(d, d) bool: pairs (i, j) the hypothesis requires as an edge or a path."""
        d = len(self.variables)
        return (self._c.req_edge[row] + self._c.req_path[row]).reshape(d, d) > 0

    def forbidden_pairs(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """((d, d) bool forbidden edges, (d, d) bool forbidden paths) of hypothesis ``row``."""
        d = len(self.variables)
        return self._c.forb_edge[row].reshape(d, d) > 0, self._c.forb_path[row].reshape(d, d) > 0
