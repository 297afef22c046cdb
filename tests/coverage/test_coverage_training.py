"""Coverage training on d = 4, checked exactly: every non-refuted hypothesis is covered by the policy's
exact terminal distribution, the planted false theory is refuted, and no hypothesis is inflated."""
from __future__ import annotations

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.masses import exact_masses
from theorycov.coverage.objective import CoverageConfig, CoverageObjective
from theorycov.coverage.prior import FloorPrior
from theorycov.coverage.train import CoverageTraining
from theorycov.gfn import BGeScore, PolicyConfig, Reward, Trainer, TrainerConfig, enumerate_dags, exact_terminal_distribution, sample
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.graphs import graph_codes


@pytest.mark.slow
def test_coverage_training_exact_d4() -> None:
    data, true = make_linear_gaussian_er(4, 1.0, 100, seed=5)
    names = list(data.names)
    edges = true.nonzero().tolist()
    (a, b) = edges[0]
    dags = enumerate_dags(4)
    post0 = torch.softmax(Reward(BGeScore(data)).log_reward(dags), 0)
    # a low-mass but not refuted edge: the non-edge whose marginal is smallest yet above 1%
    marg = (post0[:, None, None] * dags.to(torch.float64)).sum(0)
    cand = [(i, j) for i in range(4) for j in range(4) if i != j and not true[i, j] and not true[j, i] and 0.01 < float(marg[i, j])]
    low = min(cand, key=lambda e: float(marg[e])) if cand else (b, a)
    hyps = [
        Hypothesis((Constraint(names[a], names[b], sign=1),)),
        Hypothesis((Constraint(names[low[0]], names[low[1]]),)),
        Hypothesis((Constraint(names[a], names[b], path=True, forbidden=True), Constraint(names[b], names[a], path=True, forbidden=True))),
    ]
    cs = ConstraintSet(hyps, names)
    prior = FloorPrior(cs, torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64), lam=0.1, dags=dags)
    reward = Reward(BGeScore(data), prior)
    p = exact_masses(reward.log_reward(dags), cs.satisfies(dags)).p
    prior_h = (prior.log_prob(dags).exp()[:, None] * cs.satisfies(dags)).sum(0)
    refuted = p < 0.1 * prior_h
    assert refuted.tolist() == [False, False, True], (p, prior_h)
    cfg = TrainerConfig(seed=0, num_iterations=1500, num_envs=32, batch_size=256, prefill=256, eps_decay_iters=500,
                        warmup_iters=50, progress=False, policy=PolicyConfig(hidden=64, num_layers=2))
    objective = CoverageObjective(reward, cs, CoverageConfig.budgeted())
    trainer = Trainer(cfg, reward, extra_transitions=objective)
    hist = CoverageTraining(trainer, cs, objective, p_reference=p, refuted=refuted, audit_every=500, n_samples=256).run()
    pt = exact_terminal_distribution(trainer.policy, dags)
    q = (pt[:, None] * cs.satisfies(dags)).sum(0)
    for h in range(2):
        assert float(q[h]) >= 0.9 * float(p[h]), (h, q, p)
    assert bool((q <= p + 0.02).all()), (q, p)  # no inflation beyond the tolerance
    assert hist.first_hit[0] is not None and hist.curve[-1][1] == 1.0
    # all covered: the objective is idle (covered_priority 0), so it costs no reward evaluations
    objective.set_under_covered(torch.zeros(3, dtype=torch.bool))
    assert objective(0, torch.Generator().manual_seed(1)) is None
    # the human trajectories of an under-covered hypothesis are real transitions of the DAG environment
    objective.set_under_covered(torch.tensor([True, False, False]))
    extra = objective(0, torch.Generator().manual_seed(1))
    assert extra is not None and 1 <= len(extra) <= 16  # completions with no edges give no transition
    trainer.buffer.add(extra, validate=True)


def test_restarts_begin_inside_the_under_covered_region() -> None:
    """start_states: prefixes of completions of the under-covered theory only; none when the share is 0."""
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=1)
    names = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1]), Constraint(names[1], names[2]))),
                        Hypothesis((Constraint(names[3], names[0]),))], names)
    reward = Reward(BGeScore(data))
    obj = CoverageObjective(reward, cs, CoverageConfig.budgeted(restart_share=1.0))
    obj.set_under_covered(torch.tensor([True, False]))
    starts = obj.start_states(64, torch.Generator().manual_seed(0))
    assert starts is not None and starts.shape == (64, 4, 4)
    pool = obj.pools[0]  # every start is a subgraph of some completion of theory 0
    inside = (starts[:, None] & ~pool[None]).flatten(2).any(-1).logical_not().any(1)
    assert bool(inside.all())
    assert bool(starts.flatten(1).any(1).any())  # not all empty: prefixes of length 0..m
    assert CoverageObjective(reward, cs).start_states(64, torch.Generator()) is None  # default: no restarts


def test_pool_draws_follow_the_reward_within_the_pool() -> None:
    """pool_draw="reward": a completion is replayed ∝ R(G) among its pool (the posterior restricted to the
    pool), "uniform": each distinct graph alike. Checked on a whole region at d = 4 against exact frequencies."""
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=1)
    names = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1]),))], names)
    reward = Reward(BGeScore(data))
    dags = enumerate_dags(4)
    region = dags[cs.satisfies(dags)[:, 0]]
    lr = reward.log_reward(region)
    for mode in ("reward", "uniform"):
        obj = CoverageObjective(reward, cs, CoverageConfig(pool_draw=mode, pool_size=10_000))
        obj.add_completions(0, region)  # the whole region joins the pool (pinned entries are not duplicated)
        pool_lr = obj.pool_log_r[0]
        assert obj.pools[0].shape[0] == region.shape[0]
        assert torch.allclose(pool_lr, reward.log_reward(obj.pools[0]))
        draws = obj._draw_completions(torch.ones(1, dtype=torch.float64), 20_000, torch.Generator().manual_seed(3))
        best = obj.pools[0][int(torch.argmax(pool_lr))]
        share = float((draws == best).flatten(1).all(1).to(torch.float64).mean())
        expected = float(torch.softmax(pool_lr, 0).max()) if mode == "reward" else 1.0 / region.shape[0]
        assert abs(share - expected) < 4 * (expected * (1 - expected) / 20_000) ** 0.5 + 1e-3, (mode, share, expected)
    assert float(torch.softmax(lr, 0).max()) > 5.0 / region.shape[0]  # the two modes differ, so the test can fail
    with pytest.raises(ValueError, match="pool_draw"):
        CoverageObjective(reward, cs, CoverageConfig(pool_draw="best"))


def _reach_setup(trained: int):  # noqa: ANN202
    """Two one-edge theories at d = 4, a trainer after ``trained`` iterations (0: untrained), its objective, and
    ratio(): (2,) exact P_T / p(G|D) of the objective's current best completions (an audit may update them)."""
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=1)
    names = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1]),)), Hypothesis((Constraint(names[2], names[3]),))], names)
    reward = Reward(BGeScore(data))
    dags = enumerate_dags(4)
    trainer = Trainer(TrainerConfig(seed=0, num_iterations=max(trained, 10), progress=False, prefill=64), reward)
    if trained:
        trainer.train()
    obj = CoverageObjective(reward, cs, CoverageConfig.budgeted())
    pt = exact_terminal_distribution(trainer.policy, dags)
    post = torch.softmax(reward.log_reward(dags), 0)
    codes = {c: i for i, c in enumerate(graph_codes(dags).tolist())}

    def ratio() -> torch.Tensor:
        idx = torch.tensor([codes[c] for c in graph_codes(torch.stack(obj.best)).tolist()])
        return pt[idx] / post[idx]

    return cs, dags, trainer, obj, ratio


def test_running_audit_flags_an_under_weighted_best_completion() -> None:
    """The running audit boosts h when P_T(G*_h) < reach_ratio * p(G*_h|D), exactly at d = 4; checked
    against the same ratio computed by hand at thresholds above, below and between the two theories'."""
    cs, dags, trainer, obj, ratio = _reach_setup(0)
    r0 = ratio()
    assert float(r0.max()) > 1.2 * float(r0.min())  # the two completions differ, so the middle case splits them
    for pick in (lambda r: float(r.max()) * 1.01, lambda r: float(r.min()) * 0.99, lambda r: float((r.max() * r.min()).sqrt())):
        r = ratio()
        run = CoverageTraining(trainer, cs, obj, exact_graphs=dags, reach_ratio=pick(r),
                               p_reference=torch.zeros(2, dtype=torch.float64))  # p = 0: only the completion check can fire
        assert run.running_audit().tolist() == (r < pick(r)).tolist()


def test_running_audit_reach_check_by_importance_sampling() -> None:
    """Without every DAG and without reference masses (the d > 5 path), the reach check takes P_T(G*_h) from
    backward trajectories and p(G*_h|D) = R(G*_h) / Z with Z by importance sampling over the audit's draws; on
    a trained d = 4 policy it agrees with the exact ratio at thresholds a factor 2 either side of every
    theory's. (On a barely trained policy the 8-order estimates are far off: bench/pt_backward_bias.py.)"""
    cs, _, trainer, obj, ratio = _reach_setup(1000)
    for factor, expected in ((0.5, [False, False]), (2.0, [True, True])):
        r = ratio()
        reach = factor * float(r.min() if factor < 1 else r.max())
        run = CoverageTraining(trainer, cs, obj, reach_ratio=reach, n_samples=4096, seed=3,
                               target_eps=1.0)  # (1 - target_eps) p = 0: only the completion check can fire
        assert run.running_audit().tolist() == expected, (reach, r)


def test_pool_log_rewards_stay_aligned_through_eviction() -> None:
    """The pool's log R travels with its graphs through new bests, deduplication and reservoir eviction."""
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=2)
    names = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1]),))], names)
    reward = Reward(BGeScore(data))
    obj = CoverageObjective(reward, cs, CoverageConfig(pool_size=40))
    dags = enumerate_dags(4)
    gen = torch.Generator().manual_seed(0)
    for it in range(6):
        g = dags[torch.randint(dags.shape[0], (300,), generator=gen)]
        # every other call with the log R its caller scored once (the audit's), unfiltered: the same pool values
        obj.add_completions(0, g, reward.log_reward(g) if it % 2 else None)
        assert obj.pools[0].shape[0] == 40
        assert torch.allclose(obj.pool_log_r[0], reward.log_reward(obj.pools[0]))


def test_audit_completions_are_drawn_per_theory_from_its_own_edges() -> None:
    """One batched rollout serves every theory: each theory's k completions contain its own edges, and a theory
    whose edges break the sampler's in-degree cap is skipped, not drawn (nor does it stop the others)."""
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=1)
    n = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(n[0], n[1]),)), Hypothesis((Constraint(n[0], n[2]), Constraint(n[1], n[2]))),
                        Hypothesis((Constraint(n[3], n[2]),))], n)  # the middle one needs 2 parents of n[2]
    reward = Reward(BGeScore(data))
    trainer = Trainer(TrainerConfig(seed=0, num_iterations=10, progress=False, prefill=64, max_parents=1), reward)
    obj = CoverageObjective(reward, cs, CoverageConfig.budgeted())
    seen: dict[int, torch.Tensor] = {}
    obj.add_completions = lambda h, g: seen.__setitem__(h, g)  # type: ignore[method-assign]
    CoverageTraining(trainer, cs, obj, completions_per_audit=5)._sample_completions(trainer.policy)
    assert sorted(seen) == [0, 2]
    for h, g in seen.items():
        assert g.shape == (5, 4, 4) and bool((g >= cs.edges(h)).all())


def test_best_completions_are_the_theories_exact_argmaxes_best_first() -> None:
    """best_completions (the MC3 guide's start pool at scale): at d = 4 each theory's best completion is the
    argmax of R over every DAG satisfying it; the pool holds them once each, best R first, and leaves out a
    completion with an edge outside ``allowed`` or a node above ``max_parents`` parents."""
    data, _ = make_linear_gaussian_er(4, 1.0, 100, seed=2)
    names = list(data.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1]),)), Hypothesis((Constraint(names[2], names[3]),)),
                        Hypothesis((Constraint(names[0], names[3]), Constraint(names[1], names[3]), Constraint(names[2], names[3])))],
                       names)
    reward = Reward(BGeScore(data))
    dags = enumerate_dags(4)
    lr, sat = reward.log_reward(dags), cs.satisfies(dags)
    obj = CoverageObjective(reward, cs, CoverageConfig(restarts=4))
    best = torch.stack([lr[sat[:, h]].max() for h in range(3)])  # ties among Markov-equivalent members: compare R
    assert torch.allclose(obj.best_log_r, best)
    pool = obj.best_completions()
    assert pool.shape[0] == torch.unique(torch.stack(obj.best).flatten(1), dim=0).shape[0]
    assert all(any(torch.equal(g, b) for g in pool) for b in obj.best)
    pool_lr = reward.log_reward(pool)
    assert bool((pool_lr[:-1] >= pool_lr[1:]).all())
    assert not any(int(g.sum(0).max()) > 2 for g in obj.best_completions(max_parents=2))  # theory 2 needs 3 parents of X3
    allowed = ~torch.eye(4, dtype=torch.bool)
    allowed[0, 1] = False  # theory 0's required edge is outside: its completion is left out
    assert not bool(obj.best_completions(allowed)[:, 0, 1].any())


def test_scored_reference_never_steers_the_objective() -> None:
    """``p_scored`` (a benchmark's external reference) scores the running audit's covered share but leaves the
    under-covered set, which steers the objective, to the sampler's own importance estimate; a p_scored that
    marks every theory under-covered changes the curve and not the steering."""
    data, true = make_linear_gaussian_er(4, 1.0, 60, seed=3)
    names = list(data.names)
    (a, b) = true.nonzero().tolist()[0]
    hyps = [Hypothesis((Constraint(names[a], names[b]),)), Hypothesis((Constraint(names[b], names[a]),))]
    cs = ConstraintSet(hyps, names)
    reward = Reward(BGeScore(data))
    cfg = TrainerConfig(seed=0, num_iterations=1, num_envs=8, batch_size=16, prefill=16, progress=False,
                        policy=PolicyConfig(hidden=16, num_layers=1))
    unders, shares = [], []
    for scored in (None, torch.ones(2, dtype=torch.float64)):
        trainer = Trainer(cfg, reward, extra_transitions=(obj := CoverageObjective(reward, cs, CoverageConfig.budgeted())))
        run = CoverageTraining(trainer, cs, obj, p_scored=scored, n_samples=64, seed=1)
        unders.append(run.running_audit())
        shares.append(run.history.curve[-1][1])
    assert torch.equal(unders[0], unders[1])
    # the same figures given as p_reference (exact, steering) would have marked both under-covered
    trainer = Trainer(cfg, reward, extra_transitions=(obj := CoverageObjective(reward, cs, CoverageConfig.budgeted())))
    assert CoverageTraining(trainer, cs, obj, p_reference=torch.ones(2, dtype=torch.float64), n_samples=64, seed=1).running_audit().all()
    assert shares[1] == 0.0  # q + tol < 0.9 for both theories: no 64-draw sample puts mass ~1 on both directions
    with pytest.raises(ValueError, match="not both"):
        CoverageTraining(trainer, cs, obj, p_reference=torch.ones(2), p_scored=torch.ones(2))
    # without an objective nothing is steered: the audit scores against p_scored, with no importance estimate
    plain = CoverageTraining(Trainer(cfg, reward), cs, None, p_scored=torch.ones(2, dtype=torch.float64), n_samples=64, seed=1)
    plain.running_audit()
    assert plain.history.curve[-1][1] == 0.0 and plain.history.steering == []


def test_chain_visits_steer_the_objective_and_feed_its_pools() -> None:
    """With an MC3 guide's visits, the running audit estimates p(h|D) by their visit frequencies: nine visits of a
    graph with a -> b and one of a graph with b -> a give p = (0.9, 0.1), so only the first theory is under-covered
    for an untrained sampler; the visited graphs join the pools of the theories they satisfy, and a later audit
    counts the new visits (each distinct graph's satisfaction computed once)."""
    from theorycov.gfn.visits import VisitRecord
    data, true = make_linear_gaussian_er(4, 1.0, 60, seed=3)
    names = list(data.names)
    (a, b) = true.nonzero().tolist()[0]
    cs = ConstraintSet([Hypothesis((Constraint(names[a], names[b]),)), Hypothesis((Constraint(names[b], names[a]),))], names)
    reward = Reward(BGeScore(data))
    cfg = TrainerConfig(seed=0, num_iterations=1, num_envs=8, batch_size=16, prefill=16, progress=False,
                        policy=PolicyConfig(hidden=16, num_layers=1))
    trainer = Trainer(cfg, reward, extra_transitions=(obj := CoverageObjective(reward, cs, CoverageConfig.budgeted())))
    fwd = torch.zeros(1, 4, 4, dtype=torch.bool)
    fwd[0, a, b] = True
    fwd[0, 2 if 2 not in (a, b) else 3, 0 if 0 not in (a, b) else 1] = True  # a second edge: not a pinned completion
    rev = fwd.clone()
    rev[0, a, b], rev[0, b, a] = False, True
    visits = VisitRecord(4, 100)
    visits.add(torch.cat([fwd.expand(9, 4, 4), rev]), reward.log_reward(torch.cat([fwd.expand(9, 4, 4), rev])))
    run = CoverageTraining(trainer, cs, obj, visits=visits, n_samples=256, seed=1, reach_ratio=0.0)
    q = cs.satisfies(sample(trainer.policy, 4096, generator=torch.Generator().manual_seed(0))).double().mean(0)
    assert 0.1 < float(q[0]) < 0.8 and float(q[1]) > 0.15, q  # an untrained sampler: under 0.9, over 0.1
    under = run.running_audit()
    assert run.history.steering[-1][1] == [0.9, 0.1]
    assert under.tolist() == [True, False]
    assert any(torch.equal(g, fwd[0]) for g in obj.pools[0]) and any(torch.equal(g, rev[0]) for g in obj.pools[1])
    visits.add(rev.expand(10, 4, 4), reward.log_reward(rev.expand(10, 4, 4)))
    run.running_audit()
    assert run.history.steering[-1][1] == [0.45, 0.55] and run._visit_sat.shape == (2, 2)
