"""Structure MCMC over DAGs (MC3, Madigan & York 1995) with incremental local scores and optional
parallel tempering (Metropolis-coupled MCMC, Geyer 1991), on the GFlowNet's own reward.

The kernel the coverage baseline (coverage/mcmc.py), the long reference runs (bench/reference.py) and
the GFlowNet's warm start (gfn/warmstart.py) share. A state is a DAG G; a proposal picks one move
uniformly from nbd(G) = {add, remove, reverse one edge}, restricted to moves that keep G acyclic (and,
optionally, inside a candidate-edge mask and an in-degree cap), and is accepted with probability

    min(1, (R(G') / R(G))^beta_c |nbd(G)| / |nbd(G')|),

reversible with respect to R^beta_c (the neighbourhood relation is symmetric). C chains run as one batch.

Why incremental: a move changes the parent set of one node (add, remove) or two (reverse), so only those
local scores are recomputed, 2C batched local scores per step instead of C d (``Reward.log_reward`` of
every proposal); the prior is re-evaluated on the proposals (cheap, and exact for non-decomposable
priors such as the human floor). Reward evaluations are counted one per proposal (C per step), as
before, so "equal reward evaluations" comparisons keep their unit.

Move masks, with ``closure`` the reflexive transitive closure (gfn.graphs):
  * add i -> j:     no edge i -> j and j does not reach i (this also excludes i = j);
  * remove i -> j:  any edge;
  * reverse i -> j: an edge with no other directed path i ~> j: (A @ closure)[i, j] counts children k
                    of i that reach j (k = j included), so the reversal is valid iff that count is 1.

Tempering: ``temperatures`` gives each chain an inverse temperature beta_c in (0, 1]; :meth:`swap`
proposes exchanges between chains of adjacent temperatures of the same replica (chain index
r * L + l for replica r and level l of an L-level ladder), accepted with
min(1, exp((beta_l - beta_l') (log R_l' - log R_l))). Only beta = 1 chains sample the posterior.
"""
from __future__ import annotations

import time

import torch

from theorycov.gfn.errors import ConfigError, CyclicGraphError
from theorycov.gfn.graphs import as_adjacency, is_acyclic, transitive_closure
from theorycov.gfn.parentsets import ParentSetTable, gibbs_parents, reverse_edge
from theorycov.gfn.reward import Reward

__all__ = ["DAGChains", "move_masks", "neighbourhood_sizes", "refine"]


def move_masks(
    adj: torch.Tensor, closure: torch.Tensor | None = None, allowed: torch.Tensor | None = None,
    max_parents: int | None = None,
) -> torch.Tensor:
    """Valid single-edge moves of each graph: (B, d, d) bool -> (B, 3, d, d) bool (add, remove, reverse).

    ``closure`` (B, d, d): the reflexive transitive closure of ``adj`` if already known; ``allowed``
    (d, d) bool: edges that may exist at all; ``max_parents``: in-degree cap after the move.
    """
    adj = as_adjacency(adj)
    closure = transitive_closure(adj) if closure is None else closure
    add = ~adj & ~closure.transpose(1, 2)
    reach_via_child = torch.bmm(adj.to(torch.float32), closure.to(torch.float32))  # (B, d, d)
    rev = adj & (reach_via_child < 1.5)  # only the direct edge connects i to j
    if allowed is not None:
        add &= allowed[None]
        rev &= allowed.T[None]  # reversing i -> j creates j -> i
    if max_parents is not None:
        indeg = adj.sum(1)  # (B, d) parents of each node
        add &= (indeg < max_parents)[:, None, :]
        rev &= (indeg < max_parents)[:, :, None]  # i gains the parent j
    return torch.stack([add, adj, rev], dim=1)


def neighbourhood_sizes(adj: torch.Tensor, closure: torch.Tensor | None = None, **kw: object) -> torch.Tensor:
    """|nbd(G)| for each graph: (B, d, d) -> (B,) int64 (keywords as :func:`move_masks`)."""
    return move_masks(adj, closure, **kw).flatten(1).sum(1)  # type: ignore[arg-type]


class DAGChains:
    """C MC3 chains over DAGs on ``reward.d`` nodes, stepped as one batch.

    Args:
        reward: log R(G) (score + prior), the same object the GFlowNet trains on.
        num_chains: C (a multiple of the ladder length when ``temperatures`` has several levels).
        seed: seeds the chains' torch.Generator (proposals, acceptances, swaps).
        start: (d, d) or (C, d, d) start DAGs; default the empty graph.
        temperatures: the ladder (L,) of inverse temperatures, beta_0 = 1 first; chain c has level c % L.
        allowed: (d, d) bool candidate edges (None: all); max_parents: in-degree cap (None: none).
        device: where the chains' tensors live (the reward's tensors must be there too).
    """

    def __init__(
        self, reward: Reward, num_chains: int = 16, seed: int = 0, start: torch.Tensor | None = None,
        temperatures: tuple[float, ...] = (1.0,), allowed: torch.Tensor | None = None,
        max_parents: int | None = None, device: str | torch.device = "cpu",
        parent_sets: ParentSetTable | None = None, rev_every: int = 0, gibbs_every: int = 0,
    ) -> None:
        L = len(temperatures)
        if L < 1 or temperatures[0] != 1.0 or any(not 0.0 < b <= 1.0 for b in temperatures):
            raise ConfigError(f"temperatures must start at 1.0 and lie in (0, 1], got {temperatures}")
        if num_chains % L:
            raise ConfigError(f"num_chains ({num_chains}) must be a multiple of the ladder length ({L})")
        self.reward, self.d, self.num_chains, self.device = reward, reward.d, num_chains, torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.levels = L
        self.beta = torch.tensor(temperatures, dtype=torch.float64, device=self.device).repeat(num_chains // L)  # (C,)
        self.allowed = None if allowed is None else allowed.to(self.device, torch.bool)
        self.max_parents = max_parents
        d = self.d
        if start is None:
            adj = torch.zeros(num_chains, d, d, dtype=torch.bool, device=self.device)
        else:
            adj = as_adjacency(start, d).to(self.device)
            adj = adj.expand(num_chains, d, d).clone() if adj.shape[0] == 1 else adj.clone()
            if not bool(is_acyclic(adj).all()):
                raise CyclicGraphError("MC3 start graphs must be DAGs")
        self.adj = adj  # (C, d, d)
        self.closure = transitive_closure(adj)
        self.node_scores = reward.score.node_scores(adj)  # (C, d) local score of every node
        self.log_prior = reward.prior.log_prob(adj)  # (C,)
        self.masks = move_masks(adj, self.closure, self.allowed, max_parents).flatten(1)  # (C, 3 d^2)
        self.nbd = self.masks.sum(1)  # (C,)
        self.evaluations = num_chains  # the start graphs were scored
        self.accepted = 0
        self.proposed = 0
        self.swaps_accepted = 0
        self.swaps_proposed = 0
        if (rev_every or gibbs_every) and parent_sets is None:
            raise ConfigError("REV and Gibbs moves need a ParentSetTable (gfn.parentsets)")
        self.parent_sets, self.rev_every, self.gibbs_every = parent_sets, rev_every, gibbs_every
        self.steps = 0
        self.rev_accepted = self.rev_proposed = 0

    @property
    def log_r(self) -> torch.Tensor:
        """(C,) float64 log R of every chain's current graph."""
        return self.node_scores.sum(1) + self.log_prior

    @property
    def cold(self) -> torch.Tensor:
        """(C,) bool: chains at beta = 1 (those that sample the posterior)."""
        return self.beta == 1.0

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """One proposal and accept/reject per chain; returns (C,) bool accepted. Costs C reward evaluations."""
        C, d, dev = self.num_chains, self.d, self.device
        # a uniform valid move: the k-th True of each mask row, k uniform in [0, |nbd|) (one draw per chain)
        u = torch.rand(C, generator=self.generator, device=dev, dtype=torch.float64)
        k = (u * self.nbd).long().clamp_(max=self.nbd - 1)[:, None]  # (C, 1)
        move = torch.searchsorted(self.masks.cumsum(1), k + 1).squeeze(1)  # first index whose count reaches k + 1
        kind, rest = move // (d * d), move % (d * d)
        i, j = rest // d, rest % d
        rows = torch.arange(C, device=dev)
        new = self.adj.clone()
        new[rows, i, j] = kind == 0  # add sets, remove and reverse clear i -> j
        rev = kind == 2
        new[rows[rev], j[rev], i[rev]] = True
        # local scores of the changed nodes only: j always, i too for a reversal
        ri = rows[rev]
        nodes = torch.cat([j, i[rev]])  # (C + R,)
        parents = torch.cat([new[rows, :, j], new[ri, :, i[rev]]])  # (C + R, d)
        local = self.reward.score.local(nodes, parents)
        scores = self.node_scores.clone()
        scores[rows, j] = local[:C]
        scores[ri, i[rev]] = local[C:]
        new_prior = self.reward.prior.log_prob(new)
        new_closure = transitive_closure(new)
        new_masks = move_masks(new, new_closure, self.allowed, self.max_parents).flatten(1)
        new_nbd = new_masks.sum(1)
        self.evaluations += C
        d_log_r = scores.sum(1) + new_prior - self.log_r
        log_alpha = self.beta * d_log_r + torch.log(self.nbd.to(torch.float64)) - torch.log(new_nbd.to(torch.float64))
        u = torch.rand(C, generator=self.generator, dtype=torch.float64, device=dev).clamp_min(1e-300)
        acc = torch.log(u) < log_alpha
        a3 = acc[:, None, None]
        self.adj = torch.where(a3, new, self.adj)
        self.closure = torch.where(a3, new_closure, self.closure)
        self.node_scores = torch.where(acc[:, None], scores, self.node_scores)
        self.log_prior = torch.where(acc, new_prior, self.log_prior)
        self.masks = torch.where(acc[:, None], new_masks, self.masks)
        self.nbd = torch.where(acc, new_nbd, self.nbd)
        self.accepted += int(acc.sum())
        self.proposed += C
        self.steps += 1
        if self.parent_sets is not None:  # the parent-set moves of gfn/parentsets.py, on a fixed cycle
            if self.rev_every and self.steps % self.rev_every == 0:
                self.rev_accepted += int(reverse_edge(self, self.parent_sets).sum())
                self.rev_proposed += C
            if self.gibbs_every and self.steps % self.gibbs_every == 0:
                gibbs_parents(self, self.parent_sets)
        return acc

    def replace(self, which: torch.Tensor, adj: torch.Tensor) -> None:
        """Set the chains where ``which`` (C,) is True to the DAGs ``adj[which]`` ((C, d, d)), rescoring them."""
        new = adj[which]
        self.adj = self.adj.clone()
        self.adj[which] = new
        cl = transitive_closure(new)
        self.closure = self.closure.clone()
        self.closure[which] = cl
        self.node_scores = self.node_scores.clone()
        self.node_scores[which] = self.reward.score.node_scores(new)
        self.log_prior = self.log_prior.clone()
        self.log_prior[which] = self.reward.prior.log_prob(new)
        masks = move_masks(new, cl, self.allowed, self.max_parents).flatten(1)
        self.masks = self.masks.clone()
        self.masks[which] = masks
        self.nbd = self.nbd.clone()
        self.nbd[which] = masks.sum(1)

    @torch.no_grad()
    def swap(self, parity: int = 0) -> torch.Tensor:
        """Propose exchanges between levels (l, l + 1) for every l of the given parity in every replica.

        Returns (C,) bool: chains whose state changed. No reward evaluations (both states are scored).
        """
        L = self.levels
        if L < 2:
            return torch.zeros(self.num_chains, dtype=torch.bool, device=self.device)
        lo = torch.arange(parity % 2, L - 1, 2, device=self.device)  # lower levels of the pairs
        base = torch.arange(0, self.num_chains, L, device=self.device)[:, None]
        a = (base + lo[None]).flatten()  # (P,) chains at level l
        b = a + 1  # their partners at level l + 1
        lr = self.log_r
        log_alpha = (self.beta[a] - self.beta[b]) * (lr[b] - lr[a])
        u = torch.rand(a.numel(), generator=self.generator, dtype=torch.float64, device=self.device).clamp_min(1e-300)
        ok = torch.log(u) < log_alpha
        perm = torch.arange(self.num_chains, device=self.device)
        perm[a[ok]], perm[b[ok]] = b[ok], a[ok]
        for name in ("adj", "closure", "node_scores", "log_prior", "masks", "nbd"):
            setattr(self, name, getattr(self, name)[perm])
        self.swaps_accepted += int(ok.sum())
        self.swaps_proposed += int(ok.numel())
        changed = torch.zeros(self.num_chains, dtype=torch.bool, device=self.device)
        changed[a[ok]] = True
        changed[b[ok]] = True
        return changed

    @property
    def acceptance(self) -> float:
        return self.accepted / max(self.proposed, 1)


@torch.no_grad()
def refine(reward: Reward, graphs: torch.Tensor, steps: int, seed: int = 0, allowed: torch.Tensor | None = None,
           max_parents: int | None = None, chunk: int = 4096, max_cpu_seconds: float | None = None,
           stats: dict[str, float] | None = None) -> torch.Tensor:
    """(n, d, d) bool: each graph of ``graphs`` (n, d, d) after ``steps`` MC3 steps at beta = 1, one chain per
    graph (in chunks of ``chunk`` chains, stepped in turn), or fewer steps where ``max_cpu_seconds`` of this process's
    CPU time run out first (every chain then has the same number of steps). ``stats``, when given, receives "steps",
    "cpu_seconds", "evaluations" and "acceptance".

    The MC3 kernel leaves the posterior invariant, so a sample from an approximation q moves toward the
    posterior with every step (neither the total variation nor KL(q || posterior) ever grows): the amortized sampler
    proposes, a local chain corrects, as in the refinement step of Local Search GFlowNets (Kim et al. 2023, §3),
    here used when drawing rather than in training. Costs n * steps reward evaluations. At d = 20 the sampler's
    draws are near the posterior but too concentrated; few long chains beat many short ones at equal CPU (2,500 x 800
    steps: Pearson 0.952 -> 0.985 and log R gap -4.2 -> -1.8 on a tuning seed, against 10,000 x 200: 0.976 / -2.4 in
    40 CPU-s; bench/RESULTS.md 2026-12-07), and chunks of a few thousand chains step fastest per chain."""
    if steps < 0 or (max_cpu_seconds is not None and max_cpu_seconds < 0):
        raise ConfigError(f"refine needs steps >= 0 and max_cpu_seconds >= 0, got {steps} and {max_cpu_seconds}")
    cpu0 = time.process_time()
    parts = [DAGChains(reward, num_chains=part.shape[0], seed=seed + k, start=part.to(reward.device), allowed=allowed,
                       max_parents=max_parents, device=reward.device) for k, part in enumerate(graphs.split(chunk))]
    done = 0
    while done < steps and (max_cpu_seconds is None or time.process_time() - cpu0 < max_cpu_seconds):
        for chains in parts:
            chains.step()
        done += 1
    if stats is not None:
        proposed = sum(c.proposed for c in parts)
        stats.update(steps=done, cpu_seconds=time.process_time() - cpu0, evaluations=proposed,
                     acceptance=sum(c.accepted for c in parts) / max(proposed, 1))
    return torch.cat([c.adj for c in parts]) if parts else graphs.clone()
