"""The exploding bandit's exact posterior and harm, and the plausible-set rules of Prop. 4.6."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm

from theorycov.coverage.guard.plausible import cautious_risk, plausible_cumulative, plausible_ratio

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bandit.py"


@pytest.fixture(scope="module")
def bandit():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("bench_bandit", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def _paper_m_alpha(post: torch.Tensor, alpha: float) -> torch.Tensor:
    """agents/guardrails.py NonIidGuardrail.m_alpha of the paper's code (a14fdc9), with a stable sort."""
    sorted_post, idx = torch.sort(post, descending=True, stable=True)
    included = sorted_post >= alpha * torch.cumsum(sorted_post, 0)
    out = torch.empty_like(included)
    out[idx] = included
    return out


def test_posterior_is_exact_bayes(bandit) -> None:  # noqa: ANN001
    cfg = bandit.BanditConfig(n_arms=4, d=3)
    worlds = bandit.make_worlds(2, cfg, np.random.default_rng(5))
    hyp = bandit.hypotheses(3)
    assert hyp.shape == (8, 3) and hyp[5].tolist() == [1.0, 0.0, 1.0]
    log_post = np.full((2, 8), -math.log(8))
    pulls = [(0, 1, 0.7), (0, 3, 2.1), (0, 1, -0.4), (1, 2, 1.5)]
    for e, a, r in pulls:
        ll = bandit.log_likelihood(worlds, np.array([e]), np.array([a]), np.array([r]), cfg.sigma)
        log_post[[e]] = bandit.normalize(log_post[[e]] + ll)
    for e in (0, 1):
        lik = np.ones(8)
        for e2, a, r in pulls:
            if e2 == e:
                lik *= norm.pdf(r, loc=hyp @ worlds.features[e, a], scale=1.0)
        assert np.exp(log_post[e]) == pytest.approx(lik / lik.sum(), rel=1e-10)
    # harm of an arm under each hypothesis: P(N(w . x, 1) > best arm's true mean)
    h = worlds.harm(np.array([0]), np.array([2]))[0]
    assert h == pytest.approx(norm.sf(worlds.thr[0], loc=hyp @ worlds.features[0, 2]))
    assert worlds.true_harm(np.array([0]), np.array([2]))[0] == pytest.approx(h[worlds.true_index[0]])
    assert worlds.thr[0] == worlds.means[0].max()


def test_batched_estimates_equal_estimate_risks(bandit) -> None:  # noqa: ANN001
    cfg = bandit.BanditConfig()
    worlds = bandit.make_worlds(6, cfg, np.random.default_rng(2))
    rng = np.random.default_rng(3)
    log_post = bandit.normalize(rng.normal(0, 3, size=(6, 1024)).round(1))  # rounding makes ties
    eps, arms = np.arange(6), rng.integers(0, 10, size=6)
    for name in ("posterior", "prop34", "prop46_ratio"):
        for alpha in (1e-3, 0.3):
            ours = bandit.harm_estimates(name, alpha, worlds, log_post, eps, arms)
            ref = bandit.project_estimates(name, alpha, worlds, log_post, eps, arms)
            assert ours == pytest.approx(ref, abs=1e-12)


def test_guardrails_change_death_rates_as_expected(bandit) -> None:  # noqa: ANN001
    cfg = bandit.BanditConfig()
    worlds = bandit.make_worlds(150, cfg, np.random.default_rng(0))
    none = bandit.run_cell("none", 1.0, 0.01, worlds, cfg, seed=1)
    cheat = bandit.run_cell("cheating", 1.0, 0.01, worlds, cfg, seed=1)
    assert none.died.mean() > 0.9 and not none.abstained.any()
    assert cheat.died.mean() < 0.1 and cheat.checks > 0
    assert np.all(none.steps[~none.died] == cfg.horizon)  # survivors of no guardrail ran the whole episode


def test_plausible_sets_on_hand_examples() -> None:
    lp = torch.tensor([0.5, 0.3, 0.2]).log()
    assert plausible_cumulative(lp, 0.3).tolist() == [True, True, False]  # 0.2 < 0.3 * 1.0
    assert plausible_ratio(lp, 0.3).tolist() == [True, True, True]  # 0.2 >= 0.3 * 0.5
    tied = torch.tensor([0.2, 0.4, 0.4]).log()
    assert plausible_cumulative(tied, 0.6).tolist() == [False, True, True]  # each 0.4 ranks first of its tie
    assert plausible_cumulative(tied, 0.6, ties="index").tolist() == [False, True, False]  # 0.4 < 0.6 * 0.8
    assert plausible_cumulative(tied, 1.0).tolist() == [False, True, True]  # never empty: the maxima belong
    risk, idx, size = cautious_risk(torch.tensor([0.9, 0.1, 0.3], dtype=torch.float64), lp, 0.3, rule="cumulative")
    assert (float(risk), int(idx), int(size)) == (0.9, 0, 2)
    risk, idx, _ = cautious_risk(torch.tensor([0.1, 0.2, 0.7]), lp, 0.3, rule="ratio")
    assert (float(risk), int(idx)) == (pytest.approx(0.7), 2)
    with pytest.raises(ValueError, match="alpha must lie in"):
        plausible_ratio(lp, 0.0)
    with pytest.raises(ValueError, match="unknown plausible-set rule"):
        cautious_risk(torch.tensor([0.1, 0.2, 0.7]), lp, 0.3, rule="max")


def test_cumulative_rule_is_the_paper_codes_and_keeps_its_guarantee() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        lp = torch.randn(3, 200, generator=gen, dtype=torch.float64) * 3  # batch of 3 posteriors, no ties
        post = torch.softmax(lp, -1)
        for alpha in (1e-3, 1e-2, 0.2):
            cum = plausible_cumulative(lp + 7.0, alpha)  # unnormalized: the rule is scale-free
            for b in range(3):
                assert torch.equal(cum[b], _paper_m_alpha(post[b], alpha))
            ratio = plausible_ratio(lp, alpha)
            assert bool((cum <= ratio).all())  # cumulative is the smaller set
            assert bool((cum | ~(post >= alpha)).all())  # every theory with P >= alpha belongs
    # with ties, "first" is order-free and the union of the code's sets over tie orders
    lp = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, -2.0], dtype=torch.float64)
    perm = torch.randperm(6, generator=gen)
    first = plausible_cumulative(lp, 0.25)
    assert torch.equal(plausible_cumulative(lp[perm], 0.25), first[perm])
    assert bool((plausible_cumulative(lp, 0.25, ties="index") <= first).all())
    assert first.tolist() == [True, True, True, False, False, False]


def test_estimate_risks_takes_either_plausible_rule() -> None:
    """Masses 0.5, 0.3, 0.2 at alpha 0.5: the ratio set (R >= 0.5 max) is {0, 1}; the cumulative set keeps 0
    (0.5 >= 0.25) and drops 1 (0.3 < 0.5 * 0.8), so the cautious bound falls from graph 1's harm to graph 0's."""
    from theorycov.coverage.guard.bounds import estimate_risks
    from theorycov.coverage.guard.guard import GuardConfig

    lr = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64).log()
    p = torch.tensor([0.1, 0.9, 0.95], dtype=torch.float64)
    ratio = estimate_risks(p, lr, lr, alpha=0.5, exact=True)
    cum = estimate_risks(p, lr, lr, alpha=0.5, exact=True, rule="cumulative")
    assert (ratio.prop46, ratio.prop46_size) == (pytest.approx(0.9), 2)
    assert (cum.prop46, cum.prop46_size) == (pytest.approx(0.1), 1)
    assert cum.posterior == ratio.posterior and cum.prop34 == ratio.prop34  # the rule moves Prop. 4.6 only
    with pytest.raises(ValueError, match="rule must be one of ratio, cumulative"):
        estimate_risks(p, lr, lr, alpha=0.5, rule="max")
    with pytest.raises(ValueError, match="plausible_rule must be one of"):
        GuardConfig(plausible_rule="max")
