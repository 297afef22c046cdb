"""Does the audit's (and the guard's) importance-sampling ESS rest on the sampler or on its P_T estimate?

    .venv/bin/python bench/audit_ess.py [--minutes 3] [--seed 0] [--n-traj 4 16 32 64]

Fits the demo's posterior (Sachs, the bundled bibliography's theories ingested with the rule reader into a
temporary database, likelihood power 0.1, the strong coverage objective) once, draws its posterior sample,
then re-estimates log P_T of the same draws with n_traj backward trajectories (gfn.sampling.log_pt_backward,
uniform P_B over edge orders) for each n_traj and prints the ESS of the weights R/P_T. Same policy, same
draws: only the P_T estimate changes. Appends a dated section to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from theorycov.coverage.posterior import FitConfig, fit_posterior  # noqa: E402
from theorycov.datasets import load_domain_data  # noqa: E402
from theorycov.demo import bibliography_path  # noqa: E402
from theorycov.gfn import TrainerConfig  # noqa: E402
from theorycov.gfn.sampling import log_pt_backward  # noqa: E402
from theorycov.coverage.theories import TheorySet, evidence_weights  # noqa: E402
from theorycov.project import Project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ess_of(log_w: torch.Tensor) -> tuple[float, float]:
    """(ESS, largest normalized weight) of S draws with log weights (S,)."""
    w = torch.softmax(log_w.to(torch.float64), 0)
    return float(1.0 / (w**2).sum()), float(w.max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-traj", type=int, nargs="+", default=[4, 16, 32, 64])
    args = ap.parse_args()
    torch.set_num_threads(1)
    from theorycov.corpus.domain import load_domain

    with tempfile.TemporaryDirectory() as tmp:
        proj = Project(f"sqlite:///{tmp}/t.db", workdir=Path(tmp) / "runs")
        proj.ingest([bibliography_path()], "sachs", extractor="rules", progress=False)
        dom = load_domain("sachs")
        theories = TheorySet.select(evidence_weights(proj.hypotheses(dom.name)), dom.names)
    table = load_domain_data(dom.name, None, dom.names)
    cfg = FitConfig(minutes=args.minutes, likelihood_power=0.1, progress=False, n_traj=4,
                    trainer=TrainerConfig(seed=args.seed, num_iterations=1_000_000, progress=False))
    res = fit_posterior(table, theories, config=cfg)
    post = res.sample
    keep = post.counts > 0  # the draws (the objective's completions join with count 0)
    graphs, counts, log_r = post.graphs[keep], post.counts[keep], post.log_reward[keep]
    draws_r = log_r.repeat_interleave(counts)
    rows = []
    for n in args.n_traj:
        t0 = time.perf_counter()
        lpt = torch.cat([log_pt_backward(res.trainer.policy, graphs[i : i + 512], n_traj=n, generator=torch.Generator().manual_seed(i))
                         for i in range(0, graphs.shape[0], 512)])
        ess, wmax = ess_of(draws_r - lpt.repeat_interleave(counts))
        rows.append((n, ess, wmax, time.perf_counter() - t0))
        print(f"n_traj {n}: ESS {ess:.1f} of {int(counts.sum())}, largest weight {wmax:.3f} ({rows[-1][3]:.0f} s)", flush=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    table_md = ["| n_traj | ESS | largest weight | seconds (1 thread) |", "|---|---|---|---|"]
    table_md += [f"| {n} | {e:.1f} | {m:.3f} | {s:.0f} |" for n, e, m, s in rows]
    print("\n".join(table_md))
    cmd = "python bench/audit_ess.py " + " ".join(sys.argv[1:])
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n## {_dt.date.today().isoformat()} audit ESS against the P_T estimate (bench/audit_ess.py)\n\n"
                 f"- machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread; "
                 f"load at the end: `{uptime}`\n- command: `{cmd}`\n"
                 f"- the demo's posterior: Sachs, {len(theories)} theories (rule reader), power 0.1, {res.trainer.iteration} iterations "
                 f"in {args.minutes:g} min; {int(counts.sum())} draws, {graphs.shape[0]} distinct; same policy and draws in every row\n\n"
                 + "\n".join(table_md) + "\n")


if __name__ == "__main__":
    main()
