"""The coverage objective (DESIGN.md, "Coverage objective"): off-policy training data that builds
completions of every human hypothesis, mixed into the GFlowNet's replay buffer.

For each hypothesis h we keep a small pool of completions (graphs G |= h): its best completion by
constrained hill-climbing, its minimal graph, and completions the GFlowNet itself draws when started
from h's own edges. Every training iteration the hook draws ``per_iteration`` transitions: a hypothesis
(with probability ∝ its priority), a completion from its pool, a uniformly random order of that
completion's edges, and one step G_t -> G_{t+1} of the trajectory that adds them in that order. Its
log-reward change comes from the same ``Reward.delta_edges`` as the sampler's own transitions.

The loss is untouched (modified detailed balance with target R), so these transitions teach the policy
the true flow along paths it might otherwise never visit; they cannot buy a hypothesis more mass than
R gives it (tested: q(h) <= p(h|D) + tolerance). Hypotheses that the running audit finds under-covered
get their priority multiplied by ``boost``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from theorycov.coverage.completion import best_completion, minimal_graph
from theorycov.coverage.constraints import ConstraintSet, HypothesisError
from theorycov.gfn.graphs import as_adjacency
from theorycov.gfn.replay import Transitions
from theorycov.gfn.reward import Reward

logger = logging.getLogger(__name__)

__all__ = ["CoverageConfig", "CoverageObjective"]


@dataclass(frozen=True)
class CoverageConfig:
    """Settings of the coverage objective."""

    per_iteration: int = 16  # human-trajectory transitions added to the replay buffer per iteration
    boost: float = 4.0  # priority factor of hypotheses the running audit finds under-covered
    restarts: int = 2  # hill-climbing restarts for each hypothesis' best completion
    pool_size: int = 16  # completions kept per hypothesis (best, minimal, GFlowNet-drawn)
    seed: int = 0


class CoverageObjective:
    """The ``extra_transitions`` hook of ``gfn.Trainer`` that injects human trajectories.

    Args:
        reward: the same reward the trainer uses.
        constraints: the hypotheses; rows are indices into every per-hypothesis tensor here.
    """

    def __init__(self, reward: Reward, constraints: ConstraintSet, config: CoverageConfig = CoverageConfig()) -> None:
        self.reward, self.cs, self.config = reward, constraints, config
        self.d = reward.d
        self.priority = torch.ones(len(constraints), dtype=torch.float64)
        self.pools: list[torch.Tensor] = []  # per hypothesis: (K_h, d, d) bool completions
        self.best: list[torch.Tensor] = []  # per hypothesis: (d, d) best completion found so far
        self.best_log_r = torch.full((len(constraints),), float("-inf"), dtype=torch.float64)
        self.usable = torch.ones(len(constraints), dtype=torch.bool)
        for h in range(len(constraints)):
            try:
                comp = best_completion(reward, constraints, h, restarts=config.restarts, seed=config.seed + h)
                pool = torch.stack([comp.adj, minimal_graph(constraints, h)])
                self.best.append(comp.adj)
                self.best_log_r[h] = comp.log_reward
            except HypothesisError as err:  # e.g. a path constraint no simple graph realizes
                logger.warning("hypothesis %d gets no human trajectories: %s", h, err)
                self.usable[h] = False
                pool = torch.zeros(0, self.d, self.d, dtype=torch.bool)
                self.best.append(torch.zeros(self.d, self.d, dtype=torch.bool))
            self.pools.append(pool)

    def add_completions(self, h: int, graphs: torch.Tensor) -> None:
        """Add graphs that satisfy h (e.g. GFlowNet samples started from h's edges) to its pool."""
        graphs = as_adjacency(graphs, self.d)
        graphs = graphs[self.cs.satisfies(graphs)[:, h]]
        if graphs.shape[0] == 0:
            return
        lr = self.reward.log_reward(graphs)
        k = int(torch.argmax(lr))
        if float(lr[k]) > float(self.best_log_r[h]):
            self.best[h], self.best_log_r[h] = graphs[k], lr[k]
        pool = torch.unique(torch.cat([self.pools[h], graphs]).flatten(1), dim=0).reshape(-1, self.d, self.d)
        if pool.shape[0] > self.config.pool_size:  # keep the highest-reward completions
            keep = torch.argsort(self.reward.log_reward(pool), descending=True)[: self.config.pool_size]
            pool = pool[keep]
        self.pools[h] = pool
        self.usable[h] = True

    def set_under_covered(self, under: torch.Tensor) -> None:
        """(H,) bool from the running audit: those hypotheses are replayed ``boost`` times more often."""
        self.priority = torch.where(under, torch.full_like(self.priority, self.config.boost), torch.ones_like(self.priority))

    def __call__(self, iteration: int, generator: torch.Generator) -> Transitions | None:
        """Draw ``per_iteration`` transitions along random edge orders of hypothesis completions."""
        n = self.config.per_iteration
        prio = torch.where(self.usable, self.priority, torch.zeros_like(self.priority))
        if n == 0 or float(prio.sum()) == 0.0:
            return None
        d = self.d
        hyp = torch.multinomial(prio, n, replacement=True, generator=generator)  # (n,)
        graphs = torch.stack([self.pools[h][int(torch.randint(self.pools[h].shape[0], (1,), generator=generator))] for h in hyp.tolist()])
        m = graphs.flatten(1).sum(1)  # (n,) edges per completion
        nonempty = m > 0
        graphs, m = graphs[nonempty], m[nonempty]
        if graphs.shape[0] == 0:
            return None
        k = graphs.shape[0]
        keys = torch.rand(k, d * d, generator=generator)
        keys = torch.where(graphs.flatten(1), keys, torch.full_like(keys, 2.0))  # edges first, random order
        order = torch.argsort(keys, dim=1)  # (k, d*d)
        t = (torch.rand(k, generator=generator) * m).long()  # step index in [0, m)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(d * d).expand(k, -1))  # position of each edge in the order
        state = (graphs.flatten(1) & (rank < t[:, None])).reshape(k, d, d)  # first t edges
        action = order[torch.arange(k), t]  # the (t+1)-th edge
        src, dst = action // d, action % d
        delta = self.reward.delta_edges(state, src, dst)
        return Transitions(state, action, delta)
