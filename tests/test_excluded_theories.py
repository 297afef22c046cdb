"""A stored theory no graph can satisfy (a cycle read from one paper) is listed by the audit with its reason,
never judged, and its sentences are never cited as support in an explanation (issue 15)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from theorycov import Project

DOMAIN = """
name = "loop"
description = "two kinases"

[[variables]]
name = "Alpha"
aliases = ["alpha kinase"]

[[variables]]
name = "Beta"
aliases = ["beta kinase"]

[[variables]]
name = "Gamma"
aliases = ["gamma factor"]
"""

PAPERS = [
    {"id": "c1", "title": "A loop", "authors": ["Loop, Lou"], "year": 2004,
     "abstract": "Alpha kinase activates beta kinase. Beta kinase activates gamma factor. Gamma factor activates alpha kinase."},
    {"id": "g1", "title": "Beta drives Gamma", "authors": ["Doe, Jane"], "year": 2001,
     "abstract": "Beta kinase strongly activates gamma factor in T cells."},
]


def test_cyclic_theory_is_listed_and_never_cited(tmp_path: Path) -> None:
    (tmp_path / "loop.toml").write_text(DOMAIN)
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    b = 0.9 * a + 0.4 * rng.normal(size=300)
    g = 1.1 * b + 0.4 * rng.normal(size=300)
    (tmp_path / "loop.csv").write_text("Alpha,Beta,Gamma\n" + "\n".join(f"{x:.5f},{y:.5f},{z:.5f}" for x, y, z in zip(a, b, g)) + "\n")
    (tmp_path / "papers.jsonl").write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n")
    project = Project(f"sqlite:///{tmp_path / 'loop.db'}", workdir=tmp_path / "runs")
    project.ingest([tmp_path / "papers.jsonl"], str(tmp_path / "loop.toml"), extractor="rules", progress=False)
    stored = project.hypotheses("loop")
    cyclic = [t for t in stored if "Gamma activates Alpha" in t.render()]
    assert len(cyclic) == 1 and "Alpha activates Beta" in cyclic[0].render() and "Beta activates Gamma" in cyclic[0].render()
    res = project.train(str(tmp_path / "loop.toml"), data=tmp_path / "loop.csv", iterations=300, n_samples=300, progress=False)
    report = project.audit(res.run_id)
    assert [x["hypothesis_id"] for x in report["excluded"]] == [cyclic[0].id]
    assert "cyclic" in report["excluded"][0]["reason"] and report["excluded"][0]["citations"] == ["Loop 2004"]
    assert cyclic[0].id not in [r["hypothesis_id"] for r in report["rows"]]
    assert "Stored theories left out (1)" in res.html_path.read_text()
    for bound in ("human", "posterior", "map"):
        text = project.check("activate alpha kinase", "Gamma > q90", bound=bound, store=False)
        cited = [ev.citation for p in text.paths for e in p.edges for ev in e.evidence]
        assert "Loop 2004" not in cited, (bound, cited)
