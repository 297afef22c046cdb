"""Shared helpers of the gfn benchmarks: machine description, peak RSS, RESULTS.md and JSON output."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def machine() -> str:
    """CPU model, logical cores, torch threads and the load average at call time."""
    import torch

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{model}, {os.cpu_count()} logical cores, torch {torch.__version__} with {torch.get_num_threads()} thread(s), "
            f"load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (1/5/15 min)")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])


def table(rows: list[dict[str, object]]) -> str:
    """A Markdown table of rows with the same keys."""
    if not rows:
        return ""
    keys = list(rows[0])

    def fmt(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def report(name: str, title: str, body: str, figures: dict[str, object], notes: str = "") -> None:
    """Print the table, append a dated section to bench/RESULTS.md, write bench/results/<name>.json."""
    date = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    figures = {**figures, "machine": machine(), "date": date, "command": command()}
    section = (f"\n## {title} ({date})\n\n- machine: {figures['machine']}\n- command: `{figures['command']}`\n"
               + (f"- {notes}\n" if notes else "") + f"\n{body}\n")
    print(section)
    with open(BENCH / "RESULTS.md", "a") as fh:
        fh.write(section)
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / f"{name}.json").write_text(json.dumps(figures, indent=2, default=float) + "\n")


def count_transitions(trainer) -> Callable[[], int]:  # noqa: ANN001
    """Wrap ``trainer.buffer.add`` so that every transition added (its own and injected ones) is counted: the
    reward evaluations a GFlowNet run costs. Returns a function giving the count so far."""
    count = [0]
    add = trainer.buffer.add

    def counted(t, validate: bool = False) -> None:  # noqa: ANN001
        count[0] += len(t)
        add(t, validate)

    trainer.buffer.add = counted
    return lambda: count[0]
