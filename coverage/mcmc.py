"""Structure MCMC over DAGs (MC3, Madigan & York 1995) with the same reward as the GFlowNet.

The baseline the coverage benchmark compares against. A state is a DAG G; a proposal picks one move
uniformly from the neighbourhood nbd(G) = {add an edge, remove an edge, reverse an edge}, restricted to
moves that keep G acyclic (Giudici & Castelo 2003 use the same neighbourhood), and is accepted with the
Metropolis-Hastings probability

    min(1, R(G') |nbd(G)| / (R(G) |nbd(G')|)),

so the chain is reversible with respect to P(G | D) ∝ R(G) (the neighbourhood relation is symmetric:
every move has an inverse move). C chains run as one batch: masks, closures and rewards of all chains
are tensors, so one :meth:`StructureMCMC.step` is a few batched matmuls and one ``Reward.log_reward``
call on (C, d, d) graphs.

Reward evaluations are counted (one per proposal, i.e. C per step) so that the benchmark can compare
samplers "at equal numbers of reward evaluations".

Move masks for a batch, with ``closure`` the reflexive transitive closure (gfn.graphs):
  * add i -> j:     no edge i -> j and j does not reach i (this also excludes i = j);
  * remove i -> j:  any edge;
  * reverse i -> j: an edge with no other directed path i ~> j, i.e. no child k != j of i with k ~> j:
                    (A @ closure)[i, j] counts children k of i that reach j (k = j included), so the
                    reversal is valid iff that count equals 1.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.gfn.graphs import as_adjacency, graph_codes, is_acyclic, transitive_closure
from theorycov.gfn.reward import Reward

logger = logging.getLogger(__name__)

__all__ = ["MCMCResult", "StructureMCMC", "empirical_distribution", "move_masks", "neighbourhood_sizes", "visited"]


def move_masks(adj: torch.Tensor, closure: torch.Tensor | None = None) -> torch.Tensor:
    """Valid single-edge moves of each graph: (B, d, d) bool -> (B, 3, d, d) bool (add, remove, reverse).

    ``closure`` (B, d, d): the reflexive transitive closure of ``adj`` if already known.
    """
    adj = as_adjacency(adj)
    closure = transitive_closure(adj) if closure is None else closure
    add = ~adj & ~closure.transpose(1, 2)
    reach_via_child = torch.bmm(adj.to(torch.float32), closure.to(torch.float32))  # (B, d, d)
    rev = adj & (reach_via_child < 1.5)  # only the direct edge connects i to j
    return torch.stack([add, adj, rev], dim=1)


def neighbourhood_sizes(adj: torch.Tensor, closure: torch.Tensor | None = None) -> torch.Tensor:
    """|nbd(G)| for each graph: (B, d, d) -> (B,) int64."""
    return move_masks(adj, closure).flatten(1).sum(1)


def empirical_distribution(samples: torch.Tensor, dags: torch.Tensor) -> torch.Tensor:
    """Share of samples equal to each listed DAG: (S, d, d), (K, d, d) -> (K,) float64 (d <= 7).

    Samples outside the list (there are none when ``dags`` lists every DAG) are ignored.
    """
    codes = graph_codes(dags)
    order = torch.argsort(codes)
    sorted_codes = codes[order]
    sc = graph_codes(as_adjacency(samples, dags.shape[-1]))
    pos = torch.searchsorted(sorted_codes, sc).clamp(max=codes.shape[0] - 1)
    found = sorted_codes[pos] == sc
    counts = torch.zeros(codes.shape[0], dtype=torch.float64)
    counts.index_add_(0, order[pos[found]], torch.ones(int(found.sum()), dtype=torch.float64))
    return counts / max(samples.shape[0], 1)


@dataclass
class MCMCResult:
    """What a run leaves behind.

    samples: (S, d, d) bool states kept (after burn-in, every ``thin``-th step of every chain);
    hits: (H,) int64 kept states that satisfy each hypothesis (when constraints were given);
    first_hit: (H,) reward evaluations spent when a chain first stood on a graph satisfying h (None: never);
    evaluations: reward evaluations of the whole run (burn-in included); acceptance: accepted share.
    """

    samples: torch.Tensor
    hits: torch.Tensor
    n_kept: int
    first_hit: list[int | None]
    evaluations: int
    acceptance: float
    seconds: float
    best_log_r: float
    visited_codes: set[tuple[int, ...]] = field(default_factory=set)

    @property
    def q(self) -> torch.Tensor:
        """(H,) share of kept states that satisfy each hypothesis."""
        return self.hits.to(torch.float64) / max(self.n_kept, 1)


def _row_keys(adj: torch.Tensor) -> list[tuple[int, ...]]:
    """Exact hashable key of each graph (any d): (B, d, d) -> B tuples of int64 words."""
    flat = adj.flatten(1).to(torch.int64)
    pad = (-flat.shape[1]) % 62
    words = (torch.nn.functional.pad(flat, (0, pad)).reshape(flat.shape[0], -1, 62) * (2 ** torch.arange(62, dtype=torch.int64))).sum(-1)
    return [tuple(r) for r in words.tolist()]


class StructureMCMC:
    """C MC3 chains over DAGs on ``reward.d`` nodes, run as one batch.

    Args:
        reward: log R(G) (score + prior), the same object the GFlowNet trains on.
        num_chains: C.
        seed: seeds the run's torch.Generator (proposals, acceptances, random starts).
        start: (d, d) or (C, d, d) start DAGs; default the empty graph.
    """

    def __init__(self, reward: Reward, num_chains: int = 16, seed: int = 0, start: torch.Tensor | None = None) -> None:
        self.reward, self.d, self.num_chains = reward, reward.d, num_chains
        self.generator = torch.Generator().manual_seed(seed)
        d = self.d
        if start is None:
            adj = torch.zeros(num_chains, d, d, dtype=torch.bool)
        else:
            adj = as_adjacency(start, d)
            adj = adj.expand(num_chains, d, d).clone() if adj.shape[0] == 1 else adj.clone()
            if not bool(is_acyclic(adj).all()):
                raise ValueError("MC3 start graphs must be DAGs")
        self.adj = adj  # (C, d, d)
        self.closure = transitive_closure(adj)
        self.log_r = reward.log_reward(adj)  # (C,)
        self.nbd = neighbourhood_sizes(adj, self.closure)  # (C,)
        self.evaluations = num_chains  # the start graphs were scored
        self.accepted = 0
        self.proposed = 0

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """One proposal and accept/reject per chain; returns (C,) bool accepted. Costs C reward evaluations."""
        C, d = self.num_chains, self.d
        masks = move_masks(self.adj, self.closure).flatten(1)  # (C, 3*d*d)
        keys = torch.rand(C, 3 * d * d, generator=self.generator)
        move = torch.argmax(torch.where(masks, keys, torch.full_like(keys, -1.0)), dim=1)  # uniform over valid moves
        kind, rest = move // (d * d), move % (d * d)
        i, j = rest // d, rest % d
        rows = torch.arange(C)
        new = self.adj.clone()
        new[rows, i, j] = kind == 0  # add sets, remove and reverse clear i -> j
        rev = kind == 2
        new[rows[rev], j[rev], i[rev]] = True
        new_closure = transitive_closure(new)
        new_log_r = self.reward.log_reward(new)
        new_nbd = neighbourhood_sizes(new, new_closure)
        self.evaluations += C
        log_alpha = new_log_r - self.log_r + torch.log(self.nbd.to(torch.float64)) - torch.log(new_nbd.to(torch.float64))
        u = torch.rand(C, generator=self.generator, dtype=torch.float64).clamp_min(1e-300)
        acc = torch.log(u) < log_alpha
        self.adj = torch.where(acc[:, None, None], new, self.adj)
        self.closure = torch.where(acc[:, None, None], new_closure, self.closure)
        self.log_r = torch.where(acc, new_log_r, self.log_r)
        self.nbd = torch.where(acc, new_nbd, self.nbd)
        self.accepted += int(acc.sum())
        self.proposed += C
        return acc

    def run(
        self,
        max_evaluations: int,
        *,
        burn_in: int = 0,
        thin: int = 1,
        constraints: ConstraintSet | None = None,
        keep_samples: bool = True,
        track_visited: bool = False,
        max_seconds: float | None = None,
    ) -> MCMCResult:
        """Step all chains until ``max_evaluations`` reward evaluations (or ``max_seconds``) are spent.

        Args:
            burn_in: steps per chain whose states are not kept (first hits still count them).
            thin: keep every ``thin``-th step's states.
            constraints: hypotheses whose kept-state counts and first hits are tracked.
            keep_samples: store the kept states (S, d, d); off for long runs at large d.
            track_visited: record every distinct visited graph (to check that a best completion was reached).
        """
        H = len(constraints) if constraints is not None else 0
        hits = torch.zeros(H, dtype=torch.int64)
        first_hit: list[int | None] = [None] * H
        kept: list[torch.Tensor] = []
        n_kept, t0, best = 0, time.perf_counter(), float(self.log_r.max())
        visited: set[tuple[int, ...]] = set()
        step = 0

        def observe(adj: torch.Tensor, keep: bool) -> None:
            nonlocal n_kept
            if constraints is not None:
                sat = constraints.satisfies(adj)  # (C, H)
                any_sat = sat.any(0)
                for h in any_sat.nonzero().flatten().tolist():
                    if first_hit[h] is None:
                        first_hit[h] = self.evaluations
                if keep:
                    hits.add_(sat.sum(0))
            if keep:
                n_kept += adj.shape[0]
                if keep_samples:
                    kept.append(adj.clone())
            if track_visited:
                visited.update(_row_keys(adj))

        observe(self.adj, burn_in == 0)
        while self.evaluations + self.num_chains <= max_evaluations:
            self.step()
            step += 1
            best = max(best, float(self.log_r.max()))
            observe(self.adj, step >= burn_in and (step - burn_in) % thin == 0)
            if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
                break
        samples = torch.cat(kept) if kept else torch.zeros(0, self.d, self.d, dtype=torch.bool)
        acc = self.accepted / max(self.proposed, 1)
        logger.info("MC3: %d steps x %d chains, %d evaluations, acceptance %.3f", step, self.num_chains, self.evaluations, acc)
        return MCMCResult(samples, hits, n_kept, first_hit, self.evaluations, acc, time.perf_counter() - t0, best, visited)


def visited(result: MCMCResult, graph: torch.Tensor) -> bool:
    """Whether the run stood on ``graph`` (d, d) at some step (needs ``track_visited=True``)."""
    return _row_keys(as_adjacency(graph))[0] in result.visited_codes

