"""Guard latency (issue 6): a harm query over 10,000 cached graphs, and the amortized marginalizer.

Graphs are 10,000 exact draws of the uniform prior over DAGs on the 11 Sachs variables (what is cached
does not change the cost of a query), weighted by their BGe log reward on the 853 observational cells.
Reports: building the cache (harm-model posteriors and total effects), p50 / p95 of one query's harm
probabilities and bounds (Guard.estimate) and of a full decision with explanation (Guard.check), and the
amortized marginalizer's p50 latency and absolute error against the Monte Carlo answer on held-out
queries. Baseline in the same run: the direct linear solve per graph and draw that the cached total
effects avoid.

    .venv/bin/python bench/guard_latency.py [--graphs 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from theorycov.corpus.domain import load_domain
    from theorycov.coverage.guard.amortized import AmortizedConfig, AmortizedRisk, random_queries
    from theorycov.coverage.guard.guard import Guard
    from theorycov.coverage.prior import sample_edge_prior_dags
    from theorycov.datasets import load_domain_data
    from theorycov.gfn import BGeScore, Reward

    dom = load_domain("sachs")
    table = load_domain_data("sachs", None, dom.names)
    x = torch.as_tensor(table.values)
    graphs = sample_edge_prior_dags(len(dom.names), 1.0, args.graphs, seed=0)
    lr = Reward(BGeScore(table)).log_reward(graphs) * 0.1
    t0 = time.perf_counter()
    guard = Guard(list(dom.names), x, None, graphs, lr, lr)
    t_build = time.perf_counter() - t0
    queries = random_queries(guard, args.queries, seed=1)
    t_est, t_chk = [], []
    for a, h in queries:
        t1 = time.perf_counter()
        guard.estimate(a, h)
        t2 = time.perf_counter()
        guard.check(a, h, bound="posterior")
        t3 = time.perf_counter()
        t_est.append(t2 - t1)
        t_chk.append(t3 - t2)
    # baseline: the same query by a linear solve per graph and draw (no cached total effects)
    a, h = queries[0]
    tt, yy = dom.names.index(a.variable), dom.names.index(h.variable)
    prep = guard.prepared
    t4 = time.perf_counter()
    b = torch.eye(len(dom.names), dtype=torch.float64) - torch.linalg.inv(prep.total)  # recover B
    b[..., :, tt] = 0.0
    c = prep.intercept.clone()
    c[..., tt] = 0.5
    torch.linalg.solve(torch.eye(len(dom.names), dtype=torch.float64) - b.transpose(-1, -2), c[..., None])
    t_solve = time.perf_counter() - t4
    am = AmortizedRisk(guard, AmortizedConfig(steps=2000))
    fit = am.fit(guard, n_train=2000)
    ev = am.evaluate(guard, n_test=200)
    p50 = lambda v: 1e3 * float(torch.tensor(v).median())  # noqa: E731
    p95 = lambda v: 1e3 * float(torch.tensor(v).quantile(0.95))  # noqa: E731
    rows = [
        ("build cache (s)", t_build), ("estimate p50 (ms)", p50(t_est)), ("estimate p95 (ms)", p95(t_est)),
        ("check+explain p50 (ms)", p50(t_chk)), ("baseline solve, one query (ms)", 1e3 * t_solve),
        ("speed-up vs solve (x)", 1e3 * t_solve / p50(t_est)), ("amortized p50 (ms)", ev["amortized_p50_ms"]),
        ("amortized |err| mean", ev["abs_err_mean"]), ("amortized |err| max", ev["abs_err_max"]),
        ("amortized fit (s)", fit["label_s"] + fit["fit_s"]),
    ]
    print(f"guard latency over {len(guard.graphs)} cached graphs (d = {len(dom.names)}, {guard.config.harm.n_draws} parameter draws each)")
    for k, v in rows:
        print(f"  {k:<32} {v:10.3f}")
    command = " ".join([Path(sys.executable).name, *sys.argv])
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results = ROOT / "bench" / "results" / "guard.json"
    blob = json.loads(results.read_text()) if results.is_file() else {}
    blob.update({"query_p50_ms_10k": p50(t_est), "query_p95_ms_10k": p95(t_est), "check_p50_ms_10k": p50(t_chk),
                 "amortized_p50_ms": ev["amortized_p50_ms"], "amortized_abs_err": ev["abs_err_mean"], "machine": machine, "date": date,
                 "command_latency": command, "peak_rss_mb_latency": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(blob, indent=2))
    with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
        fh.write(f"\n## guard_latency — {date}\n\nmachine: {machine}; command: `{command}`\n\n| measure | value |\n|---|---|\n")
        for k, v in rows:
            fh.write(f"| {k} | {v:.3f} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
