"""Batched DAG utilities: validation, transitive closure, acyclicity, integer codes.

Conventions used everywhere in theorycov.gfn:
  * an adjacency tensor ``adj`` has shape (B, d, d), dtype bool, ``adj[b, i, j]`` is the edge i -> j;
  * a closure tensor ``closure`` has shape (B, d, d), dtype bool, ``closure[b, i, j]`` is True when
    there is a directed path i ~> j, and it is reflexive (``closure[b, i, i]`` is True) so that the
    edge mask of Deleu et al. 2022 §3.1 ("no edge j -> i if i is reachable from j") also forbids self-loops;
  * an edge action a in [0, d*d) adds the edge a // d -> a % d; action d*d is the stop action.
"""
from __future__ import annotations

import math

import torch

from theorycov.gfn.errors import CyclicGraphError, ShapeError

__all__ = [
    "as_adjacency",
    "transitive_closure",
    "is_acyclic",
    "check_acyclic",
    "graph_codes",
    "parent_codes",
    "num_edges",
    "covered_edges",
    "equivalent_walk",
    "pack_bits",
    "unpack_bits",
]


def as_adjacency(adj: torch.Tensor, d: int | None = None) -> torch.Tensor:
    """Return ``adj`` as a bool tensor of shape (B, d, d); a single (d, d) graph gets B = 1.

    Raises ShapeError for anything that is not a batch of square matrices of size d.
    """
    if not isinstance(adj, torch.Tensor):
        adj = torch.as_tensor(adj)
    if adj.dim() == 2:
        adj = adj.unsqueeze(0)
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise ShapeError(f"adjacency must have shape (B, d, d) or (d, d), got {tuple(adj.shape)}")
    if d is not None and adj.shape[1] != d:
        raise ShapeError(f"adjacency is over {adj.shape[1]} variables, expected d = {d}")
    if adj.dtype != torch.bool:
        if adj.is_floating_point() and not torch.all((adj == 0) | (adj == 1)):
            raise ShapeError("adjacency entries must be 0/1 (or bool)")
        adj = adj != 0
    return adj


def transitive_closure(adj: torch.Tensor) -> torch.Tensor:
    """Reflexive transitive closure by repeated squaring: (B, d, d) bool -> (B, d, d) bool.

    ceil(log2 d) batched matmuls; used only where a closure is not carried along incrementally
    (replayed states, graphs given from outside).
    """
    adj = as_adjacency(adj)
    d = adj.shape[-1]
    eye = torch.eye(d, dtype=torch.bool, device=adj.device)
    reach = adj | eye  # (B, d, d)
    for _ in range(max(1, math.ceil(math.log2(max(d, 2))))):
        r = reach.to(torch.float32)
        reach = reach | (torch.bmm(r, r) > 0)
    return reach


def is_acyclic(adj: torch.Tensor) -> torch.Tensor:
    """(B, d, d) bool -> (B,) bool: True where the graph has no directed cycle (no self-loop either)."""
    adj = as_adjacency(adj)
    closure = transitive_closure(adj)
    # a cycle through i means a path i ~> j plus an edge j -> i, i.e. closure^T & adj somewhere
    return ~(adj & closure.transpose(1, 2)).flatten(1).any(dim=1)


def check_acyclic(adj: torch.Tensor, what: str = "graph") -> torch.Tensor:
    """Validate and return ``adj`` as (B, d, d) bool; raise CyclicGraphError naming the first bad graph."""
    adj = as_adjacency(adj)
    ok = is_acyclic(adj)
    if not bool(ok.all()):
        bad = int((~ok).nonzero()[0, 0])
        edges = [(int(i), int(j)) for i, j in adj[bad].nonzero().tolist()]
        raise CyclicGraphError(f"{what} {bad} has a directed cycle (edges i->j: {edges}); a DAG is required")
    return adj


def graph_codes(adj: torch.Tensor) -> torch.Tensor:
    """Integer code of each graph, sum of 2^(i*d+j) over edges: (B, d, d) -> (B,) int64 (d <= 7)."""
    adj = as_adjacency(adj)
    d = adj.shape[-1]
    if d * d > 62:
        raise ShapeError(f"graph codes fit in int64 only for d <= 7, got d = {d}")
    weights = 2 ** torch.arange(d * d, dtype=torch.int64, device=adj.device)
    return (adj.flatten(1).to(torch.int64) * weights).sum(dim=1)


def parent_codes(adj: torch.Tensor) -> torch.Tensor:
    """Parent-set bitmask of every node, sum of 2^i over parents i of j: (B, d, d) -> (B, d) int64."""
    d = adj.shape[-1]
    if d > 62:
        raise ShapeError(f"parent codes fit in int64 only for d <= 62, got d = {d}")
    weights = 2 ** torch.arange(d, dtype=torch.int64, device=adj.device)  # (d,)
    return (adj.to(torch.int64) * weights[None, :, None]).sum(dim=1)  # (B, d)


def num_edges(adj: torch.Tensor) -> torch.Tensor:
    """(B, d, d) -> (B,) int64 number of edges."""
    return adj.flatten(1).sum(dim=1)


def covered_edges(adj: torch.Tensor) -> torch.Tensor:
    """(B, d, d) -> (B, d, d) bool: the covered edges, i -> j with pa(j) = pa(i) + {i} (Chickering 1995).

    Reversing a covered edge keeps the graph acyclic and in its Markov equivalence class (ibid., Lemma 1), and
    every member of a class is reached from any other by a sequence of covered reversals (ibid., Theorem 2).
    """
    adj = as_adjacency(adj)
    d = adj.shape[-1]
    par = adj.transpose(1, 2)  # (B, j, m): m is a parent of j
    eye = torch.eye(d, dtype=torch.bool, device=adj.device)
    # cond[b, i, j] = for every m: (m -> j and m != i) == (m -> i)
    cond = ((par[:, None, :, :] & ~eye[None, :, None, :]) == par[:, :, None, :]).all(-1)
    return adj & cond


def equivalent_walk(adj: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Members of each graph's Markov equivalence class by a random walk of covered-edge reversals.

    Args: adj (B, d, d) bool; steps: reversals per graph. Returns (B * (steps + 1), d, d): every state of the
    B walks, the starting graphs first (duplicates kept). A graph with no covered edge stays where it is.
    Score-equivalent scores (BGe, BDeu) give every state the starting graph's likelihood.
    """
    cur = as_adjacency(adj).clone()
    b, d = cur.shape[0], cur.shape[-1]
    out = [cur.clone()]
    rows = torch.arange(b, device=cur.device)
    for _ in range(steps):
        cov = covered_edges(cur).flatten(1)  # (B, d * d)
        keys = torch.rand(cov.shape, generator=generator).to(cur.device)
        keys = torch.where(cov, keys, torch.full_like(keys, -1.0))
        pick = keys.argmax(1)
        has = cov.any(1)
        i, j = pick // d, pick % d
        nxt = cur.clone()
        nxt[rows, i, j] = False
        nxt[rows, j, i] = True
        cur = torch.where(has[:, None, None], nxt, cur)
        out.append(cur.clone())
    return torch.cat(out)


def pack_bits(x: torch.Tensor) -> torch.Tensor:
    """Bool matrices packed 8 to a byte along the last axis: (M, d, d) bool -> (M, d, ceil(d / 8)) uint8.

    What the replay buffer stores (graphs and their closures): 8x less memory than bool tensors."""
    M, r, d = x.shape
    nb = -(-d // 8)
    padded = torch.zeros(M, r, nb * 8, dtype=torch.uint8, device=x.device)
    padded[:, :, :d] = x
    shifts = torch.arange(8, dtype=torch.uint8, device=x.device)
    return (padded.view(M, r, nb, 8) << shifts).sum(-1, dtype=torch.uint8)


def unpack_bits(p: torch.Tensor, d: int) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: (M, r, ceil(d / 8)) uint8 -> (M, r, d) bool."""
    M, r, nb = p.shape
    shifts = torch.arange(8, dtype=torch.uint8, device=p.device)
    return ((p[..., None] >> shifts) & 1).view(M, r, nb * 8)[:, :, :d].bool()
