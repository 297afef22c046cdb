"""Issue 15, the dashboard: a cross-site POST stores nothing (same-origin check on every POST), a Host
allow-list against DNS rebinding, framing and content-security headers on every response, path ids
range-checked (a 404, never a 500), inputs bounded. No training: the guard is replaced by a recorder, so
what is asserted is whether a request reaches it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
from fastapi.testclient import TestClient  # noqa: E402

FORM = {"action": "inhibit Raf", "harm": "Mek < q10", "bound": "human", "threshold": "0.5"}


@pytest.fixture()
def app_and_calls(tmp_path: Path) -> tuple[Any, list]:
    from theorycov.project import Project
    from theorycov.web import create_app

    app = create_app(f"sqlite:///{tmp_path / 'web.db'}", writable=True, allowed_hosts=("127.0.0.1", "localhost", "::1", "dash.lab"))
    calls: list = []

    def check(self: Project, action: str, harm: str, **kw: Any) -> Any:
        calls.append((action, harm, kw))
        raise __import__("theorycov.errors", fromlist=["ProjectError"]).ProjectError("recorded; no run in this test")

    app.state.project.check = check.__get__(app.state.project)
    return app, calls


def _client(app: Any, host: str = "127.0.0.1:8765") -> TestClient:
    return TestClient(app, base_url=f"http://{host}")


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},  # the reproduction
    {"Origin": "null"},  # a sandboxed frame or a data: page
    {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Referer": "http://evil.example/form.html"},
])
def test_a_cross_site_post_is_refused(app_and_calls: tuple, headers: dict) -> None:
    app, calls = app_and_calls
    c = _client(app)
    r = c.post("/check", data=FORM, headers=headers)
    assert r.status_code == 403 and "cross-site request refused" in r.text  # before: 200, and the decision was stored
    r = c.post("/api/check", json=FORM, headers=headers)
    assert r.status_code == 403
    assert calls == []


def test_a_same_origin_post_reaches_the_guard(app_and_calls: tuple) -> None:
    app, calls = app_and_calls
    c = _client(app)
    r = c.post("/check", data=FORM, headers={"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 409 and "recorded; no run in this test" in r.text
    r = c.post("/api/check", json=FORM)  # no browser headers at all: a script, not a page
    assert r.status_code == 409 and len(calls) == 2


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_other_host_names_are_refused(app_and_calls: tuple, host: str) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends Host: evil.example."""
    app, calls = app_and_calls
    c = _client(app, host)
    assert c.get("/").status_code == 400
    assert c.get("/api/overview").status_code == 400
    r = c.post("/check", data=FORM, headers={"Origin": f"http://{host}"})  # same-origin to the attacker's name
    assert r.status_code == 400 and "does not answer to the host" in r.text and calls == []


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost", "LOCALHOST:80", "[::1]:8765", "dash.lab:8765"])
def test_allowed_host_names(app_and_calls: tuple, host: str) -> None:
    assert _client(app_and_calls[0], host).get("/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/check", "/decisions/5", "/nonexistent", "/api/overview"])
def test_every_response_forbids_foreign_framing(app_and_calls: tuple, path: str) -> None:
    r = _client(app_and_calls[0]).get(path)
    assert r.headers["x-frame-options"] == "SAMEORIGIN" and r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp and "form-action 'self'" in csp
    assert "script-src" not in csp  # no script runs, from anywhere


@pytest.mark.parametrize("path", [
    "/decisions/99999999999999999999", "/decisions/9223372036854775808", "/decisions/-1", "/decisions/0",
    "/decisions/1e9", "/hypotheses/99999999999999999999", "/hypotheses/abc", "/hypotheses/%EF%BC%91",  # a full-width 1
])
def test_ids_out_of_range_are_404(app_and_calls: tuple, path: str) -> None:
    r = _client(app_and_calls[0]).get(path)
    assert r.status_code == 404 and "does not exist in this database" in r.text  # before: 500 (OverflowError in SQLite)


def test_api_ids_out_of_range_are_404(app_and_calls: tuple) -> None:
    r = _client(app_and_calls[0]).get("/api/decisions/99999999999999999999")
    assert r.status_code == 404 and r.json()["error"].startswith("no decision")


def test_long_inputs_and_thresholds_are_refused(app_and_calls: tuple) -> None:
    app, calls = app_and_calls
    c = _client(app)
    assert c.get("/hypotheses", params={"q": "x" * 501}).status_code == 400
    assert c.get("/api/hypotheses", params={"q": "x" * 501}).status_code == 400
    for threshold in ("1", "0", "nan", "2"):
        r = c.post("/check", data=FORM | {"threshold": threshold})
        assert r.status_code == 400 and "strictly between 0 and 1" in r.text
    r = c.post("/check", data=FORM | {"action": "inhibit " + "Raf" * 200})
    assert r.status_code == 400 and "at most 500 characters" in r.text
    assert calls == []


def test_serve_refuses_a_missing_database(tmp_path: Path) -> None:
    from theorycov.db.session import DatabaseOpenError
    from theorycov.web import create_app

    with pytest.raises(DatabaseOpenError, match="there is no database at"):
        create_app(f"sqlite:///{tmp_path / 'typo.db'}", must_exist=True)
    assert not (tmp_path / "typo.db").exists()
