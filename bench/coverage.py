"""Coverage benchmark (issue 5): plain GFlowNet vs coverage GFlowNet vs MC3 at equal reward evaluations.

    .venv/bin/python bench/coverage.py [--quick] [--seeds 5] [--minutes M] [--skip-d20] [--skip-sachs]

1. d = 5, ER1, n = 100, 20 planted hypotheses per seed (10 from the true graph's edges, 5 from the exact
   posterior's low-mass region, 5 contradicting the data); exact p(h|D), exact P_T of both GFlowNets,
   MC3's empirical distribution. Bar: coverage GFlowNet covers 100% of the non-refuted hypotheses,
   min q/p >= 0.9, JSD <= 1.1 x the plain GFlowNet's.
2. d = 20, ER2: masses from a long MC3 reference run; time to first hit of each hypothesis.
3. Sachs (853 observational cells, likelihood power 0.1 as in the demo): hypotheses from the BEL statements and the consensus network; the
   audit report goes to bench/results/coverage_sachs_audit.{html,json}.

Counting reward evaluations: one per transition that enters the GFlowNet's replay buffer (each carries one
delta log R: the sampler's own edge steps, prefill included, plus the coverage objective's transitions);
one per MC3 proposal. Not counted (favouring the GFlowNets): the policy's reward-informed input features
(a column of d deltas per step), the running audit's draws and the best-completion hill-climbs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from theorycov.coverage.objective import CoverageConfig


sys.path.insert(0, str(Path(__file__).resolve().parent))  # the two parts live beside this script
from coverage_d5 import RESULTS, ROOT, run_d5_seed  # noqa: E402
from coverage_d20 import run_d20  # noqa: E402
from coverage_sachs import run_sachs  # noqa: E402

def _worst(rows: list[dict[str, object]], method: str, key: str, fn=min) -> float:  # noqa: ANN001
    return fn(float(r[method][key]) for r in rows)  # type: ignore[index]


def _guarded(fn, *a: object, **k: object) -> dict[str, object]:  # noqa: ANN001
    """Run a later section; a failure there (e.g. a library mid-change) must not lose the d = 5 results."""
    import traceback
    try:
        return fn(*a, **k)
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        return {"error": f"{type(err).__name__}: {err}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 seed, few iterations, short d=20 and Sachs runs")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=None, help="cap on each d=5 GFlowNet run (default: none; iterations decide)")
    ap.add_argument("--iterations", type=int, default=8000, help="coverage GFlowNet iterations per d=5 seed")
    ap.add_argument("--d20-seconds", type=float, default=60.0, help="training seconds of each d=20 GFlowNet (reference MC3: the same)")
    ap.add_argument("--sachs-seconds", type=float, default=180.0, help="training seconds of the Sachs audit (the demo: 180)")
    ap.add_argument("--skip-d20", action="store_true")
    ap.add_argument("--skip-sachs", action="store_true")
    ap.add_argument("--batch-size", type=int, default=512, help="replayed transitions per gradient step of both d=5 GFlowNets")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of both d=5 GFlowNets")
    ap.add_argument("--jobs", type=int, default=1, help="d=5 seeds run in parallel processes (one torch thread each)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # on a shared 2-core machine torch's intra-op threads make small ops ~100x slower
    if args.quick:
        args.seeds, args.iterations, args.d20_seconds, args.sachs_seconds = 1, 300, 10.0, 15.0
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    cfg_cov = CoverageConfig.budgeted()
    rows = []
    cap = None if args.minutes is None else 60 * args.minutes
    pool = None
    if args.jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn"), initializer=torch.set_num_threads, initargs=(1,))
        futures = [pool.submit(run_d5_seed, s, args.iterations, cap, cfg_cov, batch_size=args.batch_size, lr=args.lr)
                   for s in range(args.seeds)]
    for seed in range(args.seeds):
        r = futures[seed].result() if pool is not None else run_d5_seed(seed, args.iterations, cap, cfg_cov,
                                                                          batch_size=args.batch_size, lr=args.lr)
        rows.append(r)
        print(f"d=5 seed {seed} ({r['seconds']} s, {r['n_refuted']} refuted): " + "; ".join(
            f"{m}: covered {r[m]['covered_share']:.2f} min q/p {r[m]['min_q_over_p']:.3f} JSD {r[m]['jsd']:.4f} evals {r[m]['evaluations']}"
            + (f" min P_T(G*)/p(G*) {r[m]['min_best_pt_over_p']:.3f} undrawn best {r[m]['undrawn_best']}" if m != "mcmc" else "")
            for m in ("coverage", "plain", "mcmc")), flush=True)
    if pool is not None:
        pool.shutdown()
    summary: dict[str, object] = {}
    print("\n| method | covered (worst seed) | min q/p (all seeds) | JSD mean (max) | evals/seed | median evals to first hit |\n|---|---|---|---|---|---|")
    for m in ("coverage", "plain", "mcmc"):
        jsd = [float(r[m]["jsd"]) for r in rows]
        fh = [r[m]["first_hit_evals_median"] for r in rows if r[m]["first_hit_evals_median"] is not None]
        summary[m] = {"covered_share": _worst(rows, m, "covered_share"), "min_q_over_p": _worst(rows, m, "min_q_over_p"),
                      "jsd_mean": sum(jsd) / len(jsd), "jsd_max": max(jsd), "evaluations_mean": sum(int(r[m]["evaluations"]) for r in rows) / len(rows),
                      "first_hit_evals_median": sorted(fh)[len(fh) // 2] if fh else None}
        if m != "mcmc":  # the exact P_T of each best completion over its posterior probability (reached: >= 0.1 or drawn)
            summary[m]["min_best_pt_over_p"] = _worst(rows, m, "min_best_pt_over_p")  # type: ignore[index]
        s = summary[m]
        print(f"| {m} | {s['covered_share']:.2f} | {s['min_q_over_p']:.3f} | {s['jsd_mean']:.4f} ({s['jsd_max']:.4f}) | {s['evaluations_mean']:.0f} | {s['first_hit_evals_median']} |")
    jsd_ratio = summary["coverage"]["jsd_mean"] / summary["plain"]["jsd_mean"]  # type: ignore[index]
    bar = {"covered_100": summary["coverage"]["covered_share"] == 1.0, "min_q_over_p_0.9": summary["coverage"]["min_q_over_p"] >= 0.9,  # type: ignore[index]
           "jsd_within_10pct": jsd_ratio <= 1.1}
    print(f"\nbar: {bar} (JSD ratio coverage/plain {jsd_ratio:.3f})", flush=True)
    d20 = None if args.skip_d20 else _guarded(run_d20, 0, args.d20_seconds, args.d20_seconds, hidden=256)
    if d20 is not None and "error" not in d20:
        print("\nd=20 ER2 vs MC3 reference", d20["reference"])
        for m in ("coverage", "plain", "mcmc"):
            x = d20[m]
            print(f"  {m}: covered {x['covered_share']:.2f} min q/p {x['min_q_over_p']:.3f} "
                  f"never hit {x['never_hit']} evals {x['evaluations']} first hit (s) {x['first_hit_seconds']}", flush=True)
    sachs = None if args.skip_sachs else _guarded(run_sachs, args.sachs_seconds, hidden=256)
    if sachs is not None and "error" not in sachs:
        print(f"\nSachs: {sachs['hypotheses']} hypotheses, covered {sachs['covered_share']:.2f}, min q/p {sachs['min_q_over_p']:.3f}, "
              f"ESS {sachs['ess']}, verdicts {sachs['verdicts']}")
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs (shared with other jobs), torch {torch.__version__}, 1 intra-op thread"
    cmd = "python bench/coverage.py " + " ".join(sys.argv[1:])
    date = dt.datetime.now().isoformat(timespec="seconds")
    out = {"covered_share": summary["coverage"]["covered_share"], "min_q_over_p": summary["coverage"]["min_q_over_p"],  # type: ignore[index]
           "jsd_ratio_vs_plain": jsd_ratio, "plain_covered_share": summary["plain"]["covered_share"],  # type: ignore[index]
           "plain_min_q_over_p": summary["plain"]["min_q_over_p"], "mcmc_covered_share": summary["mcmc"]["covered_share"],  # type: ignore[index]
           "mcmc_min_q_over_p": summary["mcmc"]["min_q_over_p"], "bar": bar, "summary": summary, "seeds": rows,  # type: ignore[index]
           "d5_trainer": {"batch_size": args.batch_size, "lr": args.lr, "iterations": args.iterations},
           "d20": d20, "sachs": sachs, "machine": machine, "date": date, "command": cmd,
           "load_before": load_before, "load_after": os.getloadavg(), "wall_seconds": round(time.perf_counter() - t0, 1),
           "counting": __doc__.split("Counting reward evaluations: ")[1].strip()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "coverage_quick.json" if args.quick else "coverage.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2, default=str))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if not args.quick:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(f"\n## {date[:10]} coverage (issue 5): plain vs coverage GFlowNet vs MC3\n\n"
                     f"- machine: {machine}\n- command: `{cmd}` ({out['wall_seconds']:.0f} s wall)\n"
                     f"- load: `{uptime}` at the end (1/5/15-min averages {load_before} at the start); the CPU is shared with "
                     f"other jobs, so seconds are indicative only; evaluations are exact counts\n"
                     f"- counting: {out['counting']}\n\n"
                     f"d = 5, ER1, n = 100, 20 planted hypotheses, {args.seeds} seeds, {args.iterations} coverage-GFlowNet iterations per seed; "
                     f"the plain GFlowNet and MC3 get the same number of reward evaluations:\n\n"
                     "| method | covered (worst seed) | min q/p | JSD mean (max) | evals/seed | median evals to first hit |\n|---|---|---|---|---|---|\n")
            for m in ("coverage", "plain", "mcmc"):
                s = summary[m]  # type: ignore[assignment]
                fh.write(f"| {m} | {s['covered_share']:.2f} | {s['min_q_over_p']:.3f} | {s['jsd_mean']:.4f} ({s['jsd_max']:.4f}) | "
                         f"{s['evaluations_mean']:.0f} | {s['first_hit_evals_median']} |\n")
            fh.write(f"\nBar (coverage GFlowNet): {bar}; JSD ratio coverage/plain {jsd_ratio:.3f}.\n")
            if d20 is not None and "error" not in d20:
                fh.write(f"\nd = 20, ER2, n = 100 vs a {d20['reference']['seconds']} s MC3 reference ({d20['reference']['evaluations']} evaluations):\n\n")
                for m in ("coverage", "plain", "mcmc"):
                    x = d20[m]
                    fh.write(f"- {m}: covered {x['covered_share']:.2f}, min q/p {x['min_q_over_p']:.3f}, never hit {x['never_hit']}, {x['evaluations']} evaluations, "
                             f"seconds to first hit {x['first_hit_seconds']}\n")
            for label, part in (("d = 20", d20), ("Sachs", sachs)):
                if part is not None and "error" in part:
                    fh.write(f"\n{label}: failed ({part['error']})\n")
            if sachs is not None and "error" not in sachs:
                fh.write(f"\nSachs (853 observational cells), {sachs['hypotheses']} hypotheses (BEL + consensus), {sachs['seconds']} s of "
                         f"coverage training: covered {sachs['covered_share']:.2f}, min q/p {sachs['min_q_over_p']:.3f}, IS ESS {sachs['ess']}, "
                         f"verdicts {sachs['verdicts']}; report in bench/results/coverage_sachs_audit.html/.json\n")
    print(f"\nwrote {RESULTS / name} ({time.perf_counter() - t0:.0f} s); {uptime}")


if __name__ == "__main__":
    main()

