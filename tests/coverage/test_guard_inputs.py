"""Action and harm phrases, and the risk estimates on a hand-computed set of graphs."""
from __future__ import annotations

import math

import pytest
import torch

from theorycov.coverage.guard.actions import GuardInputError, Quantiles, alias_resolver, parse_action, parse_harm
from theorycov.coverage.guard.bounds import estimate_risks

VARS = ["Raf", "Mek", "Erk", "PKC", "PKA"]
RESOLVE = alias_resolver(VARS, {"PKC": ["protein kinase C", "PRKCA"], "Erk": ["ERK1/2", "p44/42 MAPK"]})


def test_action_phrases() -> None:
    a = parse_action("inhibit protein kinase C", RESOLVE)
    assert (a.variable, a.quantile, a.value, a.shift) == ("PKC", 0.05, None, None)
    assert parse_action("activate PKA", RESOLVE).quantile == 0.95
    assert parse_action("Inhibits prkca", RESOLVE).variable == "PKC"
    assert parse_action("do(Raf = 1.5)", RESOLVE).value == 1.5
    assert parse_action("do(Raf = q10)", RESOLVE).quantile == pytest.approx(0.10)
    s = parse_action("shift Mek by -0.5", RESOLVE)
    assert (s.variable, s.shift) == ("Mek", -0.5)


def test_harm_phrases() -> None:
    h = parse_harm("ERK1/2 < q10", RESOLVE)
    assert (h.variable, h.high_q, h.low_q, h.outside) == ("Erk", 0.10, None, False)
    assert parse_harm("Erk > 2.5", RESOLVE).low == 2.5
    o = parse_harm("Erk outside [q5, q95]", RESOLVE)
    assert (o.low_q, o.high_q, o.outside) == (0.05, 0.95, True)
    assert parse_harm("p44/42 MAPK below its 10th percentile", RESOLVE).high_q == pytest.approx(0.10)


def test_bad_phrases_say_what_is_accepted() -> None:
    with pytest.raises(GuardInputError, match="accepted forms: 'inhibit X'"):
        parse_action("make Erk happy", RESOLVE)
    with pytest.raises(GuardInputError, match="'Foo' is not a variable of this domain.*Raf, Mek"):
        parse_action("inhibit Foo", RESOLVE)
    with pytest.raises(GuardInputError, match="accepted forms: 'Y < q10'"):
        parse_harm("Erk is bad", RESOLVE)
    with pytest.raises(GuardInputError, match="strictly between"):
        parse_harm("Erk < q100", RESOLVE)


def test_quantile_resolution() -> None:
    obs = torch.arange(101, dtype=torch.float64)[:, None].repeat(1, 5)
    q = Quantiles(tuple(VARS), obs)
    assert parse_action("inhibit PKC", RESOLVE).resolved_value(q) == pytest.approx(5.0)
    assert parse_harm("Erk outside [q5, q95]", RESOLVE).interval(q) == (pytest.approx(5.0), pytest.approx(95.0))
    assert parse_harm("Erk < q10", RESOLVE).interval(q) == (-math.inf, pytest.approx(10.0))


@pytest.mark.parametrize("offset", [0.0, 1.0, 2.0, 3.0, 7.0, -40.0])
def test_estimates_on_three_graphs(offset: float) -> None:
    # Posterior 0.5 / 0.3 / 0.2 over three graphs with harm probabilities 0.1 / 0.6 / 0.9.
    post = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    p = torch.tensor([0.1, 0.6, 0.9], dtype=torch.float64)
    lr = post.log() + offset  # unnormalized: the answers must not depend on the offset
    sat = torch.tensor([[True, False], [False, False], [False, True]])
    est = estimate_risks(p, lr, lr, sat, torch.tensor([0.05, 0.05]), alpha=0.5, delta=1.0, exact=True)
    assert est.posterior == pytest.approx(0.5 * 0.1 + 0.3 * 0.6 + 0.2 * 0.9)
    assert est.posterior_ci == (est.posterior, est.posterior)
    # argmax P(G|D) p(G): 0.05, 0.18, 0.18 -> a tie (within bounds.TIE), which by the stated rule goes to the
    # graph with the larger harm probability (graph 2), whatever the rounding after the offset.
    assert est.prop34_graph == 2 and est.prop34 == pytest.approx(0.9)
    # M_0.5 = graphs with posterior >= 0.25: {0, 1}, so the cautious bound is 0.6, not 0.9.
    assert est.prop46_size == 2 and est.prop46 == pytest.approx(0.6)
    assert est.map_graph == 0 and est.map_risk == pytest.approx(0.1)
    # Hypothesis 1 holds in graph 2 only (mass 0.2 >= delta * p_min): the human bound is its 0.9.
    assert est.human == pytest.approx(0.9) and est.human_theory == 1
    # A stricter delta makes hypothesis 1 implausible (0.2 < 5 * 0.05): the human bound falls to 0.1.
    strict = estimate_risks(p, lr, lr, sat, torch.tensor([0.05, 0.05]), delta=5.0, exact=True)
    assert strict.human_theory == 0 and strict.human == pytest.approx(0.1)
    assert strict.get("cautious") == strict.prop46
    with pytest.raises(ValueError, match="unknown bound"):
        strict.get("optimistic")


def test_ties_break_towards_harm() -> None:
    """Equal posteriors: the MAP graph and Prop. 3.4's G^ are the more harmful of the tied graphs (not the
    first one), and Prop. 4.6's boundary is inclusive within TIE."""
    p = torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64)
    lr = torch.log(torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64)) + 3.0
    est = estimate_risks(p, lr, lr, exact=True, alpha=0.5)
    assert est.map_graph == 1 and est.map_risk == pytest.approx(0.7)
    assert est.prop46_size == 3  # 0.2 = 0.5 * 0.4 exactly: on the boundary, inside


def test_low_ess_refutes_no_theory() -> None:
    """With an effective sample size of ~1, a theory absent from the dominant graph is not declared refuted."""
    p = torch.tensor([0.1, 0.9, 0.9], dtype=torch.float64)
    lr = torch.tensor([0.0, -30.0, -31.0], dtype=torch.float64)
    lw = torch.tensor([0.0, -30.0, -31.0], dtype=torch.float64)  # one draw dominates: ESS ~ 1
    sat = torch.tensor([[True, False], [False, True], [False, True]])
    est = estimate_risks(p, lr, lw, sat, torch.tensor([0.05, 0.05]), delta=0.1, min_ess=30.0)
    assert est.ess < 2 and est.theories[1].plausible and est.human == pytest.approx(0.9)
    # with the same weights but trusted (as if exact), theory 1 is refuted and the bound falls to 0.1
    trusted = estimate_risks(p, lr, lw, sat, torch.tensor([0.05, 0.05]), delta=0.1, exact=True)
    assert not trusted.theories[1].plausible and trusted.human == pytest.approx(0.1)
    # within a theory, members are weighted by R: graph 1 (log R -30) outweighs graph 2 (-31)
    assert est.theories[1].risk == pytest.approx(0.9) and est.theories[1].best_graph == 1
