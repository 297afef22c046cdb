"""Exact and importance-sampled hypothesis masses, and verdicts."""
from __future__ import annotations

import math

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.masses import Verdict, exact_masses, importance_masses, sample_share, verdicts
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.exact import enumerate_dags
from theorycov.gfn.reward import Reward
from theorycov.gfn.scores.bge import BGeScore



def test_importance_interval_covers_exact_mass() -> None:
    """SNIS with a uniform proposal over all 543 DAGs on 4 nodes: the 95% interval covers the exact
    p(h|D) for most (seed, hypothesis) pairs (at least 85% of 60)."""
    data, _ = make_linear_gaussian_er(4, 1.0, 30, seed=4)
    names = list(data.names)
    reward = Reward(BGeScore(data))
    dags = enumerate_dags(4)
    lr = reward.log_reward(dags) / 8.0  # a flatter target so that 400 uniform draws suffice
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1], path=True),)), Hypothesis((Constraint(names[2], names[3]),)), Hypothesis((Constraint(names[1], names[3], forbidden=True),))], names)
    sat = cs.satisfies(dags)
    exact = exact_masses(lr, sat)
    assert exact.exact and bool(((exact.p > 0.02) & (exact.p < 0.98)).all())
    hits = 0
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randint(dags.shape[0], (400,), generator=g)
        est = importance_masses(lr[idx], torch.full((400,), -math.log(dags.shape[0])), sat[idx])
        assert 1.0 < est.ess <= 400.0
        hits += int(((est.low <= exact.p) & (exact.p <= est.high)).sum())
    assert hits >= 0.85 * 60, hits


def test_exact_sampler_gives_equal_p_and_q() -> None:
    """With draws from the exact posterior and log P_T = exact log posterior, SNIS weights are uniform."""
    torch.manual_seed(0)
    logits = torch.randn(50, dtype=torch.float64)
    sat = torch.rand(50, 3) < 0.4
    post = torch.softmax(logits, 0)
    idx = torch.multinomial(post, 5000, replacement=True)
    est = importance_masses(logits[idx], post.log()[idx], sat[idx])
    assert torch.allclose(est.p, sample_share(sat[idx]))
    assert est.ess == pytest.approx(5000.0)


def test_verdicts() -> None:
    p = torch.tensor([0.30, 0.30, 0.001, 0.30])
    q = torch.tensor([0.28, 0.10, 0.0, 0.29])
    prior = torch.tensor([0.05, 0.05, 0.05, 0.05])
    reached = torch.tensor([True, True, False, False])
    v = verdicts(p, q, prior, reached, eps=0.1, delta=0.1)
    assert v == [Verdict.COVERED, Verdict.UNDER_COVERED, Verdict.REFUTED, Verdict.UNDER_COVERED]


def test_poor_estimates_refute_nothing() -> None:
    p = torch.tensor([0.0, 0.3])
    q = torch.tensor([0.0, 0.3])
    prior = torch.tensor([0.05, 0.05])
    reached = torch.tensor([False, True])
    assert verdicts(p, q, prior, reached, can_refute=False)[0] is Verdict.UNDER_COVERED
    assert verdicts(p, q, prior, reached, p_high=torch.tensor([0.2, 0.4]))[0] is Verdict.UNDER_COVERED  # upper bound not low enough
    assert verdicts(p, q, prior, reached, p_high=torch.tensor([0.001, 0.4]))[0] is Verdict.REFUTED
