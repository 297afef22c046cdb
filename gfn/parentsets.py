"""Parent-set moves for structure MCMC: a Gibbs update of one node's parents and the new edge reversal
(REV) move of Grzegorczyk & Husmeier 2008, both on a precomputed table of parent sets.

Why: single-edge MC3 chains at d = 20 (n = 100) stay for minutes in one orientation of a group of
edges (split R-hat of edge indicators 2.9 after 10 minutes of 32 chains, bench/results/ref_d20_s0.json
history): flipping 13 -> 10 to 10 -> 13 needs intermediate graphs in which a node has lost its parents.
REV reverses an edge while resampling both end nodes' parent sets from their conditionals, so it moves
between such modes in one step; the Gibbs move redraws a node's whole parent set at once.

The table: for every node j, every parent set S of at most ``max_size`` parents inside j's candidates
(default: all other nodes), as a (d, P, d) bool tensor, with its local score plus the prior's per-edge
term, (d, P) (padded with -inf). Moves only ever propose sets from the table and are rejected (the chain
stays) when the current set of a node they would redraw is not in it, so each kernel leaves the exact
posterior over all DAGs invariant; chains mix them with the single-edge MC3 moves (gfn.mcmc), which keep
every DAG reachable.

  * Gibbs(j): with D = descendants of j (j included), draw S with S & D empty, P(S) ∝ exp(table score).
  * REV(i -> j) (G&H 2008, §3): orphan i and j (G0); draw Pa'_i containing j from the sets feasible in G0,
    then Pa'_j from the sets feasible in G0 + Pa'_i; accept with
    min(1, |E(G)| / |E(G')| * Z*_i(G0 | j) Z_j(G0 + Pa'_i) / (Z*_j(G0 | i) Z_i(G0 + Pa_j))).
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import torch

from theorycov.gfn.device import rand
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.graphs import transitive_closure
from theorycov.gfn.reward import Reward

if TYPE_CHECKING:
    from theorycov.gfn.mcmc import DAGChains

__all__ = ["ParentSetTable", "orders_scorable", "gibbs_parents", "reverse_edge"]


def orders_scorable(reward: Reward) -> bool:
    """Whether the reward's prior has the constant per-edge term that parent-set tables (and order scores) need."""
    return bool(reward.prior.decomposable) and getattr(reward.prior, "per_edge", None) is not None


class ParentSetTable:
    """All parent sets of size <= ``max_size`` of every node (inside ``candidates``), with their scores.

    sets: (d, P, d) bool; score: (d, P) float64 (local score + per-edge prior, -inf on padding).
    """

    def __init__(self, reward: Reward, max_size: int, candidates: torch.Tensor | None = None, chunk: int = 20_000,
                 max_sets: int = 2_000_000) -> None:
        per_edge = getattr(reward.prior, "per_edge", None)
        if not orders_scorable(reward):
            raise ConfigError("parent-set moves need a prior with a constant per-edge term (uniform, edge-count, ER)")
        d, dev = reward.d, reward.device
        cand = torch.ones(d, d, dtype=torch.bool) if candidates is None else candidates.cpu().clone()
        cand.fill_diagonal_(False)
        sizes = [sum(math.comb(int(cand[:, j].sum()), k) for k in range(max_size + 1)) for j in range(d)]
        if d * max(sizes) > max_sets:  # the (d, P, d) table would not fit: say so before building it
            raise ConfigError(f"a parent-set table of sets of <= {max_size} parents has {max(sizes):,} sets for one node "
                              f"({d * max(sizes):,} rows padded, limit {max_sets:,}): lower max_size or screen the candidates")
        lists = []
        for j in range(d):
            pool = cand[:, j].nonzero().flatten().tolist()
            lists.append([c for k in range(max_size + 1) for c in itertools.combinations(pool, k)])
        P = max(len(x) for x in lists)
        sets = torch.zeros(d, P, d, dtype=torch.bool)
        valid = torch.zeros(d, P, dtype=torch.bool)
        for j, combos in enumerate(lists):
            for p, c in enumerate(combos):
                sets[j, p, list(c)] = True
            valid[j, : len(combos)] = True
        sets, valid = sets.to(dev), valid.to(dev)
        nodes = torch.arange(d, device=dev)[:, None].expand(d, P)[valid]
        par = sets[valid]
        local = torch.cat([reward.score.local_scores(nodes[i : i + chunk], par[i : i + chunk]) for i in range(0, nodes.numel(), chunk)])
        score = torch.full((d, P), -math.inf, dtype=torch.float64, device=dev)
        score[valid] = local + per_edge * par.sum(1).to(torch.float64)
        self.sets, self.score, self.d, self.P, self.max_size = sets, score, d, P, max_size
        # bit codes of the sets (d <= 62): feasibility and lookup become one integer op per set
        self._bits = 2 ** torch.arange(d, dtype=torch.int64, device=dev) if d <= 62 else None
        self._codes = None if self._bits is None else (sets.to(torch.int64) * self._bits).sum(-1)  # (d, P)

    def _code(self, x: torch.Tensor) -> torch.Tensor:
        assert self._bits is not None
        return (x.to(torch.int64) * self._bits).sum(-1)

    def index_of(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """Row in the table of each (node, parent set): (M,), (M, d) -> (M,) int64, -1 when absent."""
        if self._codes is not None:
            hit = self._codes[nodes] == self._code(parents)[:, None]  # (M, P)
        else:
            hit = (self.sets[nodes] == parents[:, None, :]).all(-1)
        hit &= torch.isfinite(self.score[nodes])
        found = hit.any(1)
        return torch.where(found, hit.to(torch.int8).argmax(1), torch.full_like(nodes, -1))

    def feasible_logits(self, nodes: torch.Tensor, forbidden: torch.Tensor, must: torch.Tensor | None = None) -> torch.Tensor:
        """(M, P) scores of the sets of ``nodes`` that avoid ``forbidden`` (M, d) (and contain ``must`` (M,)), -inf otherwise."""
        if self._codes is not None:
            codes = self._codes[nodes]  # (M, P)
            ok = (codes & self._code(forbidden)[:, None]) == 0
            if must is not None:
                ok &= ((codes >> must[:, None]) & 1) == 1
        else:
            sets = self.sets[nodes]  # (M, P, d)
            ok = ~(sets & forbidden[:, None, :]).any(-1)
            if must is not None:
                ok &= sets[torch.arange(nodes.numel(), device=nodes.device), :, must]
        sc = self.score[nodes]
        return torch.where(ok, sc, torch.full_like(sc, -math.inf))


def _draw(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row from softmax(logits) (M, P) by inverse CDF."""
    p = torch.softmax(logits, dim=1)
    cdf = p.cumsum(1)
    u = rand((logits.shape[0], 1), generator, logits.device, logits.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=logits.shape[1] - 1)


@torch.no_grad()
def gibbs_parents(chains: DAGChains, table: ParentSetTable) -> torch.Tensor:
    """Redraw the parent set of one uniformly chosen node per chain from its conditional; (C,) bool changed."""
    C, d, dev = chains.num_chains, chains.d, chains.device
    g = chains.generator
    j = (rand((C,), g, dev) * d).long().clamp_(max=d - 1)
    rows = torch.arange(C, device=dev)
    cur = chains.adj[rows, :, j]  # (C, d)
    in_table = table.index_of(j, cur) >= 0
    forb = chains.closure[rows, j, :]  # descendants of j (j included): parents must avoid them
    logits = table.feasible_logits(j, forb) * chains.beta[:, None]
    pick = _draw(logits, g)
    new_par = table.sets[j, pick]  # (C, d)
    changed = in_table & (new_par != cur).any(1)
    if bool(changed.any()):
        new = chains.adj.clone()
        new[rows[changed], :, j[changed]] = new_par[changed]
        chains.replace(changed, new)
    return changed


@torch.no_grad()
def reverse_edge(chains: DAGChains, table: ParentSetTable) -> torch.Tensor:
    """One REV proposal per chain (a uniformly chosen edge; chains without edges stay); (C,) bool accepted."""
    C, d, dev = chains.num_chains, chains.d, chains.device
    g = chains.generator
    adj = chains.adj
    rows = torch.arange(C, device=dev)
    m = adj.flatten(1).sum(1)  # (C,)
    has = m > 0
    k = (rand((C,), g, dev) * m.clamp_min(1)).long()
    e = torch.searchsorted(adj.flatten(1).cumsum(1), (k + 1)[:, None]).squeeze(1).clamp_(max=d * d - 1)
    i, j = e // d, e % d
    ok = has & (table.index_of(i, adj[rows, :, i]) >= 0) & (table.index_of(j, adj[rows, :, j]) >= 0)
    g0 = adj.clone()
    g0[rows, :, i] = False
    g0[rows, :, j] = False
    cl0 = transitive_closure(g0)
    beta = chains.beta[:, None]
    # forward: Pa'_i containing j, feasible in G0; then Pa'_j feasible in G0 + Pa'_i
    li = table.feasible_logits(i, cl0[rows, i, :], must=j) * beta
    zi_star = torch.logsumexp(li, 1)
    pa_i = table.sets[i, _draw(li, g)]  # (C, d)
    g1 = g0.clone()
    g1[rows, :, i] = pa_i
    cl1 = transitive_closure(g1)
    lj = table.feasible_logits(j, cl1[rows, j, :]) * beta
    zj = torch.logsumexp(lj, 1)
    pa_j = table.sets[j, _draw(lj, g)]
    new = g1.clone()
    new[rows, :, j] = pa_j
    # reverse: Pa_j (containing i) feasible in G0, then Pa_i feasible in G0 + Pa_j
    zj_star = torch.logsumexp(table.feasible_logits(j, cl0[rows, j, :], must=i) * beta, 1)
    g1r = g0.clone()
    g1r[rows, :, j] = adj[rows, :, j]
    zi = torch.logsumexp(table.feasible_logits(i, transitive_closure(g1r)[rows, i, :]) * beta, 1)
    ok &= torch.isfinite(zi_star)  # j may not be a candidate parent of i
    m_new = new.flatten(1).sum(1)
    log_a = torch.log(m.clamp_min(1).double()) - torch.log(m_new.clamp_min(1).double()) + zi_star + zj - zj_star - zi
    u = rand((C,), g, dev, torch.float64).clamp_min(1e-300)
    acc = ok & (torch.log(u) < log_a)
    if bool(acc.any()):
        chains.replace(acc, new)
    return acc
