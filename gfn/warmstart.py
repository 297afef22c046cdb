"""Off-policy training data from structure MCMC running beside the GFlowNet (the trainer's hooks).

Why this data: with all states terminal and the uniform backward policy, the optimal sampler's
trajectories that end in G are uniformly random orders of G's edges (Deleu et al. 2022 §3.3), so the states
the converged GFlowNet visits are the prefixes of random edge orders of posterior graphs. MC3 chains on
the same reward (``gfn.mcmc.DAGChains``) reach the posterior's region long before the sampler does at
d >= 20; their current graphs, cut along random edge orders, are therefore the on-policy states of the
optimal policy, and the modified detailed balance loss (local, valid for transitions from any
distribution) learns the flow there from exact reward ratios; a region the chains over- or under-visit
still gets the mass R gives it. The chains' visit frequencies become a target only through the optional
likelihood of their demonstrations (``demonstrations``; with ``reservoir`` > 0 it distils the chains' history,
which at ecoli70 lifted the edge-marginal agreement from 0.59-0.68 to 0.88-0.90 and at d = 20 traded the samples'
log R for it: bench/RESULTS.md 2026-12-06).

Two hooks, both optional, are given to ``gfn.Trainer``:
  * ``__call__`` (``extra_transitions``): every iteration, ``steps`` MC3 steps of the chains, then
    ``per_iteration`` transitions G_t -> G_t+1 along random edge orders of the chains' current graphs
    (``history``: of graphs drawn from the reservoir of their states since burn-in);
  * ``start_states``: a share of the sampler's finished environments restarts at a random prefix of a
    chain's graph, so the sampler's own on-policy steps continue from inside the region.

Reward evaluations are counted (``evaluations``: chain proposals plus injected transitions) so that
benchmarks compare at equal budgets; wall time is the trainer's, since the chains run inside its loop.
What the bars score are the GFlowNet's own samples (``gfn.sample`` from the trained policy), never the
chains'.

The cold chains' states after burn-in are also recorded (``visits``, a :class:`VisitRecord`): the distinct
graphs the chains found, with their log R, join the posterior's support where the fit weighs distinct graphs
by R (coverage.posterior, ``FitConfig.weights = "reward"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from theorycov.gfn.device import rand
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.mcmc import DAGChains, move_masks
from theorycov.gfn.replay import Transitions
from theorycov.gfn.reward import Reward
from theorycov.gfn.sampling import highest_rank, random_edge_order, ranked_edge_order
from theorycov.gfn.visits import Reservoir, VisitRecord

__all__ = ["GuideConfig", "MCMCGuide", "Reservoir", "VisitRecord", "combine_starts", "combine_transitions", "ranked_starts"]


@dataclass(frozen=True)
class GuideConfig:
    """Settings of the MCMC guide."""

    chains: int = 16  # MC3 chains (all levels of the ladder together)
    temperatures: tuple[float, ...] = (1.0,)  # the chains' ladder (parallel tempering when longer); only beta = 1 chains feed the trainer
    steps: int = 1  # MC3 steps of every chain per training iteration
    per_iteration: int = 32  # transitions along random edge orders of the chains' graphs per iteration
    restart_share: float = 0.0  # share of the sampler's restarting environments sent to a prefix of a chain's graph
    burn_in: int = 0  # MC3 steps taken before training starts (their wall time is the caller's)
    stop_after: int = 0  # iterations after which the guide falls silent (0: never), so the end of training is on-policy
    beyond: float = 0.0  # share of the injected transitions that leave a whole chain graph G by one random valid edge (G -> G + e)
    # CPU seconds of tempered order MCMC (gfn/order.py) placing the chains' starts (0: empty graphs); its table
    # holds sets of <= order_max_size parents inside the candidates (and the in-degree cap)
    order_seconds: float = 0.0
    order_max_size: int = 3
    seed: int = 0
    record: int = 100_000  # distinct cold-chain graphs recorded after burn-in (0: none); the first ones are kept
    # cold-chain states after burn-in kept by reservoir sampling (a uniform sample of the chains' whole history,
    # MCMCGuide.reservoir); when > 0 the demonstrations come from it instead of the chains' current states
    reservoir: int = 0
    # share of the replicas that start at the best graphs of a start pool (MCMCGuide's start_pool; the rest start
    # from the empty graph). Coverage sampler at d = 20, 2 CPU-min, covered share of 25 planted theories (bench/RESULTS.md
    # 2026-12-06): seeds 0-4 x 2 runs, mean 0.448 from the empty graph, 0.472 with every replica at the theories' best
    # completions (modes: the chains stay in them), 0.528 with half; picked 0.5 there, then on held-out seeds 5-6
    # (their own references), two runs each: 0.36 / 0.36 / 0.28 / 0.28 from the empty graph against 0.40 / 0.40 / 0.36 / 0.32
    pool_share: float = 0.5
    # draw the injected transitions from the reservoir of the cold chains' history (needs ``reservoir`` > 0) instead
    # of their current graphs: the modified DB loss is valid on transitions from any distribution, and a trained
    # sampler follows whatever basin its few cold chains sit in at the time (MCMCGuide.__call__)
    history: bool = False

    def __post_init__(self) -> None:
        if self.history and self.reservoir <= 0:
            raise ConfigError("GuideConfig.history draws transitions from the reservoir: set reservoir > 0 (e.g. 20_000)")


class MCMCGuide:
    """The ``extra_transitions`` and ``start_states`` hooks of ``gfn.Trainer`` fed by MC3 chains.

    Args:
        reward: the trainer's reward; allowed: the environment's candidate edges (the chains stay inside);
        max_parents: the environment's in-degree cap; start: optional (C, d, d) start graphs of the chains;
        start_pool: optional (K, d, d) graphs known to be good (e.g. the human theories' best completions,
        ``CoverageObjective.best_completions``): ``config.pool_share`` of the replicas start at the best of them by R
        (``ranked_starts``), the rest at the empty graph. Where the order search places the starts (``order_seconds`` > 0) the pool is
        not used: the order chains' DAGs are a sample of the posterior over orders, the pool's graphs are modes,
        and at ecoli70 (bench/coverage_large.py seed 0, 3 CPU-min) ranking both together and starting every replica
        at the best lowered the coverage GFlowNet's covered share from 0.68 to 0.56, the reversed low-mass edges'
        q/p from 0.5-1.0 to 0.2-0.4.
        rank: the trainer's ``env.rank_action`` when its environment is ordered (gfn/env.py): prefixes follow rank order
        and injected additions stay above each graph's highest-ranked edge, so none is dropped as off-trajectory.
    """

    def __init__(self, reward: Reward, config: GuideConfig = GuideConfig(), allowed: torch.Tensor | None = None,
                 max_parents: int | None = None, start: torch.Tensor | None = None,
                 start_pool: torch.Tensor | None = None, rank: torch.Tensor | None = None) -> None:
        self.reward, self.config, self.d = reward, config, reward.d
        self.allowed, self.max_parents = allowed, max_parents
        # (d*d,) edge ranks of an ordered environment (``DAGEnv.rank_action``): its graphs are cut in rank order, not at random
        self.rank = None if rank is None else rank.to(reward.device)
        self.order_info: dict[str, float] = {}
        if start is None and config.order_seconds > 0:
            start = self._order_starts()
        elif start is None and start_pool is not None and start_pool.shape[0] > 0:
            start = ranked_starts(reward, start_pool.cpu().to(torch.bool), config.chains, len(config.temperatures), config.pool_share)
        self.chains = DAGChains(reward, num_chains=config.chains, seed=config.seed, start=start, allowed=allowed,
                                max_parents=max_parents, device=reward.device, temperatures=config.temperatures)
        self.evaluations = 0  # transitions injected (each one delta log R); the chains count their own
        self.visits = VisitRecord(self.d, config.record)
        self.reservoir = Reservoir(config.reservoir, self.d, reward.device, seed=config.seed + 7)
        for _ in range(config.burn_in):
            self._advance(record=False)

    def _order_starts(self) -> torch.Tensor:
        """(chains, d, d): one DAG per replica of the ladder from the order search, shared by its levels.

        Why: at n = 1,000 (ecoli70) chains from the empty graph disagreed for a long time (the reference's
        MC3: edge R-hat 4.55 after 40 CPU-minutes; 1.058 from these starts), and the guide's chains are where
        the sampler learns its flows.

        Order scores need a modular prior (gfn.parentsets); under any other (the coverage objective's floor
        prior) the search runs on the likelihood with a uniform prior. The starts only place the chains: their
        moves target the full reward from the first step, so its posterior is what they sample."""
        from theorycov.gfn.order import order_search
        from theorycov.gfn.parentsets import orders_scorable

        c = self.config
        reward = self.reward if orders_scorable(self.reward) else Reward(self.reward.score)
        L = len(c.temperatures)
        size = c.order_max_size if self.max_parents is None else min(c.order_max_size, self.max_parents)
        dags, self.order_info = order_search(reward, c.chains // L, c.order_seconds, size, self.allowed, seed=c.seed + 101)
        return dags.repeat_interleave(L, dim=0)

    def _advance(self, record: bool = True) -> None:
        self.chains.step()
        if self.chains.levels > 1:
            self.chains.swap(self.chains.steps % 2)
        if record and self.config.record > 0:
            cold = self.chains.cold
            self.visits.add(self.chains.adj[cold], self.chains.log_r[cold])
        if record and self.config.reservoir > 0:
            self.reservoir.add(self.cold_graphs())

    def cold_graphs(self) -> torch.Tensor:
        """(C_cold, d, d) the current graphs of the beta = 1 chains."""
        return self.chains.adj[self.chains.cold]

    @property
    def total_evaluations(self) -> int:
        """Reward evaluations spent by the guide: chain proposals plus injected transitions."""
        return self.chains.evaluations + self.evaluations

    def _prefixes(self, graphs: torch.Tensor, generator: torch.Generator, with_next: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Random-order prefixes of graphs (k, d, d): (prefix (k, d, d), next edge action (k,) or -1 for a full graph)."""
        k, d = graphs.shape[0], self.d
        dev = graphs.device
        flat = graphs.flatten(1)
        # (k, d*d): edges first, in random order (the uniform P_B) or in rank order (an ordered environment's one trajectory)
        order = random_edge_order(flat, generator) if self.rank is None else ranked_edge_order(flat, self.rank)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(d * d, device=dev).expand(k, -1))
        m = flat.sum(1)
        span = m if with_next else m + 1  # a transition needs a next edge; a restart may be the whole graph
        t = (rand((k,), generator, dev) * span).long()
        prefix = (flat & (rank < t[:, None])).reshape(k, d, d)
        nxt = order[torch.arange(k, device=dev), t.clamp(max=d * d - 1)]
        return prefix, torch.where(t < m, nxt, torch.full_like(nxt, -1))

    def _active(self, iteration: int) -> bool:
        return self.config.stop_after <= 0 or iteration < self.config.stop_after

    def __call__(self, iteration: int, generator: torch.Generator) -> Transitions | None:
        c = self.config
        if not self._active(iteration):
            return None
        for _ in range(c.steps):
            self._advance()
        adj = self.reservoir.graphs() if c.history and len(self.reservoir) else self.cold_graphs()
        pick = (rand((c.per_iteration,), generator, adj.device) * adj.shape[0]).long()
        graphs = adj[pick]
        graphs = graphs[graphs.flatten(1).any(1)]  # the empty graph has no transition
        if graphs.shape[0] == 0:
            return None
        state, action = self._prefixes(graphs, generator, with_next=True)
        if c.beyond > 0:
            state, action = self._beyond(graphs, state, action, generator)
        delta = self.reward.delta_edges(state, action // self.d, action % self.d)
        self.evaluations += int(action.numel())
        return Transitions(state, action, delta)

    def _beyond(self, graphs: torch.Tensor, state: torch.Tensor, action: torch.Tensor,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace a ``beyond`` share of the prefix transitions by G -> G + e from the whole chain graph G, e
        uniform over the valid additions: (state (k, d, d), action (k,)) with the same k.

        Why: the prefixes only ever reach G itself as the *next* state, so the balance between stopping at a
        posterior graph and adding one more edge there is learned from the sampler's own steps alone; at d = 20
        those are few and the trained sampler stops late (67 edges a graph against the posterior's 63 on
        seed 0). These transitions put the exact reward ratio of one edge too many into the buffer."""
        k = graphs.shape[0]
        dev = graphs.device
        add = move_masks(graphs, allowed=self.allowed, max_parents=self.max_parents)[:, 0].flatten(1)  # (k, d*d)
        if self.rank is not None:  # an ordered environment adds only above the graph's highest-ranked edge
            add &= self.rank[None, :] > highest_rank(graphs.flatten(1), self.rank)[:, None]
        pick = (rand((k,), generator, dev) < self.config.beyond) & add.any(1)
        if not bool(pick.any()):
            return state, action
        keys = torch.where(add[pick], rand((int(pick.sum()), self.d * self.d), generator, dev), torch.full_like(add[pick], -1.0, dtype=torch.float32))
        state, action = state.clone(), action.clone()
        state[pick] = graphs[pick]
        action[pick] = keys.argmax(1)
        return state, action

    def demonstrations(self, iteration: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The trainer's ``demonstrations`` hook: ``per_iteration`` (prefix, next action) pairs of the chains'
        graphs along random edge orders, the stop action where the prefix is the whole graph (the optimal
        sampler's steps if the chains were exact). Uses the chains' current states (advanced by ``__call__``),
        or with ``reservoir`` > 0 a uniform draw from their history since burn-in (:class:`Reservoir`).

        Why the history: the current states are a handful of graphs that move, so their likelihood only suits a
        warm start that fades; the history is the chains' empirical posterior, a fixed target as the run goes,
        and the likelihood of random edge orders of its graphs is maximized by the sampler whose terminal
        distribution is that empirical distribution (the trajectories are p(G) P_B(tau | G) with P_B uniform,
        the backward policy of the modified DB loss). Kept on for the whole run it distils the chains, as
        energy-based GFlowNets learn from data trajectories (Zhang et al. 2022, §3)."""
        adj = self.reservoir.graphs() if self.config.reservoir > 0 and len(self.reservoir) else self.cold_graphs()
        pick = (rand((self.config.per_iteration,), generator, adj.device) * adj.shape[0]).long()
        prefix, nxt = self._prefixes(adj[pick], generator, with_next=False)
        return prefix, torch.where(nxt >= 0, nxt, torch.full_like(nxt, self.d * self.d))

    def graphs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """The trainer's ``trajectories`` hook: n graphs drawn uniformly (with replacement) from the cold chains'
        current graphs, or from their history with ``reservoir`` > 0: (n, d, d) bool. Their whole random-order
        trajectories get subtrajectory balance (gfn/subtb.py)."""
        adj = self.reservoir.graphs() if self.config.reservoir > 0 and len(self.reservoir) else self.cold_graphs()
        return adj[(rand((n,), generator, adj.device) * adj.shape[0]).long()]

    def start_states(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """Restart up to ``restart_share`` of n finished environments at prefixes of the chains' graphs."""
        c = self.config
        if n == 0 or c.restart_share <= 0:
            return None
        k = int((rand((n,), generator, self.reward.device) < c.restart_share).sum())
        if k == 0:
            return None
        adj = self.cold_graphs()
        pick = (rand((k,), generator, adj.device) * adj.shape[0]).long()
        prefix, _ = self._prefixes(adj[pick], generator, with_next=False)
        return prefix


def ranked_starts(reward: Reward, graphs: torch.Tensor, chains: int, levels: int = 1, share: float = 1.0) -> torch.Tensor:
    """(chains, d, d) start graphs: replica r (``levels`` consecutive chains, one per temperature, as
    ``DAGChains`` lays out its ladder) starts at the r-th best distinct graph of ``graphs`` (K, d, d) by R,
    cycling when K is smaller than the number of replicas; only the first ceil(share x replicas) replicas do,
    the others start from the empty graph. Starts only place the chains (MC3 targets R from the first step)."""
    d = reward.d
    flat = torch.unique(graphs.to(torch.bool).reshape(-1, d * d), dim=0)
    if flat.shape[0] == 0:
        raise ValueError("ranked_starts needs at least one graph")
    g = flat.reshape(-1, d, d)
    g = g[torch.argsort(reward.log_reward(g.to(reward.device)).cpu(), descending=True)]
    levels = max(levels, 1)
    replicas = -(-chains // levels)
    out = g[torch.arange(replicas) % g.shape[0]]
    out[int(math.ceil(share * replicas - 1e-9)):] = False
    return out.repeat_interleave(levels, dim=0)[:chains]


def combine_transitions(*hooks: object) -> object:
    """One ``extra_transitions`` hook from several (e.g. the coverage objective and the MCMC guide): their
    transitions, concatenated, each hook called every iteration."""
    live = [h for h in hooks if h is not None]

    def hook(iteration: int, generator: torch.Generator) -> Transitions | None:
        parts = [t for t in (h(iteration, generator) for h in live) if t is not None and len(t)]  # type: ignore[operator]
        if not parts:
            return None
        dev = parts[0].adj.device
        return Transitions(torch.cat([p.adj.to(dev) for p in parts]), torch.cat([p.actions.to(dev) for p in parts]),
                           torch.cat([p.delta_log_reward.to(dev) for p in parts]))

    return hook


def combine_starts(*hooks: object) -> object:
    """One ``start_states`` hook from several: each in turn restarts some of the environments still left."""
    live = [h for h in hooks if h is not None]

    def hook(n: int, generator: torch.Generator) -> torch.Tensor | None:
        parts, left = [], n
        for h in live:
            if left <= 0:
                break
            s = h(left, generator)  # type: ignore[operator]
            if s is not None and s.shape[0]:
                parts.append(s[:left])
                left -= parts[-1].shape[0]
        return torch.cat(parts) if parts else None

    return hook
