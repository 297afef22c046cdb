"""The guard against a known ground truth: an expert linear-Gaussian network (issue 19, part 2).

For each n and seed: sample n observational rows from the network's SEM (gfn.networks), standardize them,
plant one true and one false theory around each of 20 random anchor variables (coverage.guard.truth), fit
the posterior with the current pipeline (coverage.posterior.fit_posterior: GFlowNet with the coverage
objective, for --minutes), build the current coverage.guard.Guard on its graphs, and score every estimator
on the query grid against the exact P(H | do(a)) of the known SEM. Pooled over seeds per n.

    .venv/bin/python bench/guard_networks.py                          # ecoli70, n = 100 and 1,000, 5 seeds
    .venv/bin/python bench/guard_networks.py --n 1000 --seeds 0 --minutes 0.5 --no-record   # smoke run
"""
from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import functools
import math
import pickle
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
SHARED = BENCH.parent.parent / "shared" / "data" / "networks"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def trim_candidates(post, cs, keep: int, support_nats: float = 50.0):  # noqa: ANN001, ANN201
    """The draws plus, per theory, its ``keep`` best completions (count 0) by log R.

    The harm model holds (N, S, d, d) tensors, ~0.27 MB a graph at d = 46 and 16 draws; 60 theories' pools of up
    to 256 completions would need tens of GB. A theory's risk weighs its members by R, so its low-R
    completions carry next to no weight.
    """
    from theorycov.coverage.run import PosteriorSample

    cand = (post.counts == 0).nonzero().squeeze(1)
    if not len(cand):
        return post
    sat = cs.satisfies(post.graphs[cand])  # (C, H)
    lr = torch.where(sat, post.log_reward[cand][:, None], torch.full(sat.shape, -math.inf, dtype=torch.float64))
    top = lr.topk(min(keep, len(cand)), dim=0)
    pick = top.indices[torch.isfinite(top.values)]
    if post.weighting == "reward":  # the MC3 visits fit_posterior kept (within support_nats of the best) stay too
        pick = torch.cat([pick.flatten(), (post.log_reward[cand] >= float(post.log_reward.max()) - support_nats).nonzero().squeeze(1)])
    idx = torch.cat([(post.counts > 0).nonzero().squeeze(1), cand[torch.unique(pick)]])
    return PosteriorSample(post.names, post.graphs[idx], post.counts[idx], post.log_reward[idx], post.log_pt[idx], post.exact, post.weighting)


def fit_one(net, n: int, seed: int, args: argparse.Namespace) -> dict:  # noqa: ANN001
    """One (n, seed) cell: data, theories, fit, guard, scores."""
    import theorycov.coverage.objective as objective_module
    from theorycov.coverage.guard.guard import Guard, GuardConfig
    from theorycov.coverage.guard.harm import HarmModelConfig
    from theorycov.coverage.guard.truth import FALSE_KINDS, TRUE_KINDS, Scale, plant_theories, query_grid, score_queries, summarize
    from theorycov.coverage.objective import CoverageConfig
    from theorycov.coverage.posterior import FitConfig, fit_posterior
    from theorycov.db.schemas import Theory
    from theorycov.gfn import DataTable, PolicyConfig, TrainerConfig
    from theorycov.gfn.occam import OccamConfig

    rng = np.random.default_rng(seed)
    x = net.sample(n, seed=10_000 * seed + n)
    scale = Scale(net.names, x.mean(0), x.std(0))
    z = (x - scale.mean) / scale.std
    with_desc = [v for v in net.names if net.descendants(v).any()]
    anchors = [str(a) for a in rng.choice(with_desc, size=min(args.anchors, len(with_desc)), replace=False)]
    theories = plant_theories(net, anchors, rng)
    queries = query_grid(net, anchors, rng)
    # Hill-climbing every theory's best completion to convergence costs minutes a theory at this size
    # (bench/coverage_large.py): seed the pools with short climbs (by default none: the theory's minimal
    # graph), and let the audits add the GFlowNet's own completions.
    # The final audit climbs again from each theory's best completion (max_steps 500 by default): the same cap.
    import theorycov.coverage.audit as audit_module

    full = objective_module.best_completion
    objective_module.best_completion = audit_module.best_completion = functools.partial(full, max_steps=args.climb_steps)
    try:
        cfg = FitConfig(minutes=args.minutes, n_samples=args.n_samples, n_traj=args.n_traj, progress=False, audit_every=args.audit_every,
                        coverage=CoverageConfig(restarts=args.restarts), scale_from=args.scale_from, candidates=args.candidates, weights=args.weights,
                        equivalents=args.equivalents, occam=OccamConfig(window=args.occam_window) if args.occam_window > 0 else None,
                        trainer=TrainerConfig(seed=seed, num_iterations=10**9 if args.minutes else args.iterations, lr=args.lr,
                                              progress=False, policy=PolicyConfig(hidden=args.hidden, delta_transform=args.delta_transform)))
        t0 = time.perf_counter()
        # stored ids = planted indices, so the guard's columns map back to the planted kinds
        fit = fit_posterior(DataTable(z, net.names), [Theory(i, t.hypothesis) for i, t in enumerate(theories)], config=cfg)
        fit_s = time.perf_counter() - t0
    finally:
        objective_module.best_completion = audit_module.best_completion = full
    log(f"n={n} seed={seed}: fitted in {fit_s:.0f} s {({k: round(v) for k, v in fit.seconds.items()})}, {fit.iterations} iterations")
    if fit.theories.excluded:
        raise RuntimeError(f"planted theories left out of training: {[e.reason for e in fit.theories.excluded]}")
    theories = [theories[t.id] for t in fit.theories.theories]  # guard column order
    post = trim_candidates(fit.sample, fit.theories.constraints, args.keep_completions)
    t1 = time.perf_counter()
    # theory_level None: 'human' is the mean reading and 'human_upper' the guard's default (1 - delta) reading, both
    # from one guard (coverage.guard.truth.score_queries); the recorded human_* keys are the default's
    guard = Guard.from_run(dataclasses.replace(fit, sample=post), config=GuardConfig(
        alpha=args.alpha, delta=args.delta, threshold=args.threshold, harm=HarmModelConfig(n_draws=args.draws), theory_level=None))
    scores = score_queries(guard, net, queries, scale, alpha=args.alpha, theories=theories)
    log(f"n={n} seed={seed}: guard over {len(post.graphs)} graphs and {len(queries)} queries in {time.perf_counter() - t1:.0f} s")
    plausible = guard.table.plausible.numpy()
    kinds = np.array([t.kind for t in theories])
    drawn = post.counts > 0 if post.weighting == "snis" else torch.ones_like(post.counts, dtype=torch.bool)  # the guard's weighted rows
    w = torch.softmax(post.log_weight[drawn], 0)
    true_adj = torch.from_numpy(net.adjacency.copy())
    shd = float((w * (post.graphs[drawn] ^ true_adj).flatten(1).sum(1).to(torch.float64)).sum())
    cell = {"n": n, "seed": seed, "scores": scores, "summary": summarize(scores, args.threshold),
            "refuted": {k: float((~plausible[kinds == k]).mean()) for k in (*TRUE_KINDS, *FALSE_KINDS) if (kinds == k).any()},
            "iterations": fit.iterations, "fit_s": fit_s, "distinct_graphs": int(drawn.sum()),
            "ess": float(1.0 / (w**2).sum()), "expected_shd": shd, "mean_edges": float((w * post.graphs[drawn].flatten(1).sum(1)).sum()),
            "descendant": np.array([q.descendant for q in queries])}
    s = cell["summary"]
    print(f"n={n} seed={seed}: {cell['iterations']} it in {fit_s:.0f} s, {cell['distinct_graphs']} distinct graphs, ESS {cell['ess']:.1f}, "
          f"E-SHD {shd:.1f}; human guarantee {s['human_guarantee_rate']:.3f} (upper {s['human_upper_guarantee_rate']:.3f}, "
          f"split {s['human_split_guarantee_rate']:.3f}), false allow {s['human_false_allow']:.3f} (upper "
          f"{s['human_upper_false_allow']:.3f}, split {s['human_split_false_allow']:.3f}), "
          f"Brier posterior {s['posterior_brier']:.4f} map {s['map_brier']:.4f}; refuted {cell['refuted']}", flush=True)
    return cell


def pooled(cells: list[dict], threshold: float) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Summary over every (seed, query) pair of the cells, and the pooled score arrays."""
    from theorycov.coverage.guard.truth import summarize

    scores = {k: np.concatenate([c["scores"][k] for c in cells]) for k in cells[0]["scores"]}
    out = summarize(scores, threshold)
    desc = np.concatenate([c["descendant"] for c in cells])
    sub = summarize({k: v[desc] for k, v in scores.items()}, threshold)
    out["human_guarantee_rate_descendants"] = sub["human_guarantee_rate"]
    for k in ("human_upper", "human_split"):
        out[f"{k}_guarantee_rate_descendants"] = sub.get(f"{k}_guarantee_rate", float("nan"))
    for k in cells[0]["refuted"]:
        out[f"refuted_{k}"] = float(np.mean([c["refuted"][k] for c in cells]))
    for k in ("iterations", "fit_s", "distinct_graphs", "ess", "expected_shd", "mean_edges"):
        out[k] = float(np.mean([c[k] for c in cells]))
    return out, scores


def calibration_svg(by_n: dict[int, dict[str, np.ndarray]], path: Path, title: str) -> None:
    from svg import Panel, Series, render
    from theorycov.coverage.guard.truth import ESTIMATORS

    panels = []
    for n, sc in sorted(by_n.items()):
        for k in ESTIMATORS:
            panels.append(Panel(f"{k}, n = {n}", "true P(H | do(a))", "estimate",
                                [Series(k, list(sc["truth"]), list(sc[k]), kind="scatter")], xlim=(0, 1), ylim=(0, 1), diagonal=True))
    path.write_text(render(panels, cols=len(ESTIMATORS), title=title, width=300, height=280))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", default="ecoli70")
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget per fit (wall time)")
    ap.add_argument("--iterations", type=int, default=2000, help="training iterations when --minutes 0")
    ap.add_argument("--lr", type=float, default=1e-4, help="1e-4: gfn's advice above d = 11")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--delta-transform", default="linear", choices=["linear", "log"], help="the policy's phi of Delta log R")
    ap.add_argument("--scale-from", type=int, default=12, help="d from which the fit uses candidate parents and the MC3 guide "
                    "(coverage.posterior.FitConfig; 1000: never, the plain trainer of stop 21)")
    ap.add_argument("--candidates", type=int, default=8, help="candidate parents per node (FitConfig.candidates)")
    ap.add_argument("--equivalents", type=int, default=0, help="best graphs whose Markov equivalence class is walked "
                    "(FitConfig.equivalents)")
    ap.add_argument("--occam-window", type=float, default=10.0, help="nats of Occam's window around the best graphs found "
                    "(FitConfig.occam's default; 0: off)")
    ap.add_argument("--weights", default="reward", choices=["reward", "snis"], help="FitConfig.weights: the guard's graph weights above "
                    "scale_from (reward: R over the distinct graphs found; snis: the GFlowNet's draws by R / P_T)")
    ap.add_argument("--n-samples", type=int, default=1000)
    ap.add_argument("--n-traj", type=int, default=2)
    ap.add_argument("--climb-steps", type=int, default=0, help="hill-climbing moves for each theory's best completion "
                    "(each move scores d^2 = 2,116 neighbours at d = 46: ~minutes a theory on a loaded 2-core machine)")
    ap.add_argument("--restarts", type=int, default=1, help="hill-climbing restarts per theory")
    ap.add_argument("--keep-completions", type=int, default=16, help="best completions per theory kept for the guard")
    ap.add_argument("--draws", type=int, default=8, help="harm-model parameter draws per graph")
    ap.add_argument("--audit-every", type=int, default=500, help="iterations between running audits (each samples and "
                    "estimates log P_T by backward trajectories: costly at d = 46)")
    ap.add_argument("--anchors", type=int, default=20)
    ap.add_argument("--threshold", type=float, default=0.2, help="block above this risk (base rate of both harms: 0.1)")
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--delta", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", help="folder for finished (n, seed) cells: a rerun reads them instead of refitting")
    ap.add_argument("--no-record", action="store_true")
    return ap


def main() -> int:
    args = build_parser().parse_args()
    torch.set_num_threads(args.threads)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a long run is, without stopping it
    from gfn_common import command, machine, table
    from theorycov.coverage.guard.guard import GuardConfig
    from theorycov.coverage.guard.truth import ESTIMATORS, FALSE_KINDS, TRUE_KINDS
    from theorycov.gfn.networks import LinearGaussianNetwork

    path = SHARED / f"{args.network}.json"
    if not path.is_file():
        print(f"{path} not found (see ../shared/data/MANIFEST.md)", file=sys.stderr)
        return 2
    net = LinearGaussianNetwork.from_json(path)
    for n in args.n:  # each n is recorded as soon as its seeds are done: a long run keeps what it finished
        t0 = time.perf_counter()
        cells = []
        for seed in args.seeds:
            cached = None if args.cache is None else Path(args.cache) / f"{args.network}_n{n}_seed{seed}.pkl"
            if cached is not None and cached.is_file():
                cells.append(pickle.loads(cached.read_bytes()))
                log(f"n={n} seed={seed}: read from {cached}")
                continue
            cells.append(fit_one(net, n, seed, args))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(pickle.dumps(cells[-1]))
        summ, scores = pooled(cells, args.threshold)
        suffix = f"_{args.network}" + ("" if n == 1000 else f"_n{n}")
        rows, keys = [], {}
        for k in ESTIMATORS:
            rows.append({"n": n, "estimator": k, "false_allow": summ[f"{k}_false_allow"], "false_block": summ[f"{k}_false_block"],
                         "brier": summ[f"{k}_brier"], "bias": summ[f"{k}_bias"]})
            for m in ("false_allow", "false_block", "brier"):
                keys[f"{k}_{m}{suffix}"] = summ[f"{k}_{m}"]
        keys[f"brier_posterior{suffix}"] = summ["posterior_brier"]
        keys[f"brier_map{suffix}"] = summ["map_brier"]
        for k in ("human_guarantee_rate", "human_guarantee_rate_descendants", "human_guarantee_rate_within_2sd",
                  "human_false_allow", "human_false_block"):
            keys[f"{k.replace('human', 'human_mean')}{suffix}"] = summ[k]  # each theory read at its mean risk
        # the guard's default reading (GuardConfig.theory_level): each theory at its (1 - delta) upper credible risk
        # ('human_upper'), or refuted at delta / 2 and read at 1 - delta / 2 ('human_split'); both are recorded
        default = "human_split" if GuardConfig().theory_level == "1-delta/2" else "human_upper"
        for k in ("guarantee_rate", "false_allow", "false_block", "brier", "guarantee_rate_descendants"):
            keys[f"human_{k}{suffix}"] = summ[f"{default}_{k}"]
            for reading in ("human_upper", "human_split"):
                keys[f"{reading}_{k}{suffix}"] = summ[f"{reading}_{k}"]
        keys[f"human_reading{suffix}"] = default
        for k in (*TRUE_KINDS, *FALSE_KINDS):
            keys[f"refuted_{k}_theories{suffix}"] = summ[f"refuted_{k}"]
        for k in TRUE_KINDS:
            keys[f"own_{k}_covers_truth{suffix}"] = summ[f"own_{k}_covers_truth"]
            keys[f"own_{k}_brier{suffix}"] = summ[f"own_{k}_brier"]
        fit = {k: summ[k] for k in ("iterations", "fit_s", "distinct_graphs", "ess", "expected_shd", "mean_edges", "queries", "harmful_queries")}
        keys[f"guard_networks_fit{suffix}"] = fit
        wall = time.perf_counter() - t0
        body = table(rows)
        extra = (f"n = {n}, {len(args.seeds)} seeds, {int(summ['queries'])} (seed, query) pairs, {int(summ['harmful_queries'])} with true "
                 f"risk above {args.threshold}: human guarantee rate (theories at their 1 - delta credible risk) "
                 f"{summ['human_upper_guarantee_rate']:.3f}, false allow {summ['human_upper_false_allow']:.3f}, false block "
                 f"{summ['human_upper_false_block']:.3f}; delta split (refuted at delta / 2, read at 1 - delta / 2) "
                 f"{summ['human_split_guarantee_rate']:.3f}, false allow {summ['human_split_false_allow']:.3f}, false block "
                 f"{summ['human_split_false_block']:.3f}; the guard's default: {default}; at their mean risk {summ['human_guarantee_rate']:.3f} (within 2 posterior sd: "
                 f"{summ['human_guarantee_rate_within_2sd']:.3f}; descendants only: {summ['human_guarantee_rate_descendants']:.3f}); "
                 f"true theories' own risk covers the truth: cone {summ['own_true_cone_covers_truth']:.3f}, cone+parents "
                 f"{summ['own_true_cone_parents_covers_truth']:.3f}; refuted: " + ", ".join(f"{k} {summ[f'refuted_{k}']:.2f}" for k in (*TRUE_KINDS, *FALSE_KINDS))
                 + f"\n\nfit (means over seeds): {fit}")
        print(body + "\n\n" + extra + f"\nwall {wall:.0f} s")
        keys.update({f"guard_networks_config{suffix}": {k: v for k, v in vars(args).items() if k != "no_record"},
                     f"command_guard_networks{suffix}": command(), f"machine_guard_networks{suffix}": machine(), f"guard_networks_wall_s{suffix}": wall})
        if args.no_record:
            continue
        calibration_svg({n: scores}, BENCH / "results" / f"guard_{args.network}_n{n}_calibration.svg",
                        f"{args.network}, n = {n}: every estimator against the exact P(H | do(a)), {len(args.seeds)} seeds, {args.minutes} min training each")
        from guard_common import record

        record(keys, f"guard_networks — {args.network}, n = {n}, against its known SEM", body + "\n\n" + extra,
               notes=f"seeds {args.seeds}, {args.minutes} min training per fit (lr {args.lr}, hidden {args.hidden}), {args.n_samples} draws, "
                     f"n_traj {args.n_traj}, climb steps {args.climb_steps}, threshold {args.threshold}, alpha {args.alpha}, delta {args.delta}; "
                     f"wall {wall:.0f} s; calibration figure bench/results/guard_{args.network}_n{n}_calibration.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
