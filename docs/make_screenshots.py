"""Screenshots of the dashboard for the README: the audit page and one decision page.

    theorycov demo --out demo-out                  # or any trained database
    python docs/make_screenshots.py --db demo-out/theorycov.db

Serves the database read-only on a free loopback port, opens it in Debian's headless Chromium
(/usr/bin/chromium, driven by Playwright; never `playwright install`) and writes
docs/screenshot-audit.png (with the decision's deciding theory picked on the posterior graph) and
docs/screenshot-decision.png (the first blocked decision, else the first).
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="demo-out/theorycov.db", help="SQLAlchemy URL or SQLite file of a trained project")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for the PNG files")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=760)
    args = ap.parse_args(argv)

    import uvicorn
    from playwright.sync_api import sync_playwright

    from theorycov.web import create_app, decision_rows, decision_view

    app = create_app(args.db)
    rows = decision_rows(app.state.project)
    if not rows:
        print(f"no decisions in {args.db}: run `theorycov demo` (or `theorycov check`) first", file=sys.stderr)
        return 3
    decision = next((r for r in rows if r["decision"] == "block"), rows[-1])
    theory = (decision_view(app.state.project, decision["id"]) or {}).get("hypothesis_id")
    audit = f"/audit?theory={theory}" if theory else "/audit"  # the decision's deciding theory drawn on the posterior

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for path, name in ((audit, "screenshot-audit.png"), (f"/decisions/{decision['id']}", "screenshot-decision.png")):
                page.goto(base + path, wait_until="load")
                target = args.out / name
                page.screenshot(path=str(target))  # the viewport only: the top of the page is what a reader needs
                print(f"{target}  ({target.stat().st_size // 1024} KB)")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
