"""Best completion of a hypothesis: G*_h = argmax over DAGs G |= h of log R(G).

Constrained greedy hill-climbing with restarts (the classic score-based search, e.g. Chickering 2002's
single-edge neighbourhood): every move adds, removes or reverses one edge, keeps the graph acyclic and
keeps G |= h, and the whole neighbourhood of the current graph is scored as one batch through
``Reward.log_reward`` (no Python loop over candidate moves). Restarts begin from the hypothesis' own
edges plus a few random edges. The GFlowNet started from h's edges (``gfn`` sampling with ``start=``) is
the second route to a completion; the audit takes the better of the two.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from theorycov.coverage.constraints import ConstraintSet, HypothesisError
from theorycov.gfn.graphs import is_acyclic, transitive_closure
from theorycov.gfn.reward import Reward

logger = logging.getLogger(__name__)

__all__ = ["Completion", "best_completion", "minimal_graph"]


@dataclass(frozen=True)
class Completion:
    adj: torch.Tensor  # (d, d) bool
    log_reward: float
    steps: int  # accepted moves over all restarts


def minimal_graph(cs: ConstraintSet, row: int) -> torch.Tensor:
    """The smallest graph we build for h: its required edges, plus a direct edge for each required path.

    Returns: (d, d) bool. Raises HypothesisError if that graph does not satisfy h (e.g. a forbidden edge
    collides with a path we had to add directly), naming the hypothesis.
    """
    adj = cs.required_pairs(row).clone()
    if not bool(cs.satisfies(adj[None])[0, row]) or not bool(is_acyclic(adj[None])[0]):
        raise HypothesisError(f"no simple completion found for hypothesis {row} ({cs.hypotheses[row].render()!r})")
    return adj


def _inside(graphs: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """(M,) bool: the graphs (M, d, d) use candidate edges only (all True without a screen)."""
    if allowed is None:
        return torch.ones(graphs.shape[0], dtype=torch.bool)
    return ~(graphs & ~allowed.to(graphs.device, torch.bool)).flatten(1).any(1)


def _neighbours(adj: torch.Tensor, *, dag: bool = False, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """All graphs one edge move away: (d, d) bool -> (M, d, d) bool (adds, removals, reversals).

    ``dag``: ``adj`` is acyclic and only the acyclic moves are returned (the same graphs, in the same order, as
    filtering by ``is_acyclic``); see :func:`_dag_neighbours`, as is ``allowed``.
    """
    if dag:
        return _dag_neighbours(adj, allowed)[0]
    d = adj.shape[0]
    off = ~torch.eye(d, dtype=torch.bool, device=adj.device)
    return _moves(adj, (~adj) & off & ~adj.T, adj)[0]


def _moves(adj: torch.Tensor, can_add: torch.Tensor, can_rev: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The neighbours (adds, then removals, then reversals, each in row-major order) and their (i, j) index pairs."""
    add_i, add_j = can_add.nonzero(as_tuple=True)
    del_i, del_j = adj.nonzero(as_tuple=True)
    rev_i, rev_j = can_rev.nonzero(as_tuple=True)
    n_add, n_del, n_rev = add_i.numel(), del_i.numel(), rev_i.numel()
    out = adj[None].repeat(n_add + n_del + n_rev, 1, 1)
    k = torch.arange(n_add, device=adj.device)
    out[k, add_i, add_j] = True
    k = torch.arange(n_add, n_add + n_del, device=adj.device)
    out[k, del_i, del_j] = False
    k = torch.arange(n_add + n_del, n_add + n_del + n_rev, device=adj.device)
    out[k, rev_i, rev_j] = False
    out[k, rev_j, rev_i] = True
    return out, (add_i, add_j, del_i, del_j, rev_i, rev_j)


def _dag_neighbours(adj: torch.Tensor, allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The acyclic one-move neighbours of a DAG and their reachability, from ``adj``'s own closure.

    Adding i -> j closes a cycle iff j reaches i, and adds the paths a ~> c with a ~>= i and j ~>= c; reversing
    i -> j closes one iff another child k of i reaches j. Only the removals (one per edge, reused by the reversals)
    need a closure of their own. At d = 46 (~2,000 neighbours a step) the closures of every neighbour, for the
    acyclicity check and again for path theories (ConstraintSet.satisfies, FloorPrior), were 95% of a climb.
    ``allowed`` (d, d) bool: only moves whose new edge is a candidate edge (``adj`` itself inside them), the same
    graphs as filtering by :func:`_inside` afterwards, without materializing the others.

    Returns: nb (M, d, d) bool as :func:`_neighbours` orders them; reach (M, d, d) bool, paths of length >= 1.
    """
    d = adj.shape[0]
    eye = torch.eye(d, dtype=torch.bool, device=adj.device)
    reach = transitive_closure(adj[None])[0]  # reflexive
    can_add = (~adj) & ~eye & ~adj.T & ~reach.T  # i -> j is fine unless j reaches i
    other = adj.to(torch.float32) @ (reach & ~eye).to(torch.float32)  # (d, d): children k of i with k ~> j, k != j
    can_rev = adj & ~(other > 0)
    if allowed is not None:
        ok = allowed.to(device=adj.device, dtype=torch.bool)
        can_add, can_rev = can_add & ok, can_rev & ok.T  # reversing i -> j adds j -> i
    nb, (add_i, add_j, del_i, del_j, rev_i, rev_j) = _moves(adj, can_add, can_rev)
    r_add = reach[None] | (reach[:, add_i].T[:, :, None] & reach[add_j][:, None, :])  # (n_add, d, d)
    n_add, n_del = add_i.numel(), del_i.numel()
    r_del = transitive_closure(nb[n_add : n_add + n_del])  # (n_del, d, d) reflexive
    pos = torch.full((d, d), -1, dtype=torch.int64, device=adj.device)
    pos[del_i, del_j] = torch.arange(n_del, device=adj.device)
    base = r_del[pos[rev_i, rev_j]]  # the reversed edge removed, then j -> i added
    t = torch.arange(rev_i.numel(), device=adj.device)
    r_rev = base | (base[t, :, rev_j][:, :, None] & base[t, rev_i, :][:, None, :])  # a ~>= j and i ~>= c
    return nb, torch.cat([r_add, r_del, r_rev]) & ~eye


def _neighbour_log_rewards(reward: Reward, cur_nodes: torch.Tensor, cur: torch.Tensor, nb: torch.Tensor,
                           log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """log R of each neighbour, rescoring only the nodes whose parent set the move changed.

    Args: cur_nodes (d,) float64 local scores of ``cur`` (d, d) bool; nb (M, d, d) bool one move away.
    Returns: (M,) float64. A move changes one or two columns (parent sets), so this computes at most 2 M local
    scores where ``Reward.log_reward`` computes M d: at ecoli70 (d = 46, ~2,000 neighbours a step) the climbs of 30
    theories took most of a coverage run's set-up (bench/coverage_large.py). The prior, not decomposable in general
    (FloorPrior), is evaluated on the whole graphs unless ``log_prior`` (M,) gives it.
    """
    changed = (nb != cur[None]).any(dim=1)  # (M, d): column j (the parents of j) differs
    m, j = changed.nonzero(as_tuple=True)
    new = reward.score.local(j, nb[m, :, j])  # (K,) the changed nodes' local scores
    delta = torch.zeros(nb.shape[0], dtype=torch.float64, device=nb.device).index_add_(0, m, new - cur_nodes[j])
    return cur_nodes.sum() + delta + (reward.prior.log_prob(nb) if log_prior is None else log_prior)


def best_completion(
    reward: Reward,
    cs: ConstraintSet,
    row: int,
    *,
    restarts: int = 4,
    random_edges: int = 3,
    max_steps: int = 500,
    seed: int = 0,
    start: torch.Tensor | None = None,
    allowed: torch.Tensor | None = None,
) -> Completion:
    """Hill-climb log R over DAGs that satisfy hypothesis ``row``; returns the best graph found.

    Args:
        start: optional (d, d) bool start graph (e.g. a GFlowNet sample completing h); must satisfy h.
        allowed: optional (d, d) bool candidate edges (the sampler's screen, gfn/candidates.py): the climb
            stays inside them, so that the completion is a graph the sampler can build.
    """
    gen = torch.Generator().manual_seed(seed)
    base = minimal_graph(cs, row) if start is None else start.to(torch.bool)
    if not bool(cs.satisfies(base[None])[0, row]):
        raise HypothesisError(f"the start graph does not satisfy hypothesis {row}")
    if not bool(is_acyclic(base[None])[0]):
        raise HypothesisError(f"the start graph of hypothesis {row} has a directed cycle")
    if not bool(_inside(base[None], allowed)[0]):
        raise HypothesisError(f"the start graph of hypothesis {row} has edges outside the candidate edges")
    best_adj, best_lr, total_steps = base, float(reward.log_reward(base[None])[0]), 0
    for r in range(restarts):
        cur = base.clone()
        if r > 0:  # perturb: a few random admissible additions
            for _ in range(random_edges):
                nb = _neighbours(cur, dag=True, allowed=allowed)
                nb = nb[cs.satisfies(nb)[:, row] & (nb.flatten(1).sum(1) > cur.sum())]
                if nb.shape[0] == 0:
                    break
                cur = nb[int(torch.randint(nb.shape[0], (1,), generator=gen))]
        cur_lr = float(reward.log_reward(cur[None])[0])
        # above the dense table's size, neighbours are scored from the current graph's node scores (same values up to
        # rounding); with the table, whole graphs are cheap and scoring them keeps the exact d <= 5 tests' tie-breaks
        local = reward.score.table is None
        for _ in range(max_steps):
            nb, reach = _dag_neighbours(cur, allowed)  # inside the screen, as cur is
            sat = cs.satisfies(nb, reach=reach)
            keep = sat[:, row]
            nb, sat = nb[keep], sat[keep]
            if nb.shape[0] == 0:
                break
            # a FloorPrior over this very constraint set reads the satisfaction just computed (no closure per graph)
            lp = reward.prior.log_prob(nb, sat=sat) if getattr(reward.prior, "constraints", None) is cs else None
            lr = _neighbour_log_rewards(reward, reward.score.node_scores(cur[None])[0], cur, nb, lp) if local else reward.log_reward(nb)
            k = int(torch.argmax(lr))
            if float(lr[k]) <= cur_lr + 1e-9:
                break
            cur, cur_lr = nb[k], float(lr[k])
            total_steps += 1
        if cur_lr > best_lr:
            best_adj, best_lr = cur, cur_lr
    logger.debug("completion of hypothesis %d: log R %.3f after %d moves", row, best_lr, total_steps)
    return Completion(best_adj, best_lr, total_steps)
