"""Guard validation on real interventions (issue 6): Sachs et al. 2005.

Trains on the 853 observational cd3cd28 cells plus the literature hypotheses (the bundled bibliography
and, when ../shared/data is present, the BEL small corpus), then for each of the six interventional
conditions predicts every other protein's shift direction and P(it leaves its observational [q5, q95])
and compares with the held-out cells. General: any project database with a finished run can be
validated (--db, --run), and the conditions come from gfn.sachs.SACHS_CONDITIONS.

    .venv/bin/python bench/guard_sachs.py [--minutes 5] [--power 0.1] [--db URL --run ID]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KINDS = {"aktinhib": "inhibited", "g0076": "inhibited", "psitect": "inhibited", "u0126": "inhibited", "pma": "activated", "b2camp": "activated"}


def sachs_conditions(variables: list[str]):  # noqa: ANN201
    """The six interventional conditions, standardized with the observational rows' statistics."""
    from theorycov.coverage.guard.validation import Condition
    from theorycov.gfn import load_sachs
    from theorycov.gfn.sachs import SACHS_CONDITIONS

    table = load_sachs(standardize=False)  # log intensities, every condition
    order = [table.names.index(v) for v in variables]
    values = table.values[:, order]
    obs = table.conditions == "cd3cd28"
    mean, std = values[obs].mean(0), values[obs].std(0)
    z = (values - mean) / std
    out = []
    for name, _, target in SACHS_CONDITIONS:
        if name in KINDS:
            out.append(Condition(name, target, KINDS[name], torch.as_tensor(z[table.conditions == name])))
    return out


def model_class_ceiling(guard, variables: list[str], dose: str) -> dict[str, float]:  # noqa: ANN001
    """Sign agreement of the consensus graph and the test-tuned ceiling of linear SEMs (coverage.guard.ceiling)."""
    from theorycov.coverage.guard.ceiling import graph_sign_agreement, sign_pairs, tuned_sign_ceiling
    from theorycov.gfn.sachs import SACHS_VARIABLES, sachs_consensus_adjacency

    obs = guard.quantiles.observational.to(torch.float64)
    pairs = sign_pairs(obs, sachs_conditions(variables), variables, dose=dose)
    order = [SACHS_VARIABLES.index(v) for v in variables]
    consensus = sachs_consensus_adjacency()[order][:, order]
    z = (obs - obs.mean(0)) / obs.std(0)
    n = int(pairs.target.numel())
    tuned = tuned_sign_ceiling(obs, pairs, restarts=4)
    return {"consensus": graph_sign_agreement(consensus, torch.cov(z.T), pairs) / n, "tuned": tuned.agreement,
            "tuned_correct": tuned.correct, "pairs": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="project database with a finished run (default: a fresh one)")
    ap.add_argument("--run", type=int, help="run id (default: train a new run)")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--power", type=float, default=0.1, help="likelihood power of the run")
    ap.add_argument("--extractor", default="auto")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--dose", default="quantile", choices=["quantile", "condition"],
                    help="target level: observational q5/q95, or its mean in the held-out condition")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from theorycov.corpus.domain import load_domain
    from theorycov.coverage.guard.validation import validate_interventions
    from theorycov.demo import bibliography_path
    from theorycov.project import Project

    t0 = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="guard-sachs-"))
    project = Project(args.db or f"sqlite:///{workdir / 'theorycov.db'}", workdir=workdir / "runs" if not args.db else None)
    run_id = args.run
    if run_id is None:
        if not project.hypotheses("sachs"):
            sources = [bibliography_path()]
            bel = SHARED / "bel" / "small_corpus_dev.bel"
            if bel.is_file():
                sources.append(bel)
            else:
                print(f"note: {bel} not found; literature = the bundled bibliography only", file=sys.stderr)
            project.ingest(sources, "sachs", extractor=args.extractor)
        run_id = project.train("sachs", minutes=args.minutes, power=args.power).run_id
    guard = project.guard(run_id, threshold=args.threshold)
    variables = load_domain("sachs").names
    report = validate_interventions(guard, sachs_conditions(list(variables)), threshold=args.threshold, dose=args.dose)
    m = report.metrics
    ceiling = model_class_ceiling(guard, list(variables), args.dose)
    print(f"\nguard validation on Sachs interventions (run {run_id}, {len(guard.graphs)} distinct graphs, "
          f"{int(guard.satisfies.shape[1]) if guard.satisfies is not None else 0} hypotheses)")
    print(f"{'estimator':<10} {'sign agree':>10} {'n':>4} {'Brier':>7} {'missed':>7} {'false blk':>9} {'real harms':>10}")
    for est, v in m.items():
        print(f"{est:<10} {v['sign_agreement']:>10.3f} {int(v['n_shifted']):>4} {v['brier']:>7.3f} {int(v['missed_harms']):>7} {int(v['false_blocks']):>9} {int(v['real_harms']):>10}")
    print(f"human bound: real harms some plausible theory predicts: {int(m['human']['theory_predicted_harms'])}, "
          f"of which missed: {int(m['human']['missed_theory_harms'])}")
    print(f"model-class ceiling (linear SEM, least squares on the observational cells, dose {args.dose}): consensus graph "
          f"{ceiling['consensus']:.3f}; graph tuned on the held-out outcomes themselves {ceiling['tuned']:.3f} "
          f"({ceiling['tuned_correct']}/{ceiling['pairs']})")
    command = " ".join([Path(sys.executable).name, *sys.argv])
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results = ROOT / "bench" / "results" / "guard.json"
    blob = json.loads(results.read_text()) if results.is_file() else {}
    blob.update({
        "sign_agreement_posterior_mean": m["posterior"]["sign_agreement"], "brier_posterior_mean": m["posterior"]["brier"],
        "human_bound_missed_harms": m["human"]["missed_theory_harms"], "validation": m, "validation_run_power": args.power,
        "sign_agreement_consensus_graph": ceiling["consensus"], "sign_ceiling_test_tuned": ceiling["tuned"],
        "validation_minutes": args.minutes, "validation_dose": args.dose, "machine": machine, "date": date, "command_sachs": command,
        "peak_rss_mb_sachs": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(blob, indent=2))
    with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
        fh.write(f"\n## guard_sachs — {date}\n\nmachine: {machine}; command: `{command}`; wall {time.perf_counter() - t0:.0f} s; "
                 f"likelihood power {args.power}, {args.minutes} min training, dose {args.dose}\n\n| estimator | sign agreement (|SMD|>0.2) | n | Brier | missed harms | false blocks | real harms |\n|---|---|---|---|---|---|---|\n")
        for est, v in m.items():
            fh.write(f"| {est} | {v['sign_agreement']:.3f} | {int(v['n_shifted'])} | {v['brier']:.3f} | {int(v['missed_harms'])} | {int(v['false_blocks'])} | {int(v['real_harms'])} |\n")
        fh.write(f"| consensus graph (least-squares SEM) | {ceiling['consensus']:.3f} | {ceiling['pairs']} | | | | |\n"
                 f"| ceiling: graph tuned on the held-out outcomes | {ceiling['tuned']:.3f} | {ceiling['pairs']} | | | | |\n")
        fh.write(f"\nhuman bound: {int(m['human']['theory_predicted_harms'])} real harms predicted by a plausible ingested theory, "
                 f"{int(m['human']['missed_theory_harms'])} missed.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
