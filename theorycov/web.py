"""The web dashboard (`theorycov serve`): server-rendered pages over one database.

Pages: ``/`` overview, ``/hypotheses`` (with a FAISS search box) and ``/hypotheses/{id}``, ``/audit`` (the
latest coverage audit), ``/decisions`` and ``/decisions/{id}``, ``/check`` (a harm-check form). JSON twins
live under ``/api/...``. Every page is self-contained (inline CSS, no JavaScript, nothing fetched from
elsewhere) so the dashboard works offline, and every string from a paper goes through Jinja's autoescape.

Read-only by default: the check form then computes the decision without storing it. ``writable=True``
stores decisions like ``theorycov check`` does. The CLI binds the server to 127.0.0.1.

Hardening (issue 15), on every request, before any page code runs:

- a Host allow-list (loopback names, plus what ``allowed_hosts`` adds): a page reached through another
  name is refused with 400, so DNS rebinding (evil.example resolving to 127.0.0.1) reads and writes nothing;
- a same-origin check on every POST: a browser's ``Origin`` (or, without one, ``Sec-Fetch-Site`` and
  ``Referer``) must be this dashboard's own, else 403, so a cross-site form cannot store a decision;
- ``X-Frame-Options: SAMEORIGIN`` and a Content-Security-Policy that loads nothing from elsewhere, runs no
  script and frames only the dashboard's own report; ``X-Content-Type-Options: nosniff``;
- every path id range-checked (a missing page, not a 500, for ``/decisions/99999999999999999999``), search
  texts and phrases bounded in length, and the check form's values through :mod:`theorycov.boundary`,
  the same checks as the API and the CLI.

This module imports FastAPI at the top: only ``theorycov serve`` and the tests import it.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from theorycov import boundary
from theorycov.pictures import audit_graph
from theorycov.project import Project
from theorycov.views import (  # noqa: F401  (decision_rows/decision_view: docs/make_screenshots.py reads them here)
    BOUNDS, MAX_TEXT, _num, _variables, decision_rows, decision_view, hypothesis_views, latest_audit, overview, run_check,
)

logger = logging.getLogger(__name__)

__all__ = ["BOUNDS", "LOOPBACK_HOSTS", "SECURITY_HEADERS", "create_app"]

TEMPLATES = Path(__file__).with_name("templates")
EXAMPLES = (("inhibit Raf", "Mek < q10"), ("activate PKC", "P38 > q90"), ("inhibit Plcg", "Akt < q10"))
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",  # the audit page frames its own report; nobody else frames anything
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
                               "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(db_url: str | None = None, *, writable: bool = False, workdir: str | Path | None = None,
               must_exist: bool = False, allowed_hosts: Sequence[str] = LOOPBACK_HOSTS) -> FastAPI:
    """The dashboard over ``db_url`` (default: $THEORYCOV_DB_URL or ./theorycov.db).

    Args:
        writable: let the check form store decisions (off by default: a dashboard is for reading).
        workdir: run artefacts folder, as for :class:`Project`.
        must_exist: refuse a database that does not exist instead of creating it (``theorycov serve``).
        allowed_hosts: the host names (without port) requests may name in their Host header.
    """
    from fastapi.templating import Jinja2Templates
    from jinja2 import Environment, FileSystemLoader

    project = Project(db_url, workdir=workdir, must_exist=must_exist)
    hosts = {h.strip("[]").lower() for h in allowed_hosts}
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)  # autoescape on for every template, not only *.html
    env.filters["num"] = _num
    env.filters["pct"] = lambda x: _num(x, "{:.0%}")
    templates = Jinja2Templates(env=env)
    # One guard computation or embedding at a time: each already uses the machine's cores, and two at
    # once on a small box only make both slow (and build the same cached guard twice).
    compute = threading.Lock()
    app = FastAPI(title="theorycov", docs_url=None, redoc_url=None, openapi_url=None)  # the docs pages load JS from a CDN
    app.state.project, app.state.writable = project, writable

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("title", "")
        return templates.TemplateResponse(request, name, {"writable": writable, "db_url": _safe_url(project), **ctx}, status_code=status)

    def not_found(request: Request, what: str) -> HTMLResponse:
        return page(request, "error.html", 404, title="not found", message=f"{what} does not exist in this database.")

    @app.middleware("http")
    async def _guard_requests(request: Request, call_next: Any) -> Response:
        host = _host_name(request.headers.get("host", ""))
        if host not in hosts:
            return _secured(PlainTextResponse(f"400: this dashboard does not answer to the host {host!r}; allowed: "
                                              f"{', '.join(sorted(hosts))} (theorycov serve --allow-host NAME)", 400))
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            return _secured(PlainTextResponse("403: cross-site request refused: this form only accepts posts from the "
                                              "dashboard's own pages", 403))
        return _secured(await call_next(request))

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception) -> Response:  # a message, never a stack trace, to the browser
        logger.exception("unhandled error on %s", request.url.path)
        return HTMLResponse(f"<!doctype html><title>error</title><p>Internal error ({type(err).__name__}); see the server log.</p>", 500)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return page(request, "index.html", info=overview(project), examples=EXAMPLES)

    @app.get("/hypotheses", response_class=HTMLResponse)
    def hypotheses(request: Request, q: str = "") -> HTMLResponse:
        if len(q) > MAX_TEXT:
            return page(request, "error.html", 400, title="search", message=f"a search text has at most {MAX_TEXT} characters.")
        if not q.strip():
            return page(request, "hypotheses.html", title="hypotheses", hyps=hypothesis_views(project), q="", hits=None)
        with compute:
            hits = project.search(q.strip(), k=10)
        return page(request, "hypotheses.html", title="search", hyps=[], q=q, hits=hits)

    @app.get("/hypotheses/{hid}", response_class=HTMLResponse)
    def hypothesis(request: Request, hid: str) -> HTMLResponse:
        n = _row_id(hid)
        views = hypothesis_views(project, n) if n is not None else []
        if not views:
            return not_found(request, f"hypothesis {hid[:40]}")
        graph = audit_graph((latest_audit(project, with_html=False) or {}).get("report"), n)
        return page(request, "hypothesis.html", title=f"hypothesis {n}", h=views[0], graph=graph)

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, theory: int | None = None) -> HTMLResponse:  # ?theory=ID highlights that hypothesis
        a = latest_audit(project)
        report = a["report"] if a else None
        known = theory is not None and any(r.get("hypothesis_id") == theory for r in (report or {}).get("rows", []))
        graph = audit_graph(report, theory if known else None)
        return page(request, "audit.html", title="audit", audit=a, graph=graph, theory=theory, theory_known=known)

    @app.get("/audit/report.html", response_class=HTMLResponse)
    def audit_report(request: Request) -> HTMLResponse:
        a = latest_audit(project)
        if a is None or a["html"] is None:
            return not_found(request, "a stored HTML audit report")
        return HTMLResponse(a["html"])  # written by coverage.report, which escapes every paper string itself

    @app.get("/decisions", response_class=HTMLResponse)
    def decisions(request: Request) -> HTMLResponse:
        return page(request, "decisions.html", title="decisions", rows=decision_rows(project))

    @app.get("/decisions/{did}", response_class=HTMLResponse)
    def decision(request: Request, did: str) -> HTMLResponse:
        n = _row_id(did)
        view = decision_view(project, n) if n is not None else None
        return page(request, "decision.html", title=f"decision {n}", d=view) if view else not_found(request, f"decision {did[:40]}")

    @app.get("/check", response_class=HTMLResponse)
    def check_form(request: Request) -> HTMLResponse:
        form = {"action": EXAMPLES[0][0], "harm": EXAMPLES[0][1], "bound": "human", "threshold": "0.5"}
        return page(request, "check.html", title="check", form=form, bounds=BOUNDS, result=None, error=None, variables=_variables(project))

    @app.post("/check", response_class=HTMLResponse)
    def check_submit(request: Request, action: str = Form(""), harm: str = Form(""), bound: str = Form("human"),
                     threshold: str = Form("0.5")) -> HTMLResponse:
        form = {"action": action, "harm": harm, "bound": bound, "threshold": threshold}
        status, result = run_check(project, compute, form, store=writable)
        return page(request, "check.html", status, title="check", form=form, bounds=BOUNDS, variables=_variables(project),
                    result=result if status == 200 else None, error=None if status == 200 else result)

    # ------------------------------------------------------------------ JSON
    @app.get("/api/overview")
    def api_overview() -> dict:
        return overview(project)

    @app.get("/api/hypotheses")
    def api_hypotheses(q: str = "") -> Any:
        if len(q) > MAX_TEXT:
            return JSONResponse({"error": f"a search text has at most {MAX_TEXT} characters"}, 400)
        if q.strip():
            with compute:
                hits = project.search(q.strip(), k=10)
            return [{"hypothesis_id": h.hypothesis_id, "score": h.score, "rendering": h.rendering, "matched": h.matched,
                     "citations": [c.short() for c in h.citations]} for h in hits]
        return hypothesis_views(project)

    @app.get("/api/audit")
    def api_audit() -> Response:
        a = latest_audit(project)
        return JSONResponse({"error": "no audit stored yet"}, 404) if a is None else JSONResponse(boundary.finite(a["report"]))

    @app.get("/api/decisions/{did}")
    def api_decision(did: str) -> Response:
        n = _row_id(did)
        view = decision_view(project, n) if n is not None else None
        return JSONResponse({"error": f"no decision {did[:40]}"}, 404) if view is None else JSONResponse(boundary.finite(view["record"]))

    @app.post("/api/check")
    def api_check(body: dict) -> Response:
        form = {k: str(body.get(k, d)) for k, d in (("action", ""), ("harm", ""), ("bound", "human"), ("threshold", "0.5"))}
        status, result = run_check(project, compute, form, store=writable)
        return JSONResponse(boundary.finite(result["record"]) if status == 200 else {"error": result}, status)

    return app


def _row_id(text: str) -> int | None:
    """A path's id as a row id, or None (the page is then a 404): digits only, 1 to 2^63 - 1."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    n = int(text)
    return n if 1 <= n <= boundary.MAX_ID else None


def _host_name(host: str) -> str:
    """The name part of a Host header, lower-cased: 'LOCALHOST:8765' -> 'localhost', '[::1]:80' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(request: Request) -> bool:
    """Whether an unsafe request comes from this dashboard's own pages. Browsers send ``Origin`` with every
    POST (``null`` from sandboxed or privacy-stripped contexts: refused); without it, ``Sec-Fetch-Site``
    and ``Referer`` decide; a request with none of them is not from a browser page (curl, scripts)."""
    own = request.headers.get("host", "").strip().lower()
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin.strip().lower())
        return origin.strip().lower() != "null" and parts.scheme in ("http", "https") and parts.netloc == own
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        return False
    referer = request.headers.get("referer")
    return referer is None or urlsplit(referer.strip().lower()).netloc == own


def _secured(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def _safe_url(project: Project) -> str:
    return project.engine.url.render_as_string(hide_password=True)
