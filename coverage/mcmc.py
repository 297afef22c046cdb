"""Structure MCMC over DAGs (MC3, Madigan & York 1995) with the same reward as the GFlowNet: the baseline
the coverage benchmark compares against.

The kernel (moves, masks, incremental local scores, optional parallel tempering) is ``gfn.mcmc.DAGChains``;
this module adds what the coverage benchmark tracks along a run: kept states, per-hypothesis hits and the
reward evaluations spent when each hypothesis was first hit, and the set of visited graphs. Reward
evaluations are counted one per proposal (C per step), so samplers compare "at equal numbers of reward
evaluations".
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.gfn.graphs import as_adjacency, graph_codes
from theorycov.gfn.mcmc import DAGChains, move_masks, neighbourhood_sizes

logger = logging.getLogger(__name__)

__all__ = ["MCMCResult", "StructureMCMC", "empirical_distribution", "move_masks", "neighbourhood_sizes", "visited"]


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


class StructureMCMC(DAGChains):
    """C MC3 chains over DAGs on ``reward.d`` nodes, run as one batch (``gfn.mcmc.DAGChains``'s arguments:
    reward, num_chains, seed, start (d, d) or (C, d, d) DAGs, temperatures, allowed, max_parents, device)."""

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
        max_cpu_seconds: float | None = None,
    ) -> MCMCResult:
        """Step all chains until ``max_evaluations`` reward evaluations (or ``max_seconds``) are spent.

        Args:
            burn_in: steps per chain whose states are not kept (first hits still count them).
            thin: keep every ``thin``-th step's states.
            constraints: hypotheses whose kept-state counts and first hits are tracked.
            keep_samples: store the kept states (S, d, d); off for long runs at large d.
            track_visited: record every distinct visited graph (to check that a best completion was reached).
            max_seconds / max_cpu_seconds: wall-time / process CPU-time budgets (the latter stays comparable on
            a shared machine).
        """
        H = len(constraints) if constraints is not None else 0
        hits = torch.zeros(H, dtype=torch.int64)
        first_hit: list[int | None] = [None] * H
        kept: list[torch.Tensor] = []
        n_kept, t0, cpu0, best = 0, time.perf_counter(), time.process_time(), float(self.log_r.max())
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

        cold = self.cold  # with a temperature ladder only the beta = 1 chains sample the posterior
        observe(self.adj[cold], burn_in == 0)
        while self.evaluations + self.num_chains <= max_evaluations:
            self.step()
            step += 1
            if self.levels > 1:
                self.swap(step % 2)
            best = max(best, float(self.log_r.max()))
            observe(self.adj[cold], step >= burn_in and (step - burn_in) % thin == 0)
            if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
                break
            if max_cpu_seconds is not None and time.process_time() - cpu0 >= max_cpu_seconds:
                break
        samples = torch.cat(kept) if kept else torch.zeros(0, self.d, self.d, dtype=torch.bool)
        acc = self.accepted / max(self.proposed, 1)
        logger.info("MC3: %d steps x %d chains, %d evaluations, acceptance %.3f", step, self.num_chains, self.evaluations, acc)
        return MCMCResult(samples, hits, n_kept, first_hit, self.evaluations, acc, time.perf_counter() - t0, best, visited)


def visited(result: MCMCResult, graph: torch.Tensor) -> bool:
    """Whether the run stood on ``graph`` (d, d) at some step (needs ``track_visited=True``)."""
    return _row_keys(as_adjacency(graph))[0] in result.visited_codes

