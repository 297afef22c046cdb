"""The dashboard end to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never
`playwright install`): a real uvicorn server on a free loopback port, pages loaded, the check form
submitted, the explanation read, the stored decision opened from its link."""
from __future__ import annotations

import importlib.util
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def _sibling(name: str) -> Any:
    """A sibling test module (the database builder lives in test_web.py; tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_theorycov_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _requirements() -> None:
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium (.ci/run does)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the playwright package is not installed: pip install -e '.[dev]'")
    pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install -e '.[web]'")


def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread on a free 127.0.0.1 port; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the server takes this socket: no race for the port
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _requirements()
    from theorycov.web import create_app

    url = _sibling("test_web").build_web_db(tmp_path_factory.getbasetemp() / "webdb", train=True)
    yield from serve(create_app(url, writable=True))


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 800})
        pg.dialogs = []  # type: ignore[attr-defined]  # an alert() would mean paper text ran as script
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def test_pages_load_and_link(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    assert page.locator("h1").inner_text() == "Overview"
    assert "papers" in page.locator(".cards").inner_text()
    page.click("header >> text=Hypotheses")
    page.wait_for_url("**/hypotheses")
    body = page.locator("main").inner_text()
    assert "Raf activates Mek" in body and "Raf activates Mek in T cells." in body
    assert "<script>alert('x')</script>" in body  # shown as text, not run
    assert page.dialogs == []


def test_audit_report_is_embedded(page: Any, base_url: str) -> None:
    page.goto(base_url + "/audit")
    frame = page.frame_locator("iframe.report")
    assert "Coverage audit: sachs" in frame.locator("h1").inner_text()


def test_search_box(page: Any, base_url: str) -> None:
    page.goto(base_url + "/hypotheses")
    page.fill("input[name=q]", "what activates Akt")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/hypotheses?q=*")
    assert "Akt" in page.locator("table tr:nth-child(2)").inner_text()


def test_check_form_explains_and_stores(page: Any, base_url: str) -> None:
    page.goto(base_url + "/check")
    page.fill("#action", "inhibit Raf")
    page.fill("#harm", "Mek < q10")
    page.select_option("#bound", "human")
    page.fill("#threshold", "0.5")
    page.click("button[type=submit]")
    page.wait_for_selector("pre.explanation")
    text = page.locator("pre.explanation").inner_text()
    assert text.startswith(("Blocked: inhibit Raf", "Allowed: inhibit Raf")) and "The probability that Mek" in text
    link = page.locator(".note a")
    assert link.inner_text().startswith("decision ")
    link.click()
    page.wait_for_url("**/decisions/*")
    assert page.locator("pre.explanation").inner_text() == text


def test_bad_phrase_shows_the_error(page: Any, base_url: str) -> None:
    page.goto(base_url + "/check")
    page.fill("#action", "frobnicate Raf")
    page.click("button[type=submit]")
    alert = page.wait_for_selector("[role=alert]")
    assert "inhibit X" in alert.inner_text()
    assert page.locator("pre.explanation").count() == 0


def test_audit_and_decision_pages_draw_their_graphs(page: Any, base_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The drawings render in a real browser: one node per variable on the audit page, a picked theory's
    relations highlighted, the deciding graph with its path on a decision page; screenshots kept for a look."""
    shots = tmp_path_factory.mktemp("shots")
    n_vars = len(page.request.get(base_url + "/api/audit").json()["variables"])
    page.goto(base_url + "/audit")
    graph = page.locator("div.graph svg")
    assert graph.count() == 1 and graph.locator("g.node").count() == n_vars and graph.locator("path.edge").count() >= 1
    assert graph.locator("path.mark").count() == 0 and graph.bounding_box()["width"] > 300  # type: ignore[index]
    page.select_option("#theory", index=0)
    page.click("form.search button")
    page.wait_for_url("**/audit?theory=*")
    assert page.locator("div.graph svg path.mark").count() >= 1 and page.locator("div.graph svg path.mark.plus").count() >= 1
    page.locator("div.graph").screenshot(path=str(shots / "audit-graph.png"))
    page.goto(base_url + "/check")
    page.fill("#action", "inhibit Raf")
    page.fill("#harm", "Mek < q10")
    page.click("button[type=submit]")
    page.wait_for_selector(".note a")
    page.locator(".note a").click()
    page.wait_for_url("**/decisions/*")
    drawing = page.locator("div.graph svg")
    assert drawing.count() == 1 and drawing.locator("path.mark").count() >= 1 and drawing.locator("text", has_text=re.compile(r"^[+-]\d\.\d\d$")).count() >= 1
    page.screenshot(path=str(shots / "decision.png"), full_page=True)
    assert page.dialogs == []
    print(f"screenshots in {shots}")
