"""Coverage where it matters (issue 16): d = 20 (ER2, n = 100) and ecoli70 (n = 1,000 rows from its SEM).

    .venv/bin/python bench/coverage_large.py --problems d20 --seeds 0 1 2 3 4 --minutes 5 --full-settings   # the d20 record
    .venv/bin/python bench/coverage_large.py --problems ecoli70 --seeds 0 1 2 3 4 --minutes 2

Per seed, 30 planted theories (``planted``): 20 true partial graphs of the network (10 single edges, 5
directed paths, 5 pairs of edges), 5 low-mass edges (reference marginal in [0.05, 0.3], the lowest
non-zero ones otherwise) and 5 contradicting ones (both directions of a strong edge forbidden). p(h|D) comes
from the cached reference chains of bench/reference.py (their graphs reweighted to the floor prior, exact
since both rewards share the likelihood; the graphs of a second run, ``--variant _b``, uniform over that run, where
one is cached, with p's standard error ``p_se`` from its cold chains; the planted theories still come from the first
run's marginals); "refuted" is p(h|D) < delta P(h). Three samplers on the same
floor-prior reward: the coverage GFlowNet (``CoverageConfig.budgeted`` objective + the MCMC guide of
bench/gfn_scale.py's settings; where those start the chains from the empty graph (d20) they start at the theories'
best completions instead, unless --no-guide-starts; ecoli70's start from its order search), the plain GFlowNet (the same without the objective) and the project's
16-chain MC3, compared at equal CPU time (--minutes of this process's CPU each) and at equal reward
evaluations (the coverage GFlowNet's count; the plain GFlowNet and MC3 are read when they reach it). The reference
scores the running audits and never steers the objective (CoverageTraining's ``p_scored``): the coverage GFlowNet
finds its under-covered theories from its own MC3 guide's chain visits (``visits``; --no-chain-steering: from the
importance weights of its own draws, as before 2026-12-07 evening), as the fit does. Covered:
q(h) + binomial tolerance >= (1 - eps) p(h|D) over 2,000 draws (no best completions at this size). ecoli70
has one data set (one reference); its seeds vary the planted theories and the samplers' seeds.
Writes bench/results/gfn_coverage_large.json and a section of bench/RESULTS.md.

The earlier d = 20 section that bench/coverage.py still calls is bench/coverage_d20.py.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.masses import binomial_tolerance
from theorycov.coverage.mcmc import StructureMCMC
from theorycov.coverage.objective import CoverageConfig
from theorycov.coverage.prior import FloorPrior
from theorycov.gfn import Reward, sample

from gfn_common import count_transitions  # noqa: E402
from coverage_d5 import DELTA, EPS, LAM, _h  # noqa: E402  (shared helpers of the benchmark)


# ---------------------------------------------------------------- issue 16: d = 20 and ecoli70 on cached references
def planted(names: list[str], truth: torch.Tensor, marg: torch.Tensor, seed: int) -> tuple[list[Hypothesis], list[str]]:
    """30 theories: 10 true edges, 5 true paths, 5 pairs of true edges, 5 low-mass edges, 5 contradicting."""
    from theorycov.gfn.graphs import transitive_closure
    gen = torch.Generator().manual_seed(seed)
    N = lambda i: names[i]  # noqa: E731
    d = len(names)
    E = [tuple(e) for e in truth.nonzero().tolist()]
    perm = torch.randperm(len(E), generator=gen).tolist()
    hyps = [_h(Constraint(N(E[k][0]), N(E[k][1]), sign=1)) for k in perm[:10]]
    reach = transitive_closure(truth[None])[0] & ~truth & ~torch.eye(d, dtype=torch.bool)  # paths of length >= 2
    P = [tuple(e) for e in reach.nonzero().tolist()]
    pp = torch.randperm(len(P), generator=gen).tolist()
    hyps += [_h(Constraint(N(P[k][0]), N(P[k][1]), path=True, sign=1)) for k in pp[:5]]
    hyps += [_h(Constraint(N(E[a][0]), N(E[a][1]), sign=1), Constraint(N(E[b][0]), N(E[b][1]), sign=1))
             for a, b in zip(perm[10:15], perm[15:20])]
    pairs = [(i, j) for i in range(d) for j in range(d) if i != j and not truth[i, j]]
    low = [pr for pr in pairs if 0.05 <= float(marg[pr]) <= 0.3]
    if len(low) < 5:  # a peaked posterior: the lowest non-zero marginals
        low += sorted([pr for pr in pairs if float(marg[pr]) > 0 and pr not in low], key=lambda pr: float(marg[pr]))
    lp = torch.randperm(min(len(low), 20), generator=gen).tolist()
    hyps += [_h(Constraint(N(low[k][0]), N(low[k][1]))) for k in lp[:5]]
    adjm = marg + marg.T
    strong = sorted(E, key=lambda e: -float(adjm[e]))[:5]
    hyps += [_h(Constraint(N(i), N(j), forbidden=True), Constraint(N(j), N(i), forbidden=True)) for i, j in strong]
    kinds = ["true"] * 20 + ["low-mass"] * (len(hyps) - 25) + ["contradicting"] * 5
    return hyps, kinds


def _q_summary(q: torch.Tensor, p: torch.Tensor, judged: torch.Tensor, n: int) -> dict[str, object]:
    cov = q + binomial_tolerance(q, n) >= (1 - EPS) * p
    ratio = q / p.clamp_min(1e-12)
    return {"covered_share": float(cov[judged].double().mean()), "min_q_over_p": float(ratio[judged].min()),
            "q": [round(float(x), 4) for x in q]}


def _gfn(reward: Reward, cs: ConstraintSet, p: torch.Tensor, refuted: torch.Tensor, *, coverage: bool, seed: int,
         cpu_seconds: float, snapshot_at: int | None, settings: dict[str, object], n_eval: int,
         guide_starts: bool = True, objective: str = "budgeted", refine_seconds: float = 0.0,
         full_settings: bool = False, chain_steering: bool = True, finetune: bool = True) -> dict[str, object]:
    """One GFlowNet (MCMC guide + optionally the coverage objective) for a CPU budget; q at the end and, when
    ``snapshot_at`` is given, when its reward evaluations first reach that count. ``refine_seconds`` > 0: the budget's
    last CPU seconds refine the n_eval draws by MC3 on the same (floor-prior) reward (gfn.mcmc.refine), and q is read
    from the refined draws ("raw": the draws' own figures beside them). ``full_settings``: gfn_scale's SETTINGS as they are
    (ordered environment, fine-tuning, and their "refine" seconds unless ``refine_seconds`` is given). ``chain_steering``:
    the coverage GFlowNet's running audit estimates p(h|D) by its MC3 guide's cold-chain visits (CoverageTraining's
    ``visits``) instead of the importance weights of its own draws (False: the behaviour before 2026-12-07 evening).
    ``finetune`` False: without the settings' fine-tuning stage (gfn/finetune.py), whose gradient is the reverse KL's
    (mode-seeking); give its CPU seconds to ``refine_seconds`` to keep the budget's split."""
    from theorycov.coverage.objective import CoverageObjective
    from theorycov.coverage.train import CoverageTraining
    from theorycov.gfn import Trainer
    from theorycov.gfn.warmstart import GuideConfig, MCMCGuide, combine_starts, combine_transitions
    from gfn_scale import trainer_config_for  # the scale benchmark's settings
    from theorycov.gfn.candidates import candidate_parents
    # without the ordered environment and the fine-tuning of the d20 SETTINGS: at this bench's 2 CPU-minutes they left
    # 35-39 edges a graph against the reference's 56-63 and covered 0.20 / 0.28 (coverage GFlowNet) and 0.36 / 0.32
    # (plain) on seeds 0 / 3, against 0.36 / 0.80 and 0.32 / 0.64 without them (bench/RESULTS.md 2026-12-07): they
    # need the 5-minute budget's longer DB phase
    if not finetune:
        settings = {k: v for k, v in settings.items() if k != "finetune"}
    if full_settings:
        if refine_seconds <= 0 and "refine" in settings:
            refine_seconds = float(settings["refine"][1])  # type: ignore[index]
    else:
        settings = {k: v for k, v in settings.items() if k not in ("edge_order", "finetune", "refine")}
        # ... and without the guide's reservoir, which there only feeds that fine-tuning's forward-KL graphs (and SubTB's
        # graphs); with the full settings it stays: ecoli70's nll (0.05) learns from the chains' history it keeps
        settings["guide"] = {k: v for k, v in settings["guide"].items() if k != "reservoir"}  # type: ignore[union-attr]
    cfg = trainer_config_for(settings, seed)
    # the screen keeps every theory's required edges (ConstraintSet.required_edges): without them a planted theory
    # whose edge the k-screen drops has q = 0 by construction (seen at ecoli70, k = 8); both GFlowNets get it
    allowed = None if cfg.candidates <= 0 else candidate_parents(reward, cfg.candidates) | cs.required_edges().to(reward.device)
    tr = Trainer(cfg, reward, allowed=allowed)
    # the objective's completions stay inside the screen, as the fit's do (coverage/posterior.py)
    # "budgeted" (default): capped per audit, the comparison at equal evaluations of DESIGN.md; "strong": CoverageConfig()'s
    # uncapped objective of real domains (the fit's, there with 2 hill-climbing restarts), which spends evaluations on theory
    # completions every iteration; both with 1 restart here (a full climb at d = 20 takes seconds per theory)
    ocfg = CoverageConfig.budgeted(restarts=1, guide_starts=guide_starts) if objective == "budgeted" else CoverageConfig(restarts=1, guide_starts=guide_starts)
    obj = CoverageObjective(reward, cs, ocfg, allowed=tr.env.allowed) if coverage else None
    gcfg = GuideConfig(**settings["guide"], seed=seed + 17)  # type: ignore[arg-type]
    # the coverage GFlowNet's guide chains start at the theories' best completions (CoverageConfig.guide_starts)
    pool = obj.best_completions(tr.env.allowed) if obj is not None and obj.config.guide_starts else None
    guide = MCMCGuide(reward, gcfg, allowed=tr.env.allowed, start_pool=pool, rank=tr.env.rank_action)
    if obj is not None:
        obj.rank = tr.env.rank_action  # None unless the settings order the environment (gfn/canonical.py)
    tr.extra_transitions = combine_transitions(obj, guide)  # type: ignore[assignment]
    tr.start_states = combine_starts(None if obj is None else obj.start_states, guide.start_states)  # type: ignore[assignment]
    if cfg.nll_weight > 0:
        tr.demonstrations = guide.demonstrations
    if cfg.subtb_weight > 0:  # subtrajectory balance on the guide's graphs (gfn/subtb.py), both GFlowNets alike
        tr.trajectories = guide.graphs
    added = count_transitions(tr)
    # injected transitions are in the count, and so are subtrajectory balance's steps (one reward delta each)
    evals = lambda: added() + guide.chains.evaluations + tr.subtb_evaluations  # noqa: E731
    g = torch.Generator().manual_seed(seed + 5)
    out: dict[str, object] = {}

    def on_log(t: Trainer) -> None:
        if snapshot_at is not None and "at_equal_evaluations" not in out and evals() >= snapshot_at:
            q = cs.satisfies(sample(t.sampler, n_eval, generator=g)).double().mean(0)
            out["at_equal_evaluations"] = {**_q_summary(q, p, ~refuted, n_eval), "evaluations": evals(), "iterations": t.iteration}

    # the reference scores the running audit; the objective is steered by the sampler's own importance estimate, as
    # in the fit (before 2026-12-07 the reference steered it: CoverageTraining's p_reference)
    log = CoverageTraining(tr, cs, obj, p_scored=p, refuted=refuted, audit_every=100, n_samples=256, seed=seed, on_log=on_log,
                           visits=guide.visits if obj is not None and chain_steering else None)
    cpu0 = time.process_time()
    log.running_audit()  # as CoverageTraining.run does, with a CPU budget instead of wall time
    # the settings' fine-tuning (gfn/finetune.py) takes the last CPU seconds of the budget, as in gfn_scale.train; both
    # GFlowNets alike (the objective's transitions shape the DB phase; fine-tuning scores the sampler against R)
    ft = min(float(settings["finetune"][0]), 0.2 * cpu_seconds) if "finetune" in settings else 0.0  # type: ignore[index]
    tr.train(num_iterations=10**9, callback=log._callback, max_cpu_seconds=cpu_seconds - ft - refine_seconds - (time.process_time() - cpu0))
    if ft > 0:
        tr.finetune(max_cpu_seconds=ft)
    draws = sample(tr.sampler, n_eval, generator=g)
    q = cs.satisfies(draws).double().mean(0)
    if refine_seconds > 0:
        from theorycov.gfn.mcmc import refine
        st: dict[str, float] = {}
        raw = _q_summary(q, p, ~refuted, n_eval)
        left = max(0.0, cpu_seconds - (time.process_time() - cpu0))
        draws = refine(reward, draws, 10**9, seed=seed + 7, allowed=tr.env.allowed, max_parents=tr.config.max_parents,
                       max_cpu_seconds=left, stats=st)
        q = cs.satisfies(draws).double().mean(0)
        out["raw"] = {"covered_share": raw["covered_share"], "min_q_over_p": raw["min_q_over_p"]}
        out["refine"] = {"steps": int(st["steps"]), "cpu_seconds": round(st["cpu_seconds"], 1), "acceptance": round(st["acceptance"], 3)}
    # edges a draw: every judged theory here is an existence claim, so a sampler short of the posterior's edge
    # count under-covers all of them at once (the reference's figure is beside it, "reference_mean_edges")
    out.update(_q_summary(q, p, ~refuted, n_eval), evaluations=evals(), iterations=tr.iteration,
               mean_edges=round(float(draws.flatten(1).sum(1).double().mean()), 2),
               wall_seconds=round(tr.train_seconds, 1), cpu_seconds=round(tr.train_cpu_seconds, 1))
    if obj is not None and log.history.steering:  # how far the steering's own p(h|D) was from the reference at the last audit
        last = torch.tensor(log.history.steering[-1][1], dtype=torch.float64)
        out["steering_mae"] = round(float((last - p).abs().mean()), 4)
        out["steering_source"] = "chain visits" if log.visits is not None else "importance"
    return out


def run_large(name: str, seed: int, minutes: float, settings: dict[str, object], n_eval: int = 2000,
              guide_starts: bool = True, objective: str = "budgeted", refine_seconds: float = 0.0,
              full_settings: bool = False, chain_steering: bool = True, finetune: bool = True) -> dict[str, object]:
    """One seed of one problem: the three samplers at equal CPU time and at the coverage GFlowNet's evaluations."""
    import reference
    from theorycov.coverage.prior import HypothesisPriorMass
    data_seed = seed if name == "d20" else 0
    base, truth = reference.problem(name, data_seed)
    ref = reference.load(name, data_seed)
    names = list(base.names)
    hyps, kinds = planted(names, truth, torch.as_tensor(ref["marginals"]), seed)
    cs = ConstraintSet(hyps, names)
    w = torch.full((len(hyps),), 1.0 / len(hyps), dtype=torch.float64)
    prior = FloorPrior(cs, w, lam=LAM, mass=HypothesisPriorMass.compute(cs, 1.0, n_samples=4000, seed=seed))
    reward = Reward(base.score, prior)
    # p(h|D) from the graphs of a second, independent reference run where one is cached (bench/reference.py --variant
    # _b): its graphs are a uniform sample of the whole run, where the first run's npz kept its first 2,500 recordings,
    # whose edge marginals were > 10% (relative) off the run's on 31-51% of the edges above 0.05 (bench/RESULTS.md 2026-12-07)
    spread = (reference.RESULTS / reference.tag(name, data_seed, "_b")).with_suffix(".npz").exists()
    src = reference.load(name, data_seed, "_b") if spread else ref
    ref_graphs = src["samples"]
    sat = cs.satisfies(ref_graphs).double()
    lw = prior.log_prob(ref_graphs)
    wt = torch.softmax(lw, 0)  # reference graphs reweighted to the floor prior
    p = wt @ sat
    p_se = torch.full_like(p, float("nan"))
    if src.get("samples_chain") is not None:  # p's Monte Carlo error: the spread of the cold chains' own estimates
        ch = src["samples_chain"]
        per = torch.stack([torch.softmax(lw[ch == c], 0) @ sat[ch == c] for c in ch.unique()])
        p_se = per.std(0) / per.shape[0] ** 0.5
    prior_h = prior.p_min + (1 - prior.lam) * prior.mass.mass
    refuted = p < DELTA * prior_h
    out: dict[str, object] = {"problem": name, "seed": seed, "kinds": kinds, "p_ref": [round(float(x), 4) for x in p],
                              "refuted": refuted.tolist(), "reference_graphs": int(ref_graphs.shape[0]),
                              "reference_samples": "second run, uniform over it" if spread else "first run, its first recordings",
                              "p_se": [round(float(x), 4) for x in p_se],
                              "reference_converged": src.get("converged"), "reference_rhat_edges_max": src.get("rhat_edges_max"),  # p's run
                              "minutes": minutes, "reference_mean_edges": round(float(wt @ ref_graphs.flatten(1).sum(1).double()), 2),
                              "guide_burn_in": settings["guide"]["burn_in"], "objective": objective,  # type: ignore[index]
                              "full_settings": full_settings, "finetune": finetune}
    secs = minutes * 60
    out["coverage"] = _gfn(reward, cs, p, refuted, coverage=True, seed=seed, cpu_seconds=secs, snapshot_at=None, settings=settings, n_eval=n_eval,
                           guide_starts=guide_starts, objective=objective, refine_seconds=refine_seconds, full_settings=full_settings,
                           chain_steering=chain_steering, finetune=finetune)
    e_cov = int(out["coverage"]["evaluations"])  # type: ignore[index]
    out["plain"] = _gfn(reward, cs, p, refuted, coverage=False, seed=seed, cpu_seconds=secs, snapshot_at=e_cov, settings=settings, n_eval=n_eval,
                        refine_seconds=refine_seconds, full_settings=full_settings, finetune=finetune)
    mc = StructureMCMC(reward, num_chains=16, seed=seed + 1)
    burn = max(1, (e_cov // 16) // 10)
    r = mc.run(e_cov, burn_in=burn, constraints=cs, keep_samples=False)
    mcmc: dict[str, object] = {"at_equal_evaluations": {**_q_summary(r.q, p, ~refuted, max(r.n_kept // 16, 1)), "evaluations": r.evaluations}}
    mc2 = StructureMCMC(reward, num_chains=16, seed=seed + 1)
    r2 = mc2.run(10**12, burn_in=burn, constraints=cs, keep_samples=False, max_cpu_seconds=secs)
    mcmc.update(_q_summary(r2.q, p, ~refuted, max(r2.n_kept // 16, 1)), evaluations=r2.evaluations, acceptance=round(r2.acceptance, 3),
                mean_edges=round(float(mc2.adj.flatten(1).sum(1).double().mean()), 2))  # the chains' last states
    out["mcmc"] = mcmc
    return out


def _kept(problems: list[str]) -> dict[str, object]:
    """The recorded figures of the problems this run leaves alone (a run of ecoli70 keeps d20's, and the
    reverse), each under its own date and command: ``runs_<problem>`` and its ``coverage_<problem>_*`` keys."""
    import json
    path = Path(__file__).resolve().parent / "results" / "gfn_coverage_large.json"
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    kept: dict[str, object] = {}
    for name in {r["problem"] for r in old.get("runs", [])} | {k.split("_")[1] for k in old if k.startswith("coverage_")}:
        if name in problems:
            continue
        kept.update({k: v for k, v in old.items() if k.startswith(f"coverage_{name}_")})
        kept[f"runs_{name}"] = [r for r in old.get("runs", []) if r["problem"] == name] or old.get(f"runs_{name}", [])
        kept[f"recorded_{name}"] = old.get(f"recorded_{name}") or {k: old[k] for k in ("date", "command", "machine") if k in old}
    return kept


def main() -> None:
    import argparse
    import json

    from gfn_common import machine, report, table
    from gfn_scale import SETTINGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", nargs="+", default=["d20", "ecoli70"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--minutes", type=float, default=3.0, help="CPU minutes of each sampler")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--no-guide-starts", action="store_true",
                    help="the coverage GFlowNet's MC3 guide starts from the empty graph (CoverageConfig.guide_starts off)")
    ap.add_argument("--objective", choices=["budgeted", "strong"], default="budgeted",
                    help="the coverage GFlowNet's objective: CoverageConfig.budgeted (capped) or CoverageConfig() (uncapped)")
    ap.add_argument("--guide-burn", type=int, default=None,
                    help="the MCMC guide's burn-in steps for both GFlowNets (default: gfn_scale's SETTINGS of the problem)")
    ap.add_argument("--refine-seconds", type=float, default=0.0,
                    help="both GFlowNets' last CPU seconds refine their 2,000 draws by MC3 (gfn.mcmc.refine) before q is read")
    ap.add_argument("--full-settings", action="store_true",
                    help="both GFlowNets with gfn_scale's SETTINGS unchanged (ordered environment, fine-tuning, MC3 refinement)")
    ap.add_argument("--no-chain-steering", action="store_true",
                    help="the coverage GFlowNet's audit estimates p(h|D) by importance weights of its draws, not its guide's chain visits")
    ap.add_argument("--no-finetune", action="store_true",
                    help="both GFlowNets without the settings' fine-tuning stage (with --refine-seconds: where its CPU seconds go)")
    ap.add_argument("--from-partial", action="store_true",
                    help="report the seeds a stopped run finished (the --partial file) instead of running")
    ap.add_argument("--partial", type=Path, default=Path(__file__).resolve().parent / "results" / "gfn_coverage_large.partial.json",
                    help="where each finished seed is kept (a second process on other seeds names its own; concatenate to report)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    load0 = machine()
    runs = []
    import reference
    skipped = []
    partial = args.partial
    if args.from_partial:  # the seeds are what the stopped run finished, whatever --seeds says
        runs = [r for r in json.loads(partial.read_text()) if r["problem"] in args.problems]
        args.seeds = sorted({int(r["seed"]) for r in runs})
        budgets = {float(r["minutes"]) for r in runs if "minutes" in r}  # what the runs had, not this call's default
        if len(budgets) == 1:
            args.minutes = budgets.pop()
    for name in args.problems if not args.from_partial else []:
        for seed in args.seeds:
            data_seed = seed if name == "d20" else 0
            if not (reference.RESULTS / reference.tag(name, data_seed)).with_suffix(".npz").exists():
                print(f"skipped {name} seed {seed}: no cached reference (run: python bench/reference.py {name} --seeds {data_seed})")
                skipped.append(f"{name}:{seed}")
                continue
            settings = SETTINGS[name]
            if args.guide_burn is not None:
                settings = {**settings, "guide": {**settings["guide"], "burn_in": args.guide_burn}}  # type: ignore[dict-item]
            res = run_large(name, seed, args.minutes, settings, guide_starts=not args.no_guide_starts, objective=args.objective,
                            refine_seconds=args.refine_seconds, full_settings=args.full_settings,
                            chain_steering=not args.no_chain_steering, finetune=not args.no_finetune)
            runs.append(res)
            print(json.dumps({k: v for k, v in res.items() if k not in ("p_ref", "kinds")}, default=float), flush=True)
            # each finished seed is kept, so a run stopped early still has its seeds (not committed: *.partial.json)
            partial.write_text(json.dumps(runs, default=float))
    rows, figures = [], {"runs": runs, "config": {**vars(args), "partial": str(args.partial)}, "machine_at_start": load0, "skipped_no_reference": skipped}
    figures.update(_kept(args.problems))
    for name in args.problems:
        rs = [r for r in runs if r["problem"] == name]
        if not rs:
            continue
        figures[f"coverage_{name}_seeds"] = [r["seed"] for r in rs]
        for m in ("coverage", "plain", "mcmc"):
            for when in ("cpu", "evals"):
                pick = [r[m] if when == "cpu" else r[m].get("at_equal_evaluations", r[m]) for r in rs]  # type: ignore[union-attr]
                row = {"problem": name, "method": m, "budget": "equal CPU" if when == "cpu" else "equal evaluations",
                       "covered_worst": min(float(x["covered_share"]) for x in pick), "min_q_over_p_worst": min(float(x["min_q_over_p"]) for x in pick)}
                rows.append(row)
                figures[f"coverage_{name}_{m}_{when}"] = row
        figures[f"coverage_{name}_covered_worst"] = min(float(r["coverage"]["covered_share"]) for r in rs)  # type: ignore[index]
        figures[f"coverage_{name}_min_q_over_p"] = min(float(r["coverage"]["min_q_over_p"]) for r in rs)  # type: ignore[index]
    print(table(rows))
    if not args.no_record:
        report("gfn_coverage_large", "coverage_large: planted theories at d = 20 and ecoli70", table(rows), figures,
               f"{args.minutes:g} CPU minutes per sampler (1 thread); load at start: {load0.split('load average ')[-1]}")


if __name__ == "__main__":
    main()
