"""Best completions of planted theories at ecoli70 (d = 46): the climb of coverage/completion.py against the
plain one it replaced, in one run on the same theories (issue 16: a coverage run's set-up).

    .venv/bin/python bench/completion_speed.py            # 6 of coverage_large's 30 planted theories, seed 0
    .venv/bin/python bench/completion_speed.py --theories 30

Baseline ("whole graphs"): every one-move neighbour is materialized, checked for cycles by its own closure,
checked against the theories by its own closure, and scored as a whole graph under the FloorPrior (all d local
scores and the prior's closure again) -- coverage/completion.py before 2026-12-08. Ours: acyclicity and
reachability of the neighbours from the current graph's closure, the constraint counts over the named cells only,
the prior reading that satisfaction, and only the changed nodes rescored. Both climb greedily from the theory's
minimal graph (1 restart); their ties break differently, so they can stop at different local optima: both log R are
printed. Writes bench/results/completion_speed.json and a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import time

import torch

from theorycov.coverage import completion as C
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.prior import FloorPrior, HypothesisPriorMass
from theorycov.gfn import Reward
from theorycov.gfn.graphs import is_acyclic


def plain_climb(reward: Reward, cs: ConstraintSet, row: int, max_steps: int = 500) -> tuple[float, int]:
    """The whole-graph greedy climb (the baseline): (log R reached, accepted moves)."""
    cur = C.minimal_graph(cs, row)
    cur_lr, steps = float(reward.log_reward(cur[None])[0]), 0
    for _ in range(max_steps):
        nb = C._neighbours(cur)
        nb = nb[is_acyclic(nb) & cs.satisfies(nb)[:, row]]
        if nb.shape[0] == 0:
            break
        lr = reward.log_reward(nb)
        k = int(torch.argmax(lr))
        if float(lr[k]) <= cur_lr + 1e-9:
            break
        cur, cur_lr, steps = nb[k], float(lr[k]), steps + 1
    return cur_lr, steps


def main() -> None:
    import reference
    from coverage_d5 import LAM
    from coverage_large import planted
    from gfn_common import report, table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--theories", type=int, default=6, help="how many of the 30 planted theories (spread over the kinds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base, truth = reference.problem("ecoli70", 0)
    names = list(base.names)
    hyps, kinds = planted(names, truth, torch.as_tensor(reference.load("ecoli70", 0)["marginals"]), args.seed)
    cs = ConstraintSet(hyps, names)
    w = torch.full((len(hyps),), 1.0 / len(hyps), dtype=torch.float64)
    prior = FloorPrior(cs, w, lam=LAM, mass=HypothesisPriorMass.compute(cs, 1.0, n_samples=4000, seed=args.seed))
    reward = Reward(base.score, prior)
    picks = torch.linspace(0, len(hyps) - 1, min(args.theories, len(hyps))).round().long().tolist()
    rows, ours_s, base_s = [], 0.0, 0.0
    for h in picks:
        t = time.process_time()
        ours = C.best_completion(reward, cs, h, restarts=1)
        t_ours = time.process_time() - t
        t = time.process_time()
        b_lr, b_steps = plain_climb(reward, cs, h)
        t_base = time.process_time() - t
        ours_s, base_s = ours_s + t_ours, base_s + t_base
        rows.append({"theory": h, "kind": kinds[h], "ours_cpu_s": round(t_ours, 2), "ours_steps": ours.steps,
                     "ours_log_r": f"{ours.log_reward:.1f}", "whole_cpu_s": round(t_base, 2), "whole_steps": b_steps,
                     "whole_log_r": f"{b_lr:.1f}", "speedup": round(t_base / max(t_ours, 1e-9), 1)})
        print(rows[-1], flush=True)
    body = table(rows) + (f"\n\nTotal: ours {ours_s:.1f} CPU-s, whole graphs {base_s:.1f} CPU-s, ratio {base_s / max(ours_s, 1e-9):.1f}x "
                          f"({len(picks)} theories, ecoli70 n = 1,000, FloorPrior over the 30 planted theories).")
    figures = {"rows": rows, "ours_cpu_s": round(ours_s, 2), "whole_graphs_cpu_s": round(base_s, 2),
               "speedup": round(base_s / max(ours_s, 1e-9), 2)}
    if args.no_record:
        print(body)
    else:
        report("completion_speed", "completion_speed: best completions at ecoli70", body, figures)


if __name__ == "__main__":
    main()
