"""fit_posterior end to end on d = 4: trained, sampled with log P_T, audited; the sample round-trips."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.posterior import FitConfig, PosteriorSample, fit_posterior
from theorycov.gfn import BGeScore, PolicyConfig, Reward, TrainerConfig
from theorycov.gfn.data import make_linear_gaussian_er


def test_fit_posterior_small(tmp_path: Path) -> None:
    data, true = make_linear_gaussian_er(4, 1.0, 100, seed=5)
    a, b = true.nonzero()[0].tolist()
    hyps = [Hypothesis((Constraint(data.names[a], data.names[b], sign=1),))]
    cfg = FitConfig(
        minutes=None, n_samples=500, n_traj=8, audit_every=200,
        trainer=TrainerConfig(num_iterations=400, num_envs=16, batch_size=128, prefill=128, warmup_iters=20,
                              eps_decay_iters=200, progress=False, policy=PolicyConfig(hidden=32)),
    )
    res = fit_posterior(data, hyps, config=cfg, run_dir=tmp_path / "run", domain="toy")
    assert res.trainer.iteration == 400
    # d <= 5: the guard's sample is every DAG with its exact posterior weight
    assert res.sample.exact and res.sample.graphs.shape[0] == 543 and int(res.sample.counts.sum()) == 543
    assert res.report is not None and res.report.exact and len(res.report.rows) == 1
    assert res.history is not None and res.history.curve[0][0] == 0
    assert (tmp_path / "run" / "config.json").is_file()
    res.sample.save(tmp_path / "post.pt")
    back = PosteriorSample.load(tmp_path / "post.pt")
    assert torch.equal(back.graphs, res.sample.graphs) and back.names == res.sample.names
    assert torch.isfinite(back.log_weight).all()


def test_running_audit_fires_when_cadences_do_not_divide() -> None:
    from theorycov.coverage.constraints import ConstraintSet
    from theorycov.coverage.train import CoverageTraining
    from theorycov.gfn import BGeScore, Reward, Trainer

    data, true = make_linear_gaussian_er(3, 1.0, 50, seed=1)
    a, b = true.nonzero()[0].tolist() if bool(true.any()) else (0, 1)
    cs = ConstraintSet([Hypothesis((Constraint(data.names[a], data.names[b]),))], list(data.names))
    tr = Trainer(TrainerConfig(num_iterations=350, num_envs=8, batch_size=32, prefill=32, log_every=100, progress=False,
                               policy=PolicyConfig(hidden=16)), Reward(BGeScore(data)))
    hist = CoverageTraining(tr, cs, None, audit_every=150, n_samples=32).run()
    assert [it for it, _ in hist.curve] == [0, 200, 350]  # audits after >= 150 iterations, then at the end


def test_fit_posterior_above_the_exact_sizes_screens_edges_and_runs_the_guide(caplog: pytest.LogCaptureFixture) -> None:
    """From d = FitConfig.scale_from on: candidate parents with every theory's pairs kept, and the MC3 guide's
    transitions in the buffer, its chains started at the theory's best completion (CoverageConfig.guide_starts);
    the draws stay inside the screen and the theory stays buildable."""
    import logging
    from dataclasses import replace

    from theorycov.gfn.candidates import candidate_parents
    from theorycov.gfn.warmstart import GuideConfig

    data, _ = make_linear_gaussian_er(12, 1.0, 200, seed=2)
    data = data.standardized()
    cfg = FitConfig(
        minutes=None, n_samples=200, n_traj=2, audit_every=20, candidates=1, prior_samples=500,
        guide=GuideConfig(chains=4, steps=1, per_iteration=8, burn_in=20),
        trainer=TrainerConfig(num_iterations=40, num_envs=8, batch_size=32, prefill=32, warmup_iters=5, progress=False,
                              policy=PolicyConfig(hidden=16)),
    )
    plain = candidate_parents(Reward(BGeScore(data)), 1)
    a, b = (~plain & ~torch.eye(12, dtype=torch.bool)).nonzero()[0].tolist()  # a pair the screen alone drops
    hyps = [Hypothesis((Constraint(data.names[a], data.names[b], sign=1),))]
    with caplog.at_level(logging.INFO, logger="theorycov.coverage"):
        res = fit_posterior(data, hyps, config=cfg)
    assert "MC3 guide of 4 chains, started at the best of 1 theory completions" in caplog.text
    allowed = res.trainer.env.allowed
    assert allowed is not None and bool(allowed[a, b]) and bool(allowed[b, a])
    assert not bool((res.sample.graphs & ~allowed).any())
    assert res.trainer.iteration == 40
    # the steering's p(h|D) is the guide's visit frequency (4 cold chains, one step an iteration): 160 visits at the end
    assert res.history is not None and len(res.history.steering) >= 2
    assert "(p(h|D) 160 chain visits)" in caplog.text
    never = fit_posterior(data, hyps, config=replace(cfg, scale_from=13))
    assert never.trainer.env.allowed is None
    assert never.sample.weighting == "snis"


def test_fit_posterior_above_the_exact_sizes_weighs_the_found_graphs_by_reward(tmp_path: Path) -> None:
    """FitConfig.weights = "reward": the guard's set is the GFlowNet's draws, the theory's completions and the
    MC3 guide's visits within support_nats of the best, each once, weighted by R (log_weight = log R); the
    draws keep their counts; the set round-trips through a saved run; "snis" keeps the draws-only weights."""
    from dataclasses import replace

    from theorycov.coverage.guard.guard import GuardConfig
    from theorycov.coverage.run import FittedRun
    from theorycov.gfn.occam import OccamConfig
    from theorycov.gfn.warmstart import GuideConfig

    data, true = make_linear_gaussian_er(12, 1.0, 200, seed=2)
    data = data.standardized()
    a, b = true.nonzero()[0].tolist()
    cfg = FitConfig(
        minutes=None, n_samples=100, n_traj=2, audit_every=20, candidates=4, prior_samples=500, support_nats=30.0, equivalents=16,
        occam=OccamConfig(window=5.0, rounds=10, frontier=4), guide=GuideConfig(chains=4, steps=2, per_iteration=8, burn_in=50),
        trainer=TrainerConfig(num_iterations=30, num_envs=8, batch_size=32, prefill=32, warmup_iters=5, progress=False,
                              policy=PolicyConfig(hidden=16)),
    )
    hyps = [Hypothesis((Constraint(data.names[a], data.names[b], sign=1),))]
    res = fit_posterior(data, hyps, config=cfg)
    post = res.sample
    assert post.weighting == "reward" and not post.exact
    assert torch.equal(post.log_weight, post.log_reward.to(torch.float64))
    n_u = torch.unique(post.graphs.flatten(1), dim=0).shape[0]
    assert n_u == post.graphs.shape[0]  # each graph once
    drawn = post.counts > 0
    assert int(post.counts.sum()) == 100 and int(drawn.sum()) < post.graphs.shape[0]  # MC3 visits joined the draws
    reward = res.reward
    assert torch.allclose(reward.log_reward(post.graphs), post.log_reward, atol=1e-6)  # R of every row, recomputed
    best = float(post.log_reward.max())
    visited_only = ~drawn & ~res.theories.constraints.satisfies(post.graphs).any(1)
    assert bool((post.log_reward[visited_only] >= best - 30.0).all())
    # equivalents: the best graph's Markov-equivalent members (one covered reversal away) are in the set too
    from theorycov.gfn.graphs import covered_edges

    top = post.graphs[post.log_reward.argmax()]
    i, j = covered_edges(top[None])[0].nonzero()[0].tolist()
    twin = top.clone()
    twin[i, j], twin[j, i] = False, True
    assert bool((post.graphs == twin).flatten(1).all(1).any())
    # Occam's window: every single-edge neighbour of the best graph within 5 nats of it (inside the candidate mask
    # and the in-degree cap) is in the set, with its exact R (checked above for every row)
    from theorycov.gfn.occam import _moves

    new, lr = _moves(top, best, reward, res.trainer.env.allowed, res.trainer.env.max_parents)
    rows = {r.tobytes() for r in post.graphs.flatten(1).numpy()}
    assert int((lr >= best - 5.0).sum()) > 0
    assert all(r.tobytes() in rows for r in new[lr >= best - 5.0].flatten(1).numpy())
    guard = res.guard(config=GuardConfig(theory_level=None))
    assert guard.log_weight.shape == post.log_reward.shape  # the guard merges nothing: the rows are distinct
    assert torch.allclose(torch.softmax(guard.log_weight, 0).sort().values, torch.softmax(post.log_reward.to(torch.float64), 0).sort().values,
                          atol=1e-12)
    assert bool((guard.counts == 1).all())  # reward-weighted rows are graphs, not draws, for the SNIS variance
    res.save(tmp_path / "run")
    back = FittedRun.load(tmp_path / "run")
    assert back.sample.weighting == "reward" and torch.equal(back.sample.log_weight, post.log_weight)
    snis = fit_posterior(data, hyps, config=replace(cfg, weights="snis"))
    assert snis.sample.weighting == "snis"
