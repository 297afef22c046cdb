"""The face end to end on a user's own tiny domain: domain file, CSV data, papers -> ingest, train, audit,
check, explain, through the Python API and the command line (exit codes, errors that say what to do)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from theorycov import Project
from theorycov.cli import app
from theorycov.datasets import DataError, load_csv

DOMAIN = """
name = "toy"
description = "a three-step cascade"

[[variables]]
name = "Alpha"
aliases = ["alpha kinase", "ALK9"]

[[variables]]
name = "Beta"
aliases = ["beta kinase", "BTK9"]

[[variables]]
name = "Gamma"
aliases = ["gamma factor", "GMF9"]
"""

PAPERS = [
    {"id": "p1", "title": "Alpha drives Beta", "authors": ["Doe, Jane"], "year": 2001,
     "abstract": "Alpha kinase activates beta kinase in these cells. Beta kinase strongly activates gamma factor."},
    {"id": "p2", "title": "A <script>alert(1)</script> study", "authors": ["Roe, Rick", "Poe, Pat"], "year": 2003,
     "abstract": "ALK9 phosphorylates and activates BTK9."},
]


def _write_data(path: Path, n: int = 400, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 0.9 * a + 0.4 * rng.normal(size=n)
    g = 1.2 * b + 0.4 * rng.normal(size=n)
    lines = ["Alpha,Beta,Gamma,intervention_target"] + [f"{x:.5f},{y:.5f},{z:.5f}," for x, y, z in zip(a, b, g)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    (root / "toy.toml").write_text(DOMAIN)
    _write_data(root / "toy.csv")
    papers = root / "papers"
    papers.mkdir()
    (papers / "refs.jsonl").write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n")
    return {"root": root, "domain": root / "toy.toml", "data": root / "toy.csv", "papers": papers, "db": root / "toy.db"}


@pytest.fixture(scope="module")
def trained(toy: dict[str, Path]) -> dict:
    """The toy papers ingested twice and one brief training run, in the module's own database: every test
    that needs a trained run asks for this, so each passes alone and in any order."""
    project = Project(f"sqlite:///{toy['db']}", workdir=toy["root"] / "runs")
    first = project.ingest([toy["papers"]], str(toy["domain"]), extractor="rules", progress=False)
    again = project.ingest([toy["papers"]], str(toy["domain"]), extractor="rules", progress=False)
    # an iteration budget, not minutes: what the tests check must not depend on the machine's load
    res = project.train(str(toy["domain"]), data=toy["data"], iterations=600, n_samples=400, progress=False)
    return {"project": project, "first": first, "again": again, "train": res}


@pytest.mark.slow
def test_project_end_to_end(toy: dict[str, Path], trained: dict) -> None:
    project = trained["project"]
    assert trained["first"].counts["papers"] == 2
    assert trained["again"].counts["papers"] == 0  # idempotent by content hash
    hyps = project.hypotheses("toy")
    assert any("Alpha activates Beta" in t.render() for t in hyps)
    res = trained["train"]
    assert res.run_dir.is_dir() and (res.run_dir / "run.json").is_file() and res.html_path is not None
    report = project.audit(res.run_id, html=toy["root"] / "audit.html")
    assert report["exact"] is True and len(report["rows"]) == len(hyps)
    assert report["warnings"] == []  # stored with the report; exact masses need no warning
    assert "<svg" in (toy["root"] / "audit.html").read_text()
    # Observational data cannot orient the chain: 2 of its 3 Markov-equivalent DAGs give Alpha no effect on
    # Gamma, so the exact posterior risk stays below 0.5 and the posterior guard allows. The papers say
    # Alpha -> Beta -> Gamma; that theory is not refuted, so the human bound blocks, citing them.
    allowed = project.check("activate alpha kinase", "Gamma > q90", bound="posterior")
    assert allowed.status.value == "allow" and 0.2 < allowed.risk < 0.5
    dec = project.check("activate alpha kinase", "Gamma > q90", bound="human")
    assert dec.status.value == "block" and dec.decision_id is not None and dec.risk > 0.5
    text = project.explain(dec.decision_id)
    assert "Blocked: activate alpha kinase" in text and "Alpha -(+" in text
    assert "\"Alpha kinase activates beta kinase in these cells.\" (Doe 2001)" in text
    low = project.check("do(Gamma = q50)", "Alpha > q99", bound="posterior")
    assert low.status.value == "allow"


def test_csv_errors_say_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Alpha,Beta,Delta\n1,2,3\n")
    with pytest.raises(DataError, match="missing: Gamma; unknown: Delta"):
        load_csv(bad, ["Alpha", "Beta", "Gamma"])
    bad.write_text("Alpha,Beta,Gamma\n1,2,x\n")
    with pytest.raises(DataError, match=r"line 2, column 3 \('Gamma'\): is not a number"):
        load_csv(bad, ["Alpha", "Beta", "Gamma"])
    bad.write_text("Alpha,Beta,Gamma,intervention_target\n1,2,3,Zeta\n2,3,4,\n")
    with pytest.raises(DataError, match="intervention target 'Zeta'"):
        load_csv(bad, ["Alpha", "Beta", "Gamma"])


def test_cli_exit_codes(toy: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    Project(empty)  # an existing database without runs (a read-only command refuses a missing one: exit 2)
    r = runner.invoke(app, ["check", "inhibit Raf", "--harm", "Erk < q10", "--db", empty])
    assert r.exit_code == 3 and "no finished training run" in r.output
    r = runner.invoke(app, ["domain", "show", str(toy["domain"]), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["variables"]["Alpha"] == ["Alpha", "alpha kinase", "ALK9"]
    r = runner.invoke(app, ["domain", "show", "nonexistent-domain"])
    assert r.exit_code == 2 and "no domain file" in r.output
    r = runner.invoke(app, ["domain", "new", str(tmp_path / "mine.toml"), "--variables", "X,Y,Z"])
    assert r.exit_code == 0 and (tmp_path / "mine.toml").is_file()


@pytest.mark.slow
def test_cli_check_blocks_with_exit_code_1(trained: dict) -> None:
    runner = CliRunner()
    db = trained["project"].db_url
    r = runner.invoke(app, ["check", "activate Alpha", "--harm", "Gamma > q90", "--bound", "human", "--db", db, "--json"])
    assert r.exit_code == 1, r.output
    assert json.loads(r.output)["status"] == "block"
    r = runner.invoke(app, ["check", "make Alpha happy", "--harm", "Gamma > q90", "--db", db])
    assert r.exit_code == 2 and "accepted forms" in r.output
    r = runner.invoke(app, ["explain", "9999", "--db", db])
    assert r.exit_code == 3 and "no decision with id 9999" in r.output
    r = runner.invoke(app, ["search", "alpha activates beta", "--db", db, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["rendering"]


@pytest.mark.slow
@pytest.mark.pg
def test_project_on_postgresql(toy: dict[str, Path], pg_url: str, tmp_path: Path) -> None:
    """The same path on PostgreSQL: idempotent ingest, a run with its audit and decisions stored in the
    server's JSON columns, and a second process (the CLI, by URL alone) that finds the run and blocks."""
    project = Project(pg_url, workdir=tmp_path / "runs")
    assert project.ingest([toy["papers"]], str(toy["domain"]), extractor="rules", progress=False).counts["papers"] == 2
    assert project.ingest([toy["papers"]], str(toy["domain"]), extractor="rules", progress=False).counts["papers"] == 0
    hits = project.search("alpha activates beta", k=2)
    assert hits[0].rendering == "Alpha activates Beta" and [c.year for c in hits[0].citations] == [2003]  # ALK9 -> BTK9
    res = project.train(str(toy["domain"]), data=toy["data"], iterations=600, n_samples=400, progress=False)
    report = project.audit(res.run_id)
    assert report["exact"] is True and len(report["rows"]) == len(project.hypotheses("toy"))
    dec = project.check("activate alpha kinase", "Gamma > q90", bound="human")
    assert dec.status.value == "block" and dec.decision_id is not None
    assert "\"Alpha kinase activates beta kinase in these cells.\" (Doe 2001)" in project.explain(dec.decision_id)
    r = CliRunner().invoke(app, ["check", "activate Alpha", "--harm", "Gamma > q90", "--bound", "human", "--db", pg_url, "--json"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert out["status"] == "block" and out["decision_id"] == dec.decision_id + 1
