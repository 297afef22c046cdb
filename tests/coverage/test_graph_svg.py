"""The SVG pictures: well-formed XML, one node per variable and one curve per drawn edge, the theory's
relations highlighted with their sign's colour (dashed paths, crossed absences), hostile labels escaped,
byte-identical output for the same input, and calibration points where they belong."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from theorycov.coverage.graph_svg import COLORS, Mark, calibration_svg, graph_svg, layout, path_marks, theory_marks
from theorycov.db.schemas import Constraint

NS = {"s": "http://www.w3.org/2000/svg"}
NAMES = ["Raf", "Mek", "Erk", "PKA", "PKC", "Akt"]


def _marginals() -> np.ndarray:
    m = np.zeros((6, 6))
    m[0, 1], m[1, 2], m[3, 0], m[4, 0], m[4, 3] = 1.0, 0.8, 0.6, 0.3, 0.9
    m[2, 5], m[5, 2] = 0.08, 0.5  # below the drawing threshold; and its reverse above it
    return m


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_one_node_per_variable_one_curve_per_edge_above_threshold() -> None:
    root = _parse(graph_svg(_marginals(), NAMES))
    nodes = root.findall(".//s:g[@class='node']", NS)
    assert [n.find("s:text", NS).text for n in nodes] == NAMES  # type: ignore[union-attr]
    edges = root.findall(".//s:path[@class='edge']", NS)
    assert len(edges) == 6  # the 0.08 edge is left out (below 0.1)
    titles = {e.find("s:title", NS).text: e for e in edges}  # type: ignore[union-attr]
    assert "Erk → Akt: P = 0.08" not in titles and "Akt → Erk: P = 0.50" in titles
    certain = titles["Raf → Mek: P = 1.00"]
    assert certain.get("stroke-width") == "4.00" and certain.get("opacity") == "1.00"  # width and opacity grow with P
    assert titles["PKC → Raf: P = 0.30"].get("stroke-width") == "1.62" and titles["PKC → Raf: P = 0.30"].get("opacity") == "0.44"
    assert root.findall(".//s:path[@class]", NS) == edges  # no highlight without marks


def test_a_theory_is_highlighted_with_its_signs() -> None:
    theory = [Constraint("PKA", "Raf", sign=-1), Constraint("Raf", "Erk", path=True, sign=1), Constraint("Raf", "Akt", forbidden=True),
              Constraint("PKC", "Raf")]
    root = _parse(graph_svg(_marginals(), NAMES, marks=theory_marks(theory)))
    marks = {p.get("data-edge"): p for p in root.findall(".//s:path", NS) if (p.get("class") or "").startswith("mark")}
    assert set(marks) == {"PKA->Raf", "Raf->Erk", "Raf->Akt", "PKC->Raf"}
    assert marks["PKA->Raf"].get("stroke") == COLORS[-1] and marks["PKA->Raf"].get("class") == "mark minus"
    assert marks["Raf->Erk"].get("stroke") == COLORS[1] and marks["Raf->Erk"].get("class") == "mark plus path"
    assert marks["Raf->Erk"].get("stroke-dasharray") and marks["PKA->Raf"].get("stroke-dasharray") is None  # dashed: a path
    assert marks["Raf->Akt"].get("stroke") == COLORS["forbidden"] and marks["PKC->Raf"].get("stroke") == COLORS[0]
    assert len(root.findall(".//s:path[@class='cross']", NS)) == 1  # only the forbidden edge is crossed
    assert marks["PKA->Raf"].get("marker-end") == "url(#g-minus)"
    signs = [t.text for t in root.findall("s:g/s:text", NS) if t.text in ("+", "−")]
    assert sorted(signs) == ["+", "−"]
    bold = {n.find("s:text", NS).text for n in root.findall(".//s:g[@class='node']", NS)  # type: ignore[union-attr]
            if n.find("s:rect", NS).get("stroke-width") == "2"}  # type: ignore[union-attr]
    assert bold == {"PKA", "Raf", "Erk", "Akt", "PKC"}  # Mek is in none of its relations
    # the same relations as dicts (how the audit report stores them) draw the same picture
    as_dicts = [{"cause": c.cause, "effect": c.effect, "path": c.path, "forbidden": c.forbidden, "sign": c.sign} for c in theory]
    assert graph_svg(_marginals(), NAMES, marks=theory_marks(as_dicts)) == graph_svg(_marginals(), NAMES, marks=theory_marks(theory))


def test_a_decision_path_is_labelled_with_its_weights() -> None:
    paths = [{"edges": [{"cause": "PKA", "effect": "Raf", "weight": -0.41}, {"cause": "Raf", "effect": "Mek", "weight": 0.68}]},
             {"edges": [{"cause": "PKA", "effect": "Raf", "weight": -0.41}]}]
    marks = path_marks(paths)
    assert marks == [Mark("PKA", "Raf", -1, label="-0.41"), Mark("Raf", "Mek", 1, label="+0.68")]  # each edge once
    root = _parse(graph_svg((_marginals() > 0.5).astype(float), NAMES, marks=marks, caption="the deciding graph"))
    labels = [t.text for t in root.findall("s:g/s:text", NS)]
    assert "-0.41" in labels and "+0.68" in labels
    assert any("the deciding graph" in (t.text or "") for t in root.iter("{http://www.w3.org/2000/svg}tspan"))


def test_hostile_labels_are_escaped() -> None:
    names = ["<script>alert(1)</script>", 'a"b', "c&d"]
    m = np.array([[0, 0.9, 0], [0, 0, 0.7], [0, 0, 0]])
    svg = graph_svg(m, names, marks=[Mark(names[0], names[1], 1, label="<b>x</b>")], title="<i>t</i>", uid='u"x')
    assert "<script" not in svg and "<b>" not in svg and "<i>" not in svg
    root = _parse(svg)  # well-formed: every label, attribute and title escaped
    assert [n.find("s:text", NS).text for n in root.findall(".//s:g[@class='node']", NS)] == names  # type: ignore[union-attr]
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    assert root.find(".//s:path[@data-edge]", NS).get("data-edge") == '<script>alert(1)</script>->a"b'  # type: ignore[union-attr]


def test_output_is_deterministic_and_inputs_are_checked() -> None:
    rng = np.random.default_rng(3)
    m = rng.uniform(size=(20, 20)) * (rng.uniform(size=(20, 20)) < 0.2)
    np.fill_diagonal(m, 0)
    names = [f"X{k}" for k in range(20)]
    assert graph_svg(m, names, uid="a") == graph_svg(m.copy(), list(names), uid="a")
    with pytest.raises(ValueError, match=r"\(3, 3\) array in \[0, 1\]"):
        graph_svg(np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"\(2, 2\) array in \[0, 1\]"):
        graph_svg(np.full((2, 2), 1.5), ["a", "b"])
    with pytest.raises(ValueError, match="'Zap', not a variable"):
        graph_svg(np.zeros((2, 2)), ["a", "b"], marks=[Mark("a", "Zap")])


def test_layers_put_causes_above_effects_and_a_chain_goes_round_a_circle() -> None:
    rng = np.random.default_rng(0)
    d = 110  # arth150's size: parents among the earlier nodes
    m = np.zeros((d, d))
    for k in range(1, d):
        for p in rng.choice(k, size=min(k, 2), replace=False):
            m[p, k] = rng.uniform(0.5, 1.0)
    pos, width, height = layout(m, [f"G{k}" for k in range(d)])
    assert all(pos[i, 1] < pos[j, 1] for i, j in zip(*np.nonzero(m >= 0.5)))  # every backbone edge points down
    assert len({(round(x), round(y)) for x, y in pos}) == d and pos[:, 0].min() > 0 and pos[:, 0].max() < width
    root = _parse(graph_svg(m, [f"G{k}" for k in range(d)]))
    assert len(root.findall(".//s:g[@class='node']", NS)) == d and len(root.findall(".//s:path[@class='edge']", NS)) == int((m >= 0.1).sum())
    chain = np.eye(8, k=1)  # 0 -> 1 -> ... -> 7: every edge one row down, a column
    pos, width, height = layout(chain, [f"N{k}" for k in range(8)])
    assert np.all(pos[:, 0] == pos[0, 0]) and np.all(np.diff(pos[:, 1]) > 0)
    chain += 0.8 * np.eye(8, k=2) + 0.8 * np.eye(8, k=3)  # skip edges would run along that column: a circle, in causal order
    pos, width, height = layout(chain, [f"N{k}" for k in range(8)])
    radii = np.hypot(*(pos - pos.mean(0)).T)
    assert np.allclose(radii, radii[0])
    angles = np.unwrap(np.arctan2(*(pos - pos.mean(0))[:, ::-1].T))
    assert np.all(np.diff(angles) > 0)  # clockwise on screen (y down), in the chain's order


def test_calibration_points_lie_where_they_should() -> None:
    truth = np.linspace(0.02, 0.98, 50)
    svg = calibration_svg(truth, {"perfect": truth, "<b>over</b>": np.clip(truth + 0.2, 0, 1)}, title="ecoli70", size=300)
    root = _parse(svg)
    lines = root.findall(".//s:polyline[@class='estimator']", NS)
    assert [p.get("data-name") for p in lines] == ["perfect", "<b>over</b>"] and "<b>" not in svg
    left, top, size = 52.0, 34.0, 300
    for pt in lines[0].get("points", "").split():  # calibrated: every bin mean on the diagonal x + y = left + top + size
        x, y = map(float, pt.split(","))
        assert math.isclose(x + y, left + top + size, abs_tol=0.11)
    xs = [float(pt.split(",")[0]) for pt in lines[1].get("points", "").split()]
    ys = [float(pt.split(",")[1]) for pt in lines[1].get("points", "").split()]
    assert all(x + y > left + top + size + 30 for x, y in zip(xs, ys))  # over-predicting: right of the diagonal
    assert root.find(".//s:line[@class='diagonal']", NS) is not None
    assert "perfect (mean sq. error 0.000)" in svg
    with pytest.raises(ValueError, match="'short' has"):
        calibration_svg(truth, {"short": truth[:3]})
