"""The coverage objective (DESIGN.md, "Coverage objective"): off-policy training data that builds
completions of every human hypothesis, mixed into the GFlowNet's replay buffer.

For each hypothesis h we keep a pool of completions (graphs G |= h): its best completion by
constrained hill-climbing and its minimal graph (both pinned), plus a random reservoir of the region's
graphs that the sampler itself draws: the running audit's samples that satisfy h and completions the
GFlowNet draws when started from h's own edges. Best completions alone are not enough: a hypothesis
such as "no path between X and Y" can hold 6% of the posterior spread over ~6,000 graphs at d = 5, none
above 0.04%, and a sampler that under-weights that whole region is corrected only by training on the
region's graphs, which the reservoir holds in proportion to the sampler's own mass. Every training iteration the hook draws ``per_iteration`` transitions: a hypothesis
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
from theorycov.gfn.sampling import ranked_edge_order

logger = logging.getLogger(__name__)

__all__ = ["CoverageConfig", "CoverageObjective"]


@dataclass(frozen=True)
class CoverageConfig:
    """Settings of the coverage objective.

    The defaults are the strong objective used for real domains: on the demo (Sachs, d = 11, tempered,
    importance-sampled audit) it covered 0.94 of the theories against 0.65 for :meth:`budgeted`.
    :meth:`budgeted` is for comparisons at equal reward evaluations (bench/coverage.py), where the
    objective's own transitions must stay a small share of the budget.
    """

    per_iteration: int = 8  # human-trajectory transitions added to the replay buffer per iteration
    boost: float = 4.0  # priority factor of hypotheses the running audit finds under-covered
    restarts: int = 2  # hill-climbing restarts for each hypothesis' best completion
    pool_size: int = 256  # completions kept per hypothesis: best and minimal (pinned) plus a random reservoir
    covered_priority: float = 1.0  # priority of hypotheses the last audit found covered (0: replay only the under-covered)
    restart_share: float = 0.0  # share of the sampler's restarting environments sent into under-covered regions
    pool_draw: str = "reward"  # which completion of a hypothesis' pool to replay: "reward" (∝ R(G), i.e. the
    # posterior restricted to the pool) or "uniform" (each distinct graph alike, which at d = 5 spent most draws
    # on the many sparse, low-reward graphs of a region such as "no path X0-X4")
    per_audit: int = 0  # transitions per under-covered hypothesis between two audits (0: no cap). They stay in
    # the replay buffer and are replayed from there; each costs a reward evaluation, so a cap keeps the
    # objective's share of the evaluation budget small (measured d = 5: uncapped it took 35% and doubled JSD)
    # where the fit runs an MC3 guide (d >= FitConfig.scale_from), GuideConfig.pool_share of its replicas start at the theories'
    # best completions (CoverageObjective.best_completions, gfn.warmstart.ranked_starts) instead of the empty graph: no extra
    # evaluations, and the human theories' regions are where the chains, and so the sampler, begin to learn
    guide_starts: bool = True
    seed: int = 0

    @classmethod
    def budgeted(cls, **overrides: object) -> CoverageConfig:
        """Idle while everything is covered, at most ``per_audit`` transitions per under-covered theory per
        audit, and a quarter of the sampler's restarts inside under-covered regions (no extra evaluations)."""
        # per_audit 64 (was 256): at equal evaluations each objective transition is one the sampler does not
        # get, while restarts cost none; on the d = 5 bench's seeds 2 and 4 the cap 64 took JSD from 0.00185 and
        # 0.00333 to 0.00183 and 0.00300 with ~10k fewer objective evaluations, min q/p still >= 0.94
        base: dict[str, object] = {"per_iteration": 16, "covered_priority": 0.0, "per_audit": 64, "restart_share": 0.25}
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


class CoverageObjective:
    """The ``extra_transitions`` hook of ``gfn.Trainer`` that injects human trajectories.

    Args:
        reward: the same reward the trainer uses.
        constraints: the hypotheses; rows are indices into every per-hypothesis tensor here.
    """

    def __init__(self, reward: Reward, constraints: ConstraintSet, config: CoverageConfig | None = None,
                 allowed: torch.Tensor | None = None) -> None:
        config = CoverageConfig() if config is None else config
        self.reward, self.cs, self.config = reward, constraints, config
        self.allowed = allowed  # (d, d) the sampler's candidate edges: completions stay inside them
        self.d = reward.d
        # (d*d,) edge ranks when the sampler's environment is ordered (``DAGEnv.rank_action``, gfn/canonical.py): the
        # completions are then cut along their one trajectory (ascending rank) instead of a random order
        self.rank: torch.Tensor | None = None
        self.priority = torch.ones(len(constraints), dtype=torch.float64)
        self.remaining: int | None = None  # transitions left until the next audit (None: no cap yet)
        if config.pool_draw not in ("reward", "uniform"):
            raise ValueError(f"pool_draw must be 'reward' or 'uniform', got {config.pool_draw!r}")
        self.pools: list[torch.Tensor] = []  # per hypothesis: (K_h, d, d) bool completions
        self.pool_log_r: list[torch.Tensor] = []  # per hypothesis: (K_h,) float64 log R of the pool's graphs
        self.best: list[torch.Tensor] = []  # per hypothesis: (d, d) best completion found so far
        self.best_log_r = torch.full((len(constraints),), float("-inf"), dtype=torch.float64)
        self.usable = torch.ones(len(constraints), dtype=torch.bool)
        self.pinned: list[int] = []  # per hypothesis: how many leading pool entries are never evicted
        self.generator = torch.Generator().manual_seed(config.seed + 104729)  # reservoir eviction only
        for h in range(len(constraints)):
            try:
                comp = best_completion(reward, constraints, h, restarts=config.restarts, seed=config.seed + h, allowed=allowed)
                pool = torch.unique(torch.stack([comp.adj, minimal_graph(constraints, h)]).flatten(1), dim=0).reshape(-1, self.d, self.d)
                self.best.append(comp.adj)
                self.best_log_r[h] = comp.log_reward
            except HypothesisError as err:  # e.g. a path constraint no simple graph realizes
                logger.warning("hypothesis %d gets no human trajectories: %s", h, err)
                self.usable[h] = False
                pool = torch.zeros(0, self.d, self.d, dtype=torch.bool)
                self.best.append(torch.zeros(self.d, self.d, dtype=torch.bool))
            self.pools.append(pool)
            self.pool_log_r.append(reward.log_reward(pool) if pool.shape[0] else torch.zeros(0, dtype=torch.float64))
            self.pinned.append(pool.shape[0])

    def add_completions(self, h: int, graphs: torch.Tensor, log_r: torch.Tensor | None = None) -> None:
        """Add graphs that satisfy h (audit samples, GFlowNet draws from h's edges) to its pool.

        graphs: (B, d, d) or (B, d*d) bool; those that do not satisfy h are dropped. The pinned entries
        (best and minimal completion) stay; past ``pool_size`` the rest is a uniform random subset.
        log_r: optional (B,) float64 log R of ``graphs``, when the caller scored them once for all theories (an
        audit's draws satisfy many theories: scored per theory, 30 theories at d = 46 re-scored ~8,000 graphs an audit).
        """
        graphs = as_adjacency(graphs, self.d)
        keep = self.cs.satisfies(graphs)[:, h]
        if self.allowed is not None:
            keep &= ~(graphs & ~self.allowed.to(graphs.device)).flatten(1).any(1)
        graphs = graphs[keep]
        if graphs.shape[0] == 0:
            return
        lr = self.reward.log_reward(graphs) if log_r is None else log_r.to(torch.float64)[keep]
        k = int(torch.argmax(lr))
        if float(lr[k]) > float(self.best_log_r[h]):
            self.best[h], self.best_log_r[h] = graphs[k], lr[k]
            self.pools[h] = torch.cat([graphs[k : k + 1], self.pools[h]])  # the new best is pinned too
            self.pool_log_r[h] = torch.cat([lr[k : k + 1], self.pool_log_r[h]])
            self.pinned[h] += 1
        p = self.pinned[h]
        pinned, rest = self.pools[h][:p], self.pools[h][p:]
        flat = pinned.flatten(1)
        # log R travels with each graph (no re-scoring of the pool): duplicates carry equal values
        rest, inv = torch.unique(torch.cat([rest, graphs]).flatten(1), dim=0, return_inverse=True)
        rest_lr = torch.empty(rest.shape[0], dtype=torch.float64).scatter_(0, inv, torch.cat([self.pool_log_r[h][p:], lr]))
        keep = ~(rest[:, None, :] == flat[None]).all(-1).any(1)  # not already pinned
        rest, rest_lr = rest[keep], rest_lr[keep]
        room = max(self.config.pool_size - pinned.shape[0], 0)
        if rest.shape[0] > room:
            sel = torch.randperm(rest.shape[0], generator=self.generator)[:room]
            rest, rest_lr = rest[sel], rest_lr[sel]
        self.pools[h] = torch.cat([pinned, rest.reshape(-1, self.d, self.d)])
        self.pool_log_r[h] = torch.cat([self.pool_log_r[h][:p], rest_lr])
        self.usable[h] = True

    def best_completions(self, allowed: torch.Tensor | None = None, max_parents: int | None = None) -> torch.Tensor:
        """(K, d, d) bool on the CPU: the theories' distinct best completions, best log R first (K = 0 when none is usable).

        Start graphs for an MC3 guide (``gfn.warmstart.MCMCGuide(start_pool=...)``): a chain started in a theory's
        region explores it, and the sampler learns its flows from the chain's states; the chain's moves target R,
        so a wrong theory's region is left after burn-in. At d = 20 (bench/coverage_large.py) chains from the empty
        graph had not reached the region of true edges with p(h|D) 0.7-0.99 after 2 CPU-min, and the sampler gave
        them q/p 0.05-0.2. Completions with an edge outside ``allowed`` (d, d) or a node above ``max_parents``
        parents are left out."""
        ok = self.usable.clone()
        if allowed is not None:
            out = ~allowed.to(torch.bool).cpu()
            ok &= torch.tensor([not bool((b.cpu() & out).any()) for b in self.best])
        if max_parents is not None:
            ok &= torch.tensor([int(b.sum(0).max()) <= max_parents for b in self.best])
        idx = [h for h in range(len(self.best)) if bool(ok[h])]
        if not idx:
            return torch.zeros(0, self.d, self.d, dtype=torch.bool)
        graphs = torch.unique(torch.stack([self.best[h].cpu() for h in idx]).flatten(1), dim=0).reshape(-1, self.d, self.d)
        return graphs[torch.argsort(self.reward.log_reward(graphs.to(self.reward.device)).cpu(), descending=True)]

    def set_under_covered(self, under: torch.Tensor) -> None:
        """(H,) bool from the running audit: those hypotheses are replayed ``boost`` times more often."""
        self.priority = torch.where(under, torch.full_like(self.priority, self.config.boost),
                                    torch.full_like(self.priority, self.config.covered_priority))
        self.remaining = self.config.per_audit * int(under.sum()) if self.config.per_audit > 0 else None

    def _draw_completions(self, prio: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """n completions: a hypothesis with probability ∝ ``prio``, then a pick from its pool (∝ R(G) or
        uniform, see ``CoverageConfig.pool_draw``). (n, d, d)."""
        hyp = torch.multinomial(prio, n, replacement=True, generator=generator)  # (n,)
        out = torch.empty(n, self.d, self.d, dtype=torch.bool)
        for h in torch.unique(hyp).tolist():
            rows = (hyp == h).nonzero().flatten()
            pool = self.pools[h]
            if self.config.pool_draw == "reward":
                w = torch.softmax(self.pool_log_r[h], 0)
                pick = torch.multinomial(w, rows.numel(), replacement=True, generator=generator)
            else:
                pick = torch.randint(pool.shape[0], (rows.numel(),), generator=generator)
            out[rows] = pool[pick]
        return out

    def _random_order(self, graphs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A uniformly random order of each graph's edges (in rank order with ``self.rank``): (k, d, d) -> (order, rank),
        both (k, d*d) long.

        order[b, r] is the r-th edge (edges first, then the non-edges); rank[b, e] is the position of edge e.
        """
        k, dd = graphs.shape[0], self.d * self.d
        keys = torch.rand(k, dd, generator=generator)  # drawn either way: the generator's stream stays the same
        if self.rank is not None:  # an ordered environment's one trajectory: ascending rank
            order = ranked_edge_order(graphs.flatten(1), self.rank.to(graphs.device))
        else:
            order = torch.argsort(torch.where(graphs.flatten(1), keys, torch.full_like(keys, 2.0)), dim=1)  # edges first
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(dd).expand(k, -1))
        return order, rank

    def start_states(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """The trainer's ``start_states`` hook: restart up to ``restart_share`` of n finished environments
        at a random prefix (random edge order) of a completion of an under-covered hypothesis.

        The sampler then continues on-policy from inside the region, so its own transitions (the same
        number per iteration, no extra reward evaluations) teach the flow there. (k, d, d) bool or None.
        """
        prio = torch.where(self.usable, self.priority, torch.zeros_like(self.priority))
        if n == 0 or self.config.restart_share <= 0 or float(prio.sum()) == 0.0:  # no draw: the stream stays the sampler's
            return None
        k = int(torch.binomial(torch.tensor(float(n)), torch.tensor(self.config.restart_share), generator=generator))
        if k == 0:
            return None
        graphs = self._draw_completions(prio, k, generator)
        _, rank = self._random_order(graphs, generator)
        m = graphs.flatten(1).sum(1)
        t = (torch.rand(k, generator=generator) * (m + 1)).long()  # prefix length in [0, m]
        return (graphs.flatten(1) & (rank < t[:, None])).reshape(k, self.d, self.d)

    def __call__(self, iteration: int, generator: torch.Generator) -> Transitions | None:
        """Draw ``per_iteration`` transitions along random edge orders of hypothesis completions."""
        n = self.config.per_iteration if self.remaining is None else min(self.config.per_iteration, self.remaining)
        prio = torch.where(self.usable, self.priority, torch.zeros_like(self.priority))
        if n == 0 or float(prio.sum()) == 0.0:
            return None
        if self.remaining is not None:
            self.remaining -= n
        d = self.d
        graphs = self._draw_completions(prio, n, generator)
        m = graphs.flatten(1).sum(1)  # (n,) edges per completion
        nonempty = m > 0
        graphs, m = graphs[nonempty], m[nonempty]
        if graphs.shape[0] == 0:
            return None
        k = graphs.shape[0]
        order, rank = self._random_order(graphs, generator)
        t = (torch.rand(k, generator=generator) * m).long()  # step index in [0, m)
        state = (graphs.flatten(1) & (rank < t[:, None])).reshape(k, d, d)  # first t edges
        action = order[torch.arange(k), t]  # the (t+1)-th edge
        src, dst = action // d, action % d
        delta = self.reward.delta_edges(state, src, dst)
        return Transitions(state, action, delta)
