"""BGe candidate-edge deltas: the parent-block Schur path (gfn/scores/bge.py) against the generic d + 1 local
scores a row (gfn/scores/base.py), the baseline in the same run. 128 rows, 1 thread, about 3 parents a row.

    .venv/bin/python bench/bge_delta.py            # d = 5, 20, 46, 107; appends to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gfn_common import machine, table  # noqa: E402

from theorycov.gfn import DataTable  # noqa: E402
from theorycov.gfn.scores.base import LocalScore  # noqa: E402
from theorycov.gfn.scores.bge import BGeScore  # noqa: E402


def timed(fn, reps: int) -> float:  # noqa: ANN001
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 46, 107])
    ap.add_argument("--rows", type=int, default=128)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for d in args.sizes:
        rng = np.random.default_rng(d)
        score = BGeScore(DataTable(rng.standard_normal((200, d)), tuple(f"v{i}" for i in range(d))))
        nodes = torch.from_numpy(rng.integers(0, d, args.rows))
        parents = torch.from_numpy(rng.random((args.rows, d)) < min(0.5, 3.0 / d))
        parents[torch.arange(args.rows), nodes] = False
        fast = timed(lambda: score._delta_nodes(nodes, parents), 20)
        slow = timed(lambda: LocalScore._delta_nodes(score, nodes, parents), 3)
        err = float((score._delta_nodes(nodes, parents) - LocalScore._delta_nodes(score, nodes, parents)).abs().max())
        rows.append({"d": d, "rows": args.rows, "block_ms": fast, "generic_ms": slow, "ratio": slow / fast, "max_abs_diff": err})
    body = table(rows)
    print(body)
    if not args.no_record:
        import datetime as dt

        with open(Path(__file__).resolve().parent / "RESULTS.md", "a") as fh:
            fh.write(f"\n## bge_delta: parent-block deltas against d + 1 local scores ({dt.datetime.now().astimezone().isoformat(timespec='seconds')})\n\n"
                     f"- machine: {machine()}\n- command: `python bench/bge_delta.py`\n\n{body}\n")


if __name__ == "__main__":
    main()
