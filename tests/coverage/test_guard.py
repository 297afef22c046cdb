"""The guard end to end on a known linear SEM: decisions, deciding theory, paths and the rendered text."""
from __future__ import annotations

import json
import math

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.explain import DecisionStatus, EvidenceRef, PathStatus, render_text
from theorycov.coverage.guard.guard import Guard, GuardConfig

VARS = ["A", "B", "C"]


def _data(n: int = 3000) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, generator=g, dtype=torch.float64)
    b = 0.9 * a + 0.4 * torch.randn(n, generator=g, dtype=torch.float64)
    c = -1.2 * b + 0.4 * torch.randn(n, generator=g, dtype=torch.float64)
    return torch.stack([a, b, c], 1)


def _graphs(*edge_lists: list[tuple[int, int]]) -> torch.Tensor:
    out = torch.zeros(len(edge_lists), 3, 3, dtype=torch.bool)
    for k, edges in enumerate(edge_lists):
        for i, j in edges:
            out[k, i, j] = True
    return out


def _guard(log_reward: torch.Tensor, **kw: object) -> Guard:
    graphs = _graphs([(0, 1), (1, 2)], [(0, 1)], [(0, 1), (0, 2)])
    hyps = [Hypothesis((Constraint("B", "C", sign=-1),)), Hypothesis((Constraint("A", "B", sign=1),))]
    cs = ConstraintSet(hyps, VARS)

    def evidence(a: str, b: str) -> list[EvidenceRef]:
        return [EvidenceRef("Doe et al. 2001", f"{a} strongly inhibits {b}.", pmid="123")] if (a, b) == ("B", "C") else []

    return Guard(
        VARS, _data(), None, graphs, log_reward, log_reward, constraints=cs, p_min=torch.tensor([0.05, 0.05]),
        evidence=evidence, citations=lambda h: ["Doe et al. 2001"] if h == 0 else [], exact=True, **kw,
    )


def test_human_theory_blocks_what_the_map_graph_allows() -> None:
    # The data-poor posterior favours the graph without B -> C; the human theory B -| C is still plausible.
    lr = torch.tensor([-3.0, 0.0, -5.0], dtype=torch.float64)
    guard = _guard(lr, config=GuardConfig(bound="human", threshold=0.5, delta=0.1))
    dec = guard.check("activate B", "C < q10")
    assert dec.status is DecisionStatus.BLOCK
    assert dec.deciding_theory == "B inhibits C"
    assert dec.path_status is PathStatus.PATHS_FOUND
    assert [p.nodes for p in dec.paths] == [("B", "C")]
    assert dec.paths[0].edges[0].weight == pytest.approx(-1.2, abs=0.05)
    assert dec.estimates["map"] < 0.2 < 0.5 < dec.risk
    text = render_text(dec)
    assert "Blocked: activate B" in text and "Deciding theory: \"B inhibits C\" (Doe et al. 2001)" in text
    assert "\"B strongly inhibits C.\" (Doe et al. 2001, PMID 123)" in text
    assert json.loads(dec.to_json())["paths"][0]["nodes"] == ["B", "C"]
    # The same query under the MAP graph is allowed, and its explanation says there is no path.
    allowed = guard.check("activate B", "C < q10", bound="map")
    assert allowed.status is DecisionStatus.ALLOW and allowed.path_status is PathStatus.NO_PATHS_FOUND
    assert "Allowed" in render_text(allowed)


def test_refuted_theory_does_not_decide() -> None:
    # Graph 0 (the only one with B -> C) now has negligible posterior mass: p(h|D) < delta * p_min.
    lr = torch.tensor([-40.0, 0.0, -5.0], dtype=torch.float64)
    dec = _guard(lr).check("activate B", "C < q10")
    assert dec.deciding_theory != "B inhibits C"
    assert dec.status is DecisionStatus.ALLOW


def test_theory_level_reads_each_theory_at_its_upper_credible_risk() -> None:
    """GuardConfig.theory_level = q: a theory's risk is the q-quantile of its (graph, draw) risks, so it never
    falls below the level-0 reading and, at q = 1, is the largest draw; the mean stays the default."""
    from theorycov.coverage.guard.credible import theory_quantile_risks

    lr = torch.tensor([-3.0, 0.0, -5.0], dtype=torch.float64)
    mean = _guard(lr, config=GuardConfig(threshold=0.5, delta=0.1))
    a, h = mean.parse("activate A", "C < q10")
    _, est_mean = mean.estimate(a, h)
    draws = mean.harm_draws(a, h)
    for q in (0.5, 0.9, 1.0):
        upper = _guard(lr, config=GuardConfig(threshold=0.5, delta=0.1, theory_level=q))
        _, est = upper.estimate(a, h)
        want = theory_quantile_risks(draws, mean.table.weights, mean.consistent, q)  # type: ignore[union-attr]
        for t in range(2):
            assert est.theories[t].risk == pytest.approx(float(want[t]))
        assert est.human == pytest.approx(max(float(want[t]) for t in range(2) if est.theories[t].plausible))
    top = _guard(lr, config=GuardConfig(theory_level=1.0)).estimate(a, h)[1]
    assert top.human >= est_mean.human
    with pytest.raises(ValueError, match="theory_level"):
        GuardConfig(theory_level=0.0)


def test_split_delta_refutes_at_half_delta_and_reads_at_one_minus_half_delta() -> None:
    """theory_level "1-delta/2" spends delta in two halves: a theory with delta/2 * p_min < p(h|D) < delta * p_min
    is refuted by the "1-delta" reading and kept by this one, and every theory is read at its 1 - delta/2 quantile."""
    from theorycov.coverage.guard.credible import theory_quantile_risks

    cfg = GuardConfig(threshold=0.5, delta=0.1, theory_level="1-delta/2")
    assert cfg.level == pytest.approx(0.95) and cfg.refute_delta == pytest.approx(0.05)
    assert GuardConfig(delta=0.1).refute_delta == pytest.approx(0.05)  # the default
    assert GuardConfig(delta=0.1, theory_level="1-delta").refute_delta == 0.1 and GuardConfig(delta=0.1, theory_level=0.9).refute_delta == 0.1
    w0 = 0.0035  # graph 0 (the only one with B -> C) holds p(h|D) of "B inhibits C": between 0.0025 and 0.005
    lr = torch.tensor([math.log(w0 / (1 - w0) * (1 + math.exp(-5.0))), 0.0, -5.0], dtype=torch.float64)
    whole = _guard(lr, config=GuardConfig(threshold=0.5, delta=0.1, theory_level="1-delta"))
    split = _guard(lr, config=cfg)
    assert float(whole.table.mass[0]) == pytest.approx(w0, rel=0.02)  # type: ignore[union-attr]
    assert not bool(whole.table.plausible[0]) and bool(split.table.plausible[0])  # type: ignore[union-attr]
    a, h = split.parse("activate B", "C < q10")
    _, est = split.estimate(a, h)
    want = theory_quantile_risks(split.harm_draws(a, h), split.table.weights, split.consistent, 0.95)  # type: ignore[union-attr]
    assert est.theories[0].risk == pytest.approx(float(want[0])) and est.human >= float(want[0])
    assert whole.check("activate B", "C < q10").deciding_theory != "B inhibits C"
    assert split.check("activate B", "C < q10").deciding_theory == "B inhibits C"
    with pytest.raises(ValueError, match="'1-delta/2'"):
        GuardConfig(theory_level="1-delta/3")
