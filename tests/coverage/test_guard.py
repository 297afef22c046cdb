"""The guard end to end on a known linear SEM: decisions, deciding theory, paths and the rendered text."""
from __future__ import annotations

import json

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
