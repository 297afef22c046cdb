"""Shared output of the guard benches: add keys to bench/results/guard.json (keeping the others) and append a
dated section to bench/RESULTS.md."""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from gfn_common import command, machine

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "guard.json"


def record(keys: dict[str, object], title: str, body: str, notes: str = "") -> None:
    """Merge ``keys`` into guard.json (old keys stay unless overwritten) and append a RESULTS.md section."""
    date = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    blob = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    blob.update(keys)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(blob, indent=2, default=float) + "\n")
    section = (f"\n## {title} ({date})\n\n- machine: {machine()}\n- command: `{command()}`\n"
               + (f"- {notes}\n" if notes else "") + f"\n{body}\n")
    with open(BENCH / "RESULTS.md", "a") as fh:
        fh.write(section)
