"""The dashboard against a small real database: three tiny papers read by the rule extractor, one brief
training run, decisions made through the check form. Asserts what could be false: renderings and
sentences shown, paper text escaped, the library's error messages shown with 400/409, read-only mode."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
from fastapi.testclient import TestClient  # noqa: E402

XSS = "<script>alert('x')</script>"
LOCAL = "http://127.0.0.1"  # the dashboard answers to loopback names only (a Host allow-list against DNS rebinding)
PAPERS = [
    {"id": "p1", "title": f"Raf signalling {XSS} revisited", "authors": ["Alpha, Ann", "Beta, Bob"], "year": 2001, "pmid": "111",
     "abstract": "Raf activates Mek in T cells. Mek phosphorylates Erk after stimulation."},
    {"id": "p2", "title": "PKC acts upstream of Raf", "authors": ["Gamma, Gus"], "year": 2003, "doi": "10.1000/xyz",
     "abstract": "Protein kinase C activates Raf. PKC also activates P38."},
    {"id": "p3", "title": "Plcg and PIP3", "authors": ["Delta, Dee", "Eps, Eve"], "year": 2004,
     "abstract": "Plcg activates PIP2. PIP3 activates Akt."},
]


def build_web_db(root: Path, *, train: bool) -> str:
    """Ingest the three papers into ``root`` and, with ``train``, fit one brief run (the slow part: about
    20 s of CPU). Each step happens once per test session: the browser test reuses the folder."""
    from theorycov.project import Project

    url = f"sqlite:///{root / 'web.db'}"
    root.mkdir(parents=True, exist_ok=True)
    project = Project(url, workdir=root / "runs")
    if not (root / "ingested").is_file():
        src = root / "papers.jsonl"
        src.write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n", encoding="utf-8")
        project.ingest([src], "sachs", extractor="rules", progress=False)
        (root / "ingested").write_text("ok")
    if train and not (root / "trained").is_file():
        project.train("sachs", iterations=100, n_samples=300, progress=False)
        (root / "trained").write_text("ok")
    return url


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """Read-only dashboard over the papers alone (no training run: fast)."""
    from theorycov.web import create_app

    return TestClient(create_app(build_web_db(tmp_path_factory.getbasetemp() / "webdb", train=False)), base_url=LOCAL)


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_web_db(tmp_path_factory.getbasetemp() / "webdb", train=True)


@pytest.fixture(scope="module")
def ro(db_url: str) -> TestClient:
    from theorycov.web import create_app

    return TestClient(create_app(db_url), base_url=LOCAL)


@pytest.fixture(scope="module")
def rw(db_url: str) -> TestClient:
    from theorycov.web import create_app

    return TestClient(create_app(db_url, writable=True), base_url=LOCAL)


def _alert(html: str) -> str:
    m = re.search(r'role="alert">(.*?)</p>', html, re.S)
    return m.group(1) if m else ""


@pytest.mark.slow
def test_overview_counts(ro: TestClient) -> None:
    r = ro.get("/")
    assert r.status_code == 200
    counts = ro.get("/api/overview").json()["counts"]
    assert counts["papers"] == 3 and counts["hypotheses"] >= 2 and counts["runs"] == 1
    assert f"<b>{counts['papers']}</b>papers" in r.text
    assert "read-only" in r.text


def test_hypotheses_show_renderings_citations_and_sentences(plain: TestClient) -> None:
    r = plain.get("/hypotheses")
    assert r.status_code == 200
    assert "Raf activates Mek" in r.text
    assert "PKC activates Raf" in r.text
    assert "Raf activates Mek in T cells." in r.text  # the evidence sentence itself
    assert "Alpha et al. 2001" in r.text and "PMID 111" in r.text


def test_paper_text_is_escaped(plain: TestClient) -> None:
    body = plain.get("/hypotheses").text
    assert XSS not in body
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body


def test_hypothesis_page_and_404(plain: TestClient) -> None:
    hyps = plain.get("/api/hypotheses").json()
    h = next(h for h in hyps if "PKC activates Raf" in h["rendering"])
    r = plain.get(f"/hypotheses/{h['id']}")
    assert r.status_code == 200 and "Protein kinase C activates Raf." in r.text and "Gamma 2003" in r.text
    assert plain.get("/hypotheses/99999").status_code == 404


def test_search_uses_the_index(plain: TestClient) -> None:
    r = plain.get("/hypotheses", params={"q": "what activates Akt"})
    assert r.status_code == 200
    first = re.search(r'<td><a href="/hypotheses/\d+">#\d+</a> ([^<]*)</td>', r.text)
    assert first is not None and "Akt" in first.group(1)


@pytest.mark.slow
def test_audit_page_embeds_the_stored_report(ro: TestClient) -> None:
    r = ro.get("/audit")
    assert r.status_code == 200 and "covered" in r.text and 'src="/audit/report.html"' in r.text
    rep = ro.get("/audit/report.html")
    assert rep.status_code == 200 and "Coverage audit: sachs" in rep.text
    assert ro.get("/api/audit").json()["domain"] == "sachs"


@pytest.mark.slow
def test_read_only_check_computes_without_storing(ro: TestClient) -> None:
    before = ro.get("/api/overview").json()["counts"]["decisions"]
    r = ro.post("/check", data={"action": "inhibit Raf", "harm": "Mek < q10", "bound": "human", "threshold": "0.5"})
    assert r.status_code == 200, _alert(r.text)
    assert "Not stored: server is read-only." in r.text
    assert re.search(r"(Blocked|Allowed): inhibit Raf", r.text)
    assert "The probability that Mek" in r.text
    assert ro.get("/api/overview").json()["counts"]["decisions"] == before


@pytest.mark.slow
@pytest.mark.parametrize(("form", "status", "says"), [
    ({"action": "frobnicate Raf", "harm": "Mek < q10"}, 400, "inhibit X"),  # GuardInputError lists the accepted forms
    ({"action": "inhibit Zorblax", "harm": "Mek < q10"}, 400, "Zorblax"),
    ({"action": "inhibit Raf", "harm": "Mek < q10", "threshold": "lots"}, 400, "threshold must be a probability strictly between 0 and 1"),
    ({"action": "inhibit Raf", "harm": "Mek < q10", "bound": "vibes"}, 400, "bound must be one of"),
    ({"action": "", "harm": "Mek < q10"}, 400, "give both an action"),
])
def test_bad_input_shows_the_message(ro: TestClient, form: dict, status: int, says: str) -> None:
    r = ro.post("/check", data={"bound": "human", "threshold": "0.5"} | form)
    assert r.status_code == status
    assert says in _alert(r.text)
    assert "Traceback" not in r.text


def test_no_trained_run_is_409(tmp_path: Path) -> None:
    from theorycov.web import create_app

    c = TestClient(create_app(f"sqlite:///{tmp_path / 'empty.db'}"), base_url=LOCAL)
    r = c.post("/check", data={"action": "inhibit Raf", "harm": "Mek < q10", "bound": "human", "threshold": "0.5"})
    assert r.status_code == 409 and "theorycov train" in _alert(r.text)
    for page in ("/", "/hypotheses", "/audit", "/decisions", "/check"):
        assert c.get(page).status_code == 200, page


@pytest.mark.slow
def test_writable_check_stores_and_links(rw: TestClient) -> None:
    r = rw.post("/check", data={"action": "activate PKC", "harm": "P38 > q90", "bound": "human", "threshold": "0.5"})
    assert r.status_code == 200, _alert(r.text)
    m = re.search(r'Stored as <a href="/decisions/(\d+)">', r.text)
    assert m, r.text[:2000]
    did = int(m.group(1))
    page = rw.get(f"/decisions/{did}")
    assert page.status_code == 200 and "activate PKC" in page.text and "The probability that P38" in page.text
    record = rw.get(f"/api/decisions/{did}").json()
    assert record["inputs"]["action"].startswith("activate PKC") and record["explanation"]["text"].startswith(("Blocked", "Allowed"))
    listing = rw.get("/decisions").text
    assert f'href="/decisions/{did}"' in listing
    assert rw.get("/decisions/99999").status_code == 404


@pytest.mark.slow
def test_decision_row_text_is_escaped(rw: TestClient, db_url: str) -> None:
    """A decision inserted directly (no guard): its stored text is shown escaped, its JSON too."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    with session_scope(db_url) as s:
        did = crud.add_decision("block", session=s, inputs={"action": XSS, "harm": "Mek < q10", "bound": "human", "threshold": 0.5},
                                estimates={"human": 0.9}, explanation={"text": f"Blocked: {XSS}.", "risk": 0.9}).id
    r = rw.get(f"/decisions/{did}")
    assert r.status_code == 200 and XSS not in r.text and "Blocked: &lt;script&gt;" in r.text


@pytest.mark.slow
def test_api_check(rw: TestClient) -> None:
    r = rw.post("/api/check", json={"action": "frobnicate Raf", "harm": "Mek < q10"})
    assert r.status_code == 400 and "inhibit X" in r.json()["error"]


def _svg_marks(html: str) -> list[tuple[str, str]]:
    """(data-edge, class) of every highlighted relation in the page's drawing (attribute text unescaped)."""
    import html as _html

    return [(_html.unescape(e), c) for c, e in re.findall(r'<path class="(mark [^"]*)" data-edge="([^"]*)"', html)]


@pytest.mark.slow
def test_audit_and_hypothesis_pages_draw_the_posterior(ro: TestClient) -> None:
    report = ro.get("/api/audit").json()
    names, rows = report["variables"], [r for r in report["rows"] if r.get("hypothesis_id")]
    assert len(report["edge_marginals"]) == len(names) and rows
    page = ro.get("/audit").text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="graph"') == 1 and page.count('<g class="node">') == len(names)
    assert _svg_marks(page) == []  # nothing picked: the posterior alone
    row = next(r for r in rows if "Raf activates Mek" in r["rendering"])
    picked = ro.get("/audit", params={"theory": row["hypothesis_id"]}).text
    kind = {1: "plus", -1: "minus", 0: "unsigned"}
    want = sorted((f"{c['cause']}->{c['effect']}", f"mark {'forbidden' if c['forbidden'] else kind[c['sign']]}" + (" path" if c["path"] else ""))
                  for c in row["constraints"])
    assert sorted(_svg_marks(picked)) == want and any(e == "Raf->Mek" and c.startswith("mark plus") for e, c in want)
    assert f'<option value="{row["hypothesis_id"]}" selected>' in picked
    missing = ro.get("/audit", params={"theory": 99999}).text
    assert "No theory #99999 in this audit" in missing and _svg_marks(missing) == []
    hyp = ro.get(f"/hypotheses/{row['hypothesis_id']}").text
    assert "On the posterior" in hyp and sorted(_svg_marks(hyp)) == want


@pytest.mark.slow
def test_decision_page_draws_the_deciding_graph_and_path(rw: TestClient) -> None:
    r = rw.post("/check", data={"action": "inhibit Raf", "harm": "Mek < q10", "bound": "human", "threshold": "0.5"})
    assert r.status_code == 200, _alert(r.text)
    did = int(re.search(r'Stored as <a href="/decisions/(\d+)">', r.text).group(1))  # type: ignore[union-attr]
    exp = rw.get(f"/api/decisions/{did}").json()["explanation"]
    page = rw.get(f"/decisions/{did}").text
    assert exp["deciding_graph"] and exp["paths"]  # the seeded run's deciding theory has Raf -> Mek
    assert "The deciding graph" in page and page.count('<path class="edge"') == len(exp["deciding_graph"])
    path_edges = {(e["cause"], e["effect"]): e["weight"] for p in exp["paths"] for e in p["edges"]}
    assert sorted(e for e, _ in _svg_marks(page)) == sorted(f"{a}->{b}" for a, b in path_edges)
    for w in path_edges.values():
        assert f">{w:+.2f}</text>" in page  # each path edge labelled with its fitted weight


def test_drawings_escape_what_the_records_hold() -> None:
    from theorycov.pictures import audit_graph, decision_graph

    exp = {"deciding_graph": [[XSS, "Mek"]], "paths": [{"edges": [{"cause": XSS, "effect": "Mek", "weight": -0.5}]}]}
    svg = str(decision_graph(exp))
    assert XSS not in svg and "&lt;script&gt;" in svg and ">-0.50</text>" in svg
    assert decision_graph({"deciding_graph": [], "paths": []}) is None
    report = {"variables": [XSS, "b"], "edge_marginals": [[0, 0.7], [0, 0]],
              "rows": [{"hypothesis_id": 4, "rendering": XSS, "constraints": [{"cause": XSS, "effect": "b", "sign": -1}]}]}
    assert XSS not in str(audit_graph(report, 4)) and "mark minus" in str(audit_graph(report, 4))
    assert audit_graph(report, 5) is None and audit_graph({"rows": []}) is None


@pytest.mark.pg
def test_dashboard_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """The read-only pages over a PostgreSQL database: renderings, sentences and citations, escaping, the
    index-backed search, a directly stored decision shown escaped, and 409 on a check with no run."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope
    from theorycov.project import Project
    from theorycov.web import create_app

    src = tmp_path / "papers.jsonl"
    src.write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n", encoding="utf-8")
    Project(pg_url, workdir=tmp_path / "runs").ingest([src], "sachs", extractor="rules", progress=False)
    c = TestClient(create_app(pg_url), base_url=LOCAL)
    counts = c.get("/api/overview").json()["counts"]
    assert counts["papers"] == 3 and counts["runs"] == 0
    body = c.get("/hypotheses").text
    assert "Raf activates Mek" in body and "Raf activates Mek in T cells." in body and "Alpha et al. 2001" in body
    assert XSS not in body and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body
    h = next(h for h in c.get("/api/hypotheses").json() if "PKC activates Raf" in h["rendering"])
    assert "Protein kinase C activates Raf." in c.get(f"/hypotheses/{h['id']}").text
    first = re.search(r'<td><a href="/hypotheses/\d+">#\d+</a> ([^<]*)</td>', c.get("/hypotheses", params={"q": "what activates Akt"}).text)
    assert first is not None and "Akt" in first.group(1)
    with session_scope(pg_url) as s:
        did = crud.add_decision("block", session=s, inputs={"action": XSS, "harm": "Mek < q10", "bound": "human", "threshold": 0.5},
                                estimates={"human": 0.9}, explanation={"text": f"Blocked: {XSS}.", "risk": 0.9}).id
    r = c.get(f"/decisions/{did}")
    assert r.status_code == 200 and XSS not in r.text and "Blocked: &lt;script&gt;" in r.text
    assert c.get(f"/api/decisions/{did}").json()["estimates"] == {"human": 0.9}
    r = c.post("/check", data={"action": "inhibit Raf", "harm": "Mek < q10", "bound": "human", "threshold": "0.5"})
    assert r.status_code == 409 and "theorycov train" in _alert(r.text)
