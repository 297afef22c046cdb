"""One d = 5 seed of the coverage benchmark with trainer overrides, and where its missing mass sits.

    .venv/bin/python bench/coverage_seed.py SEED ITERATIONS {cov,plain} ['{"batch_size": 512, "lr": 2e-3}'] ['{"pool_draw": "uniform"}'] \
        ['{"reach_ratio": 0.2}']

Trains one GFlowNet (coverage objective with ``CoverageConfig.budgeted`` plus the given overrides, or plain;
the last JSON overrides ``CoverageTraining``'s running audit)
on the planted instance of ``coverage_d5.planted_d5(SEED)`` and prints: q/p of every non-refuted theory (exact
P_T), JSD, reward evaluations, P_T(G*)/p(G*) of each best completion, and for the worst theory q/p split by
the number of edges (all graphs, and the theory's region). A diagnostic (stop 10 used it to find that the
sampler under-weights the dense graphs of diffuse regions, and to pick the d = 5 trainer settings); it
prints only, and bench/coverage.py is the benchmark of record.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from coverage_d5 import _audit_every, planted_d5  # noqa: E402
from gfn_common import count_transitions  # noqa: E402

from theorycov.coverage.objective import CoverageConfig, CoverageObjective  # noqa: E402
from theorycov.coverage.train import CoverageTraining  # noqa: E402
from theorycov.gfn import PolicyConfig, Trainer, TrainerConfig, exact_terminal_distribution, jensen_shannon  # noqa: E402
from theorycov.gfn.graphs import graph_codes  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    seed, iterations, cov = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "cov"
    tkw = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    ckw = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    akw = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
    inst = planted_d5(seed)
    base: dict[str, object] = dict(seed=seed, num_iterations=iterations, num_envs=32, batch_size=256, prefill=256,
                                   eps_decay_iters=max(iterations // 3, 1), warmup_iters=50, progress=False,
                                   policy=PolicyConfig(hidden=256, num_layers=2))
    base.update(tkw)
    obj = CoverageObjective(inst.reward, inst.cs, CoverageConfig.budgeted(**ckw)) if cov else None
    tr = Trainer(TrainerConfig(**base), inst.reward, extra_transitions=obj, start_states=None if obj is None else obj.start_states)  # type: ignore[arg-type]
    added = count_transitions(tr)
    t0 = time.perf_counter()
    CoverageTraining(tr, inst.cs, obj, p_reference=inst.p, refuted=inst.refuted, audit_every=_audit_every(iterations),
                     n_samples=2048, seed=seed, exact_graphs=inst.dags, **akw).run(iterations=iterations)
    pt = exact_terminal_distribution(tr.policy, inst.dags)
    q = pt @ inst.sat.to(torch.float64)
    judged = (~inst.refuted).nonzero().flatten().tolist()
    ratio = (q / inst.p)[judged]
    worst = judged[int(ratio.argmin())]
    index = {c: i for i, c in enumerate(graph_codes(inst.dags).tolist())}
    bi = torch.tensor([index[c] for c in graph_codes(inst.best).tolist()])
    print(json.dumps({"seed": seed, "coverage": cov, "trainer": tkw, "objective": ckw, "audit": akw, "min_q_over_p": round(float(ratio.min()), 3),
                      "worst": worst, "q_over_p": [round(float(x), 3) for x in ratio], "jsd": round(jensen_shannon(inst.post, pt), 5),
                      "evaluations": added(), "best_pt_over_p": [round(float(x), 2) for x in (pt[bi] / inst.post[bi])[judged]],
                      "seconds": round(time.perf_counter() - t0)}))
    edges = inst.dags.flatten(1).sum(1)
    region = inst.sat[:, worst].to(torch.float64)
    print(f"theory {worst}: edges | p(all) | q/p(all) | p(region) | q/p(region)")
    for k in range(int(edges.max()) + 1):
        m = (edges == k).to(torch.float64)
        pa, pr = float(inst.post @ m), float(inst.post @ (m * region))
        print(k, f"{pa:.4f}", f"{float(pt @ m) / pa:.3f}" if pa > 0 else "-", f"{pr:.4f}",
              f"{float(pt @ (m * region)) / pr:.3f}" if pr > 0 else "-")


if __name__ == "__main__":
    main()
