"""The scale levers: candidate parents through the masks, the restricted policy, the log base, the MCMC guide and
its demonstrations, checkpoints with candidates, the CPU-time budget, and the device field."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from theorycov.gfn import BGeScore, ConfigError, InvalidActionError, PolicyConfig, Reward, Trainer, TrainerConfig, is_acyclic, sample
from theorycov.gfn.candidates import candidate_parents, mass_outside
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.env import DAGEnv
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.warmstart import GuideConfig, MCMCGuide, combine_starts, combine_transitions, ranked_starts


@pytest.fixture(scope="module")
def reward8() -> tuple[Reward, torch.Tensor]:
    data, truth = make_linear_gaussian_er(8, 1.5, 200, seed=4)
    return Reward(BGeScore(data.standardized())), truth


def test_candidates_are_symmetric_and_keep_the_strongest_parent(reward8: tuple[Reward, torch.Tensor]) -> None:
    reward, _ = reward8
    allowed = candidate_parents(reward, 2)
    assert torch.equal(allowed, allowed.T) and not bool(allowed.diagonal().any())
    f0 = reward.score.delta(torch.zeros(1, 8, 8, dtype=torch.bool))[0].fill_diagonal_(float("-inf"))
    best = f0.argmax(0)  # the best single parent of every node is a candidate
    assert bool(allowed[best, torch.arange(8)].all())
    extra = torch.zeros(8, 8, dtype=torch.bool)
    extra[0, 7] = True
    assert bool(candidate_parents(reward, 1, extra=extra)[7, 0])  # kept, and symmetrized
    m = torch.full((8, 8), 0.5, dtype=torch.float64)
    out = mass_outside(m, allowed)
    assert abs(out["expected_edges_outside"] - 0.5 * float((~allowed).sum())) < 1e-9


def test_restricted_policy_reads_and_scores_only_candidates(reward8: tuple[Reward, torch.Tensor]) -> None:
    reward, _ = reward8
    allowed = candidate_parents(reward, 2)
    env = DAGEnv(reward, allowed=allowed)
    pol = EdgePolicy(env, PolicyConfig(hidden=16, delta_transform="log", delta_hidden=4))
    E = int(allowed.sum())
    assert pol.input.in_features == E and pol.head.out_features == E + 1
    st = env.reset(3)
    lp = pol.log_probs(st)
    assert bool(torch.isinf(lp[:, :-1][:, ~allowed.flatten()]).all())  # never an edge outside the candidates
    assert torch.allclose(lp.exp().sum(1), torch.ones(3))
    g = sample(pol, 200, generator=torch.Generator().manual_seed(0))
    assert not bool((g & ~allowed).any()) and bool(is_acyclic(g).all())
    bad = (~allowed & ~torch.eye(8, dtype=torch.bool)).nonzero()[0]
    start = torch.zeros(8, 8, dtype=torch.bool)
    start[bad[0], bad[1]] = True
    with pytest.raises(InvalidActionError, match="candidate"):
        env.from_adjacency(start)


def test_log_base_bounds_the_untrained_policy(reward8: tuple[Reward, torch.Tensor]) -> None:
    """Untrained: logits are beta * phi(delta); with phi = log the first step is far from greedy."""
    reward, _ = reward8
    env = DAGEnv(reward)
    st = env.reset(1)
    with torch.no_grad():
        lin = EdgePolicy(env, PolicyConfig(hidden=8)).log_probs(st).exp()
        log = EdgePolicy(env, PolicyConfig(hidden=8, delta_transform="log")).log_probs(st).exp()
    f = st.features.flatten(1)  # type: ignore[union-attr]
    k = int(f.argmax())
    rev = (k % 8) * 8 + k // 8  # score equivalence: i -> j and j -> i have the same delta on the empty graph
    assert float(lin[0, k] + lin[0, rev]) > 0.99  # softmax of deltas of tens of nats: greedy
    assert float(log[0, k] + log[0, rev]) < 0.5
    x = torch.sign(f) * torch.log1p(f.abs())
    expect = torch.softmax(torch.cat([x.masked_fill(~env.action_mask(st)[:, :-1], float("-inf")), torch.zeros(1, 1)], 1), 1)
    assert torch.allclose(log, expect, atol=1e-6)
    with pytest.raises(ConfigError, match="delta_transform"):
        PolicyConfig(delta_transform="cube")


def test_guide_transitions_demonstrations_and_restarts(reward8: tuple[Reward, torch.Tensor]) -> None:
    reward, _ = reward8
    guide = MCMCGuide(reward, GuideConfig(chains=4, temperatures=(1.0, 0.5), steps=2, per_iteration=16, burn_in=50, restart_share=1.0))
    g = torch.Generator().manual_seed(0)
    t = guide(0, g)
    assert t is not None and len(t) > 0
    nxt = t.adj.clone()
    nxt[torch.arange(len(t)), t.actions // 8, t.actions % 8] = True
    assert not bool(t.adj[torch.arange(len(t)), t.actions // 8, t.actions % 8].any()) and bool(is_acyclic(nxt).all())
    assert torch.allclose(t.delta_log_reward, reward.log_reward(nxt) - reward.log_reward(t.adj))
    cold = guide.cold_graphs()
    assert cold.shape[0] == 2
    assert bool((nxt.flatten(1)[:, None, :] <= cold.flatten(1)[None]).all(-1).any(1).all())  # prefixes of a cold graph
    states, actions = guide.demonstrations(0, g)
    stop = actions == 64
    assert bool(stop.any() | (~stop).any())
    assert bool((states[stop].flatten(1)[:, None, :] == cold.flatten(1)[None]).all(-1).any(1).all())  # stop only on a whole graph
    starts = combine_starts(None, guide.start_states)(5, g)
    assert starts is not None and starts.shape[0] == 5
    both = combine_transitions(None, guide)(1, g)
    assert both is not None and len(both) > 0


def test_guide_beyond_transitions_leave_a_whole_chain_graph_by_one_valid_edge(reward8: tuple[Reward, torch.Tensor]) -> None:
    reward, _ = reward8
    allowed = candidate_parents(reward, 3)
    guide = MCMCGuide(reward, GuideConfig(chains=4, steps=2, per_iteration=64, burn_in=50, beyond=1.0), allowed=allowed, max_parents=2)
    t = guide(0, torch.Generator().manual_seed(1))
    assert t is not None and len(t) > 0
    cold = guide.cold_graphs()
    assert bool((t.adj.flatten(1)[:, None, :] == cold.flatten(1)[None]).all(-1).any(1).all())  # every state is a whole chain graph
    i, j = t.actions // 8, t.actions % 8
    nxt = t.adj.clone()
    nxt[torch.arange(len(t)), i, j] = True
    assert not bool(t.adj[torch.arange(len(t)), i, j].any()) and bool(is_acyclic(nxt).all())
    assert bool(allowed[i, j].all()) and int(nxt.sum(1).max()) <= 2  # inside the candidates and the in-degree cap
    assert torch.allclose(t.delta_log_reward, reward.log_reward(nxt) - reward.log_reward(t.adj))
    assert len(set(t.actions.tolist())) > 1  # the added edge is drawn, not fixed


def test_guide_chains_start_from_the_order_search_inside_candidates_and_cap(reward8: tuple[Reward, torch.Tensor]) -> None:
    """order_seconds > 0: every replica's levels share one start DAG drawn from an order chain; the starts
    respect the candidates and the in-degree cap, and score above the empty graph."""
    reward, _ = reward8
    allowed = candidate_parents(reward, 3)
    cfg = GuideConfig(chains=6, temperatures=(1.0, 0.5), order_seconds=0.5, order_max_size=3, seed=2)
    guide = MCMCGuide(reward, cfg, allowed=allowed, max_parents=2)
    start = guide.chains.adj  # no step taken yet: the starts themselves
    assert guide.order_info["order_steps"] > 0
    assert bool(is_acyclic(start).all()) and not bool((start & ~allowed).any())
    assert int(start.sum(1).max()) <= 2
    assert torch.equal(start[0::2], start[1::2])  # the two levels of each replica
    empty = reward.log_reward(torch.zeros(1, 8, 8, dtype=torch.bool))
    assert bool((reward.log_reward(start) > empty).all())


def test_guide_order_starts_under_a_non_modular_prior_search_the_likelihood(reward8: tuple[Reward, torch.Tensor]) -> None:
    """A prior without a per-edge term (the coverage objective's floor prior is one) cannot score orders: the
    starts come from the likelihood's order search, and the chains then score the full reward."""
    from theorycov.gfn.scores.priors import GraphPrior

    class NotModular(GraphPrior):  # a whole-graph prior: log P(G) = -0.5 * (edges)^2 / d
        def log_prob(self, adj: torch.Tensor) -> torch.Tensor:
            return -0.5 * adj.flatten(1).sum(1).double() ** 2 / adj.shape[-1]

    base, _ = reward8
    reward = Reward(base.score, NotModular())
    guide = MCMCGuide(reward, GuideConfig(chains=4, temperatures=(1.0,), order_seconds=0.3, order_max_size=2, seed=3))
    start = guide.chains.adj
    assert guide.order_info["order_steps"] > 0 and bool(is_acyclic(start).all()) and int(start.sum()) > 0
    assert torch.allclose(guide.chains.log_r, reward.log_reward(start))  # the chains' scores: the full reward


def test_ranked_starts_give_replicas_the_best_distinct_graphs_in_order(reward8: tuple[Reward, torch.Tensor]) -> None:
    """Replica r (its levels consecutive) starts at the r-th best distinct graph by R, cycling past the last."""
    reward, truth = reward8
    empty = torch.zeros(8, 8, dtype=torch.bool)
    one = empty.clone()
    one[tuple(truth.nonzero()[0].tolist())] = True
    pool = torch.stack([empty, truth, one, truth])  # truth twice: counted once
    lr = reward.log_reward(torch.stack([truth, one, empty]))
    assert bool(lr[0] > lr[1] > lr[2])  # the order the starts must follow
    start = ranked_starts(reward, pool, chains=8, levels=2)  # 4 replicas over 3 distinct graphs
    assert start.shape == (8, 8, 8)
    for r, want in enumerate([truth, one, empty, truth]):
        assert torch.equal(start[2 * r], want) and torch.equal(start[2 * r + 1], want)
    half = ranked_starts(reward, pool, chains=8, levels=2, share=0.5)  # the first 2 of 4 replicas from the pool
    assert torch.equal(half[:4], start[:4]) and not bool(half[4:].any())
    with pytest.raises(ValueError, match="at least one graph"):
        ranked_starts(reward, torch.zeros(0, 8, 8, dtype=torch.bool), chains=4)


def test_guide_chains_start_at_the_pool_unless_the_order_search_places_them(reward8: tuple[Reward, torch.Tensor]) -> None:
    """start_pool: the chains begin at its graphs instead of the empty graph (a pool_share of the replicas, the
    rest from the empty graph); with order_seconds > 0 the order
    search's DAGs (a posterior sample over orders) place the chains and the pool (modes) is not used."""
    reward, truth = reward8
    guide = MCMCGuide(reward, GuideConfig(chains=4, temperatures=(1.0, 0.5), seed=1, pool_share=1.0), start_pool=truth[None])
    assert torch.equal(guide.chains.adj, truth.expand(4, 8, 8))
    assert torch.allclose(guide.chains.log_r, reward.log_reward(truth[None]).expand(4))
    half = MCMCGuide(reward, GuideConfig(chains=8, temperatures=(1.0, 0.5), seed=1), start_pool=truth[None])  # default 0.5
    assert torch.equal(half.chains.adj[:4], truth.expand(4, 8, 8)) and not bool(half.chains.adj[4:].any())
    wide = torch.zeros(8, 8, dtype=torch.bool)
    wide[:6, 7] = True  # six parents: no DAG of an order search with at most 3 parents per node
    cfg = GuideConfig(chains=6, temperatures=(1.0, 0.5), order_seconds=0.3, order_max_size=3, seed=2)
    guide = MCMCGuide(reward, cfg, start_pool=wide[None])
    assert guide.order_info["order_steps"] > 0 and int(guide.chains.adj.sum()) > 0
    assert int(guide.chains.adj.sum(1).max()) <= 3  # every start from the order search, none from the pool


def test_trainer_with_candidates_guide_and_nll_resumes_exactly(reward8: tuple[Reward, torch.Tensor], tmp_path: Path) -> None:
    reward, _ = reward8
    cfg = TrainerConfig(seed=1, num_iterations=40, num_envs=4, batch_size=16, prefill=32, progress=False, log_every=10,
                        candidates=2, nll_weight=1.0, nll_decay_iters=20, device="cpu", policy=PolicyConfig(hidden=16, delta_transform="log"))

    def build() -> Trainer:
        tr = Trainer(cfg, reward)
        guide = MCMCGuide(reward, GuideConfig(chains=4, per_iteration=8, seed=3), allowed=tr.env.allowed)
        tr.extra_transitions, tr.demonstrations = guide, guide.demonstrations
        return tr

    a = build()
    a.train(num_iterations=40)
    assert a.nll_weight(10) == 0.5 and a.nll_weight(30) == 0.0
    b = build()
    b.train(num_iterations=20)
    b.save(tmp_path / "ck.pt")
    c = Trainer.load(tmp_path / "ck.pt", reward)
    assert torch.equal(c.env.allowed, b.env.allowed)  # type: ignore[arg-type]
    c.train(num_iterations=20)  # no hooks on resume: the unhooked tail differs, but it runs and stays inside the candidates
    assert c.iteration == 40
    assert not bool((c.state.adj & ~c.env.allowed).any())  # type: ignore[operator]
    d = build()
    d.train(num_iterations=10**6, max_cpu_seconds=0.5)
    assert d.train_cpu_seconds >= 0.5 and d.iteration < 10**6


def test_trainer_drops_hook_transitions_and_starts_outside_the_candidates(reward8: tuple[Reward, torch.Tensor]) -> None:
    """A hook (a theory's hill-climbed completion) may hand over graphs outside the screen: the masked policy gives
    them probability 0, so they are dropped instead of reaching the loss as -inf."""
    from theorycov.gfn.replay import Transitions

    reward, _ = reward8
    allowed = candidate_parents(reward, 1)
    out = (~allowed & ~torch.eye(8, dtype=torch.bool)).nonzero()
    inside = allowed.nonzero()
    assert out.shape[0] and inside.shape[0] >= 2
    empty = torch.zeros(8, 8, dtype=torch.bool)
    bad_state = empty.clone()
    bad_state[out[0, 0], out[0, 1]] = True
    states = torch.stack([empty, empty, bad_state])
    i0, j0 = inside[0].tolist()
    i1, j1 = inside[1].tolist()
    actions = torch.tensor([i0 * 8 + j0, int(out[0, 0]) * 8 + int(out[0, 1]), i1 * 8 + j1])  # in, edge out, state out
    delta = reward.delta_edges(states, actions // 8, actions % 8)
    calls = []

    def hook(it: int, gen: torch.Generator) -> Transitions:
        calls.append(it)
        return Transitions(states, actions, delta)

    def starts(n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.stack([bad_state] * n)

    cfg = TrainerConfig(seed=0, num_iterations=5, num_envs=4, batch_size=8, prefill=8, progress=False, policy=PolicyConfig(hidden=8))
    tr = Trainer(cfg, reward, extra_transitions=hook, start_states=starts, allowed=allowed)
    kept = tr._inside_candidates(hook(0, tr.generator))
    assert len(kept) == 1 and int(kept.actions[0]) == i0 * 8 + j0
    tr.train(num_iterations=5)
    assert all(torch.isfinite(torch.tensor(tr.losses)))
    assert not bool((tr.buffer.sample(64, torch.Generator().manual_seed(0)).adj & ~allowed).any())
    assert not bool((tr.state.adj & ~allowed).any())


def test_guide_records_the_cold_chains_visits_after_burn_in(reward8: tuple[Reward, torch.Tensor]) -> None:
    """VisitRecord: one visit per cold chain per step after burn-in, graphs unpacked exactly with their log R;
    nothing recorded during burn-in; beyond capacity new graphs are only counted as dropped."""
    from theorycov.gfn.warmstart import VisitRecord

    reward, _ = reward8
    guide = MCMCGuide(reward, GuideConfig(chains=4, temperatures=(1.0, 0.5), steps=3, per_iteration=8, burn_in=20))
    assert guide.visits.visits == 0 and len(guide.visits) == 0
    g = torch.Generator().manual_seed(0)
    for it in range(5):
        guide(it, g)
    assert guide.visits.visits == 5 * 3 * 2  # iterations x steps x cold chains
    graphs, counts, log_r = guide.visits.graphs()
    assert int(counts.sum()) == 30 and graphs.shape[0] == len(guide.visits) == torch.unique(graphs.flatten(1), dim=0).shape[0]
    assert torch.allclose(log_r, reward.log_reward(graphs), atol=1e-6)
    last = guide.cold_graphs()
    assert all(bool((graphs == c).flatten(1).all(1).any()) for c in last)  # the current states are among them
    small = VisitRecord(8, capacity=1)
    small.add(last, reward.log_reward(last))
    small.add(last, reward.log_reward(last))
    assert len(small) == 1 and small.visits == 2 * last.shape[0] and small.dropped == 2 * (last.shape[0] - int((last == last[0]).flatten(1).all(1).sum()))


def test_reservoir_keeps_a_uniform_sample_of_the_stream() -> None:
    """Algorithm R: after a stream of 200 graphs into 20 places, every graph is held with probability 0.1,
    early or late (over 300 seeds, binomial sd 0.017 per position)."""
    from theorycov.gfn.warmstart import Reservoir

    stream = torch.zeros(200, 8, 8, dtype=torch.bool)
    for k in range(200):  # graph k encodes k in its first row and a second
        stream[k, 0] = torch.tensor([(k >> b) & 1 for b in range(8)], dtype=torch.bool)
    held = torch.zeros(200)
    for seed in range(300):
        r = Reservoir(20, 8, seed=seed)
        r.add(stream[:70])
        r.add(stream[70:])
        assert len(r) == 20 and r.seen == 200
        codes = (r.graphs()[:, 0].long() << torch.arange(8)).sum(1)
        assert len(set(codes.tolist())) == 20  # a sample without repeats
        held[codes] += 1
    share = held / 300
    assert abs(float(share[:100].mean()) - 0.1) < 0.01 and abs(float(share[100:].mean()) - 0.1) < 0.01
    assert float(share.max()) < 0.2


def test_guide_demonstrations_come_from_the_reservoir_of_past_cold_states(reward8: tuple[Reward, torch.Tensor]) -> None:
    """reservoir > 0: the demonstrations are prefixes of graphs the cold chains held after burn-in (not only of
    their current graphs), with the stop action exactly where the prefix is a whole held graph."""
    reward, _ = reward8
    guide = MCMCGuide(reward, GuideConfig(chains=2, steps=3, per_iteration=256, burn_in=20, reservoir=50, seed=4))
    assert len(guide.reservoir) == 0  # burn-in is not recorded
    gen = torch.Generator().manual_seed(0)
    for it in range(40):
        guide(it, gen)
    held = guide.reservoir.graphs()
    assert len(guide.reservoir) == 50 and guide.reservoir.seen == 40 * 3 * 2
    prefix, action = guide.demonstrations(40, gen)
    inside = (prefix.flatten(1)[:, None, :] & ~held.flatten(1)[None]).any(-1).logical_not()  # prefix <= held graph
    assert bool(inside.any(1).all())
    stop = action == 64
    whole = (prefix.flatten(1)[:, None, :] == held.flatten(1)[None]).all(-1).any(1)
    assert bool(whole[stop].all()) and bool(stop.any())
    current = (prefix.flatten(1)[:, None, :] == guide.cold_graphs().flatten(1)[None]).all(-1).any(1)
    assert bool((stop & ~current).any())  # whole graphs from the chains' past, not only their present


def test_guide_history_draws_transitions_from_the_reservoir(reward8: tuple[Reward, torch.Tensor]) -> None:
    """history: every injected transition G -> G + e lies inside a graph of the reservoir (the chains' past), and some
    lie inside none of the chains' current graphs; the exact delta log R of each transition is kept."""
    reward, _ = reward8
    guide = MCMCGuide(reward, GuideConfig(chains=2, steps=3, per_iteration=256, burn_in=20, reservoir=50, history=True, seed=4))
    gen = torch.Generator().manual_seed(0)
    for it in range(40):
        t = guide(it, gen)
    assert t is not None and len(t) > 0
    nxt = t.adj.flatten(1).clone()
    nxt[torch.arange(len(t)), t.actions] = True  # the next state of each transition
    within = lambda held: (nxt[:, None, :] & ~held.flatten(1)[None]).any(-1).logical_not().any(1)  # noqa: E731
    assert bool(within(guide.reservoir.graphs()).all())
    assert bool((~within(guide.cold_graphs())).any())
    i, j = t.actions // 8, t.actions % 8
    assert torch.allclose(t.delta_log_reward, reward.delta_edges(t.adj, i, j))


def test_guide_history_without_a_reservoir_is_refused() -> None:
    with pytest.raises(ConfigError, match="reservoir > 0"):
        GuideConfig(history=True)
