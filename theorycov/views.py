"""What the dashboard's pages show: plain dicts built from the store through db.crud and corpus.store, and
the form-driven harm check. theorycov.web routes requests to these and renders the templates; no query here
writes SQL of its own."""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from theorycov import boundary
from theorycov.coverage.guard.estimators import Bound
from theorycov.db.session import session_scope
from theorycov.errors import InputError, ProjectError
from theorycov.pictures import decision_graph
from theorycov.project import Project

__all__ = ["BOUNDS", "MAX_TEXT", "decision_rows", "decision_view", "hypothesis_views", "latest_audit", "overview", "run_check"]

BOUNDS = tuple(b.value for b in Bound)
MAX_TEXT = 500  # characters of a search text, an action or a harm phrase


def run_check(project: Project, lock: threading.Lock, form: dict[str, str], *, store: bool) -> tuple[int, Any]:
    """Run one harm check from form strings: (200, view) or (400 | 409, the library's message)."""
    from theorycov.corpus.types import CorpusError
    from theorycov.coverage.guard.explain import render_text

    if not form["action"].strip() or not form["harm"].strip():
        return 400, "give both an action (e.g. 'inhibit Raf') and a harm (e.g. 'Mek < q10')"
    if len(form["action"]) > MAX_TEXT or len(form["harm"]) > MAX_TEXT:
        return 400, f"an action or a harm phrase has at most {MAX_TEXT} characters"
    if form["bound"] not in BOUNDS:
        return 400, f"bound must be one of {', '.join(BOUNDS)}; got {form['bound']!r}"
    try:
        threshold = boundary.threshold(form["threshold"])  # the API's and the CLI's rule: strictly between 0 and 1
    except InputError as err:
        return 400, str(err)
    try:
        with lock:
            dec = project.check(form["action"], form["harm"], bound=form["bound"], threshold=threshold, store=store)
    except ProjectError as err:  # no trained run, missing posterior: the database is not ready for checks
        return 409, str(err)
    except FileNotFoundError as err:
        return 409, str(err)
    except (ValueError, CorpusError) as err:  # GuardInputError, HypothesisError, GFNError...: bad phrases
        return 400, str(err)
    explanation = json.loads(dec.to_json())
    explanation["text"] = render_text(dec)
    record = {"id": dec.decision_id, "decision": dec.status.value, "inputs": form | {"threshold": threshold},
              "estimates": dec.estimates, "explanation": explanation, "stored": dec.decision_id is not None}
    return 200, _view(record)


def overview(project: Project) -> dict[str, Any]:
    """Row counts and the latest run, for the front page."""
    from theorycov.db import crud

    with session_scope(project.engine) as s:
        run = crud.latest_finished_run(session=s)
        latest = None if run is None else {
            "id": run.id, "finished": str(run.finished_at or "")[:19], "domain": (run.config or {}).get("domain", ""),
            "iterations": (run.metrics or {}).get("iterations"), "covered_share": (run.metrics or {}).get("covered_share")}
        return {"counts": crud.row_counts(session=s), "latest_run": latest, "domains": list(crud.domain_names(session=s).values())}


def hypothesis_views(project: Project, hid: int | None = None) -> list[dict[str, Any]]:
    """Every hypothesis (or one) with its constraints, papers, evidence sentences and latest audit row."""
    from theorycov.corpus.store import hypothesis_records

    audit = latest_audit(project, with_html=False)
    audit_rows = {r.get("hypothesis_id"): r for r in (audit["report"].get("rows", []) if audit else []) if r.get("hypothesis_id") is not None}
    with session_scope(project.engine) as s:
        return [rec | {"audit": audit_rows.get(rec["id"])} for rec in hypothesis_records(session=s, hypothesis_id=hid)]


def latest_audit(project: Project, *, with_html: bool = True) -> dict[str, Any] | None:
    """The newest stored audit: its report (JSON), its HTML page when the file is still there (and asked
    for), its run."""
    from theorycov.db import crud

    with session_scope(project.engine) as s:
        row = crud.latest_audit(session=s)
        if row is None:
            return None
        report, html_path, run_id, created = dict(row.report), row.html_path, row.run_id, str(row.created_at)[:19]
    html = None
    if with_html and html_path and Path(html_path).is_file():
        html = Path(html_path).read_text(encoding="utf-8")
    return {"report": report, "html": html, "html_path": html_path, "run_id": run_id, "created": created}


def decision_rows(project: Project) -> list[dict[str, Any]]:
    """Stored decisions, newest first."""
    from theorycov.db import crud

    with session_scope(project.engine) as s:
        return [{"id": r.id, "created": str(r.created_at)[:19], "decision": r.decision, "action": r.inputs.get("action", ""),
                 "harm": r.inputs.get("harm", ""), "bound": r.inputs.get("bound", ""), "risk": (r.explanation or {}).get("risk"),
                 "threshold": r.inputs.get("threshold"), "run_id": r.run_id}
                for r in crud.list_decisions(session=s)]


def decision_view(project: Project, did: int) -> dict[str, Any] | None:
    """One stored decision as the decision page shows it (None when there is no such row)."""
    from theorycov.db import crud

    with session_scope(project.engine) as s:
        r = crud.get_decision(did, session=s)
        if r is None:
            return None
        record = {"id": r.id, "decision": r.decision, "inputs": dict(r.inputs), "estimates": dict(r.estimates),
                  "explanation": dict(r.explanation), "deciding_hypothesis_id": r.deciding_hypothesis_id, "run_id": r.run_id,
                  "model_version": r.model_version, "data_version": r.data_version, "created": str(r.created_at)[:19], "stored": True}
    return _view(record)


def _view(record: dict[str, Any]) -> dict[str, Any]:
    """What decision.html and check.html need: the record, its text, its paths, and the JSON to show."""
    exp = record["explanation"]
    return {"record": record, "id": record["id"], "decision": record["decision"], "text": exp.get("text", ""),
            "action": exp.get("action", record["inputs"].get("action", "")), "harm": exp.get("harm", record["inputs"].get("harm", "")),
            "risk": exp.get("risk"), "bound": exp.get("bound", record["inputs"].get("bound", "")),
            "threshold": exp.get("threshold", record["inputs"].get("threshold")), "estimates": record["estimates"],
            "theory": exp.get("deciding_theory"), "citations": exp.get("deciding_citations") or [], "paths": exp.get("paths") or [],
            "hypothesis_id": record.get("deciding_hypothesis_id"), "stored": record["stored"], "graph": decision_graph(exp),
            "json": boundary.dumps(record, indent=2)}


def _variables(project: Project) -> list[str]:
    """Variable names of the stored domains, as a hint beside the form."""
    from theorycov.db import crud

    with session_scope(project.engine) as s:
        return crud.variable_names(session=s)


def _num(x: Any, fmt: str = "{:.3g}") -> str:
    """Numbers for people: NaN and missing values as a dash (stored JSON keeps them as strings)."""
    if isinstance(x, bool) or x is None:
        return "–" if x is None else str(x)
    if isinstance(x, str) and x.lower() in ("nan", "inf", "-inf", "infinity"):  # how coverage.report stores them
        x = float(x)
    if fmt == "{:.3g}" and (isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15)):
        return f"{int(x):,}"  # counts (graphs, samples, iterations) read better whole
    if isinstance(x, (int, float)):
        return "–" if math.isnan(x) else ("∞" if math.isinf(x) else fmt.format(x))
    return str(x)


