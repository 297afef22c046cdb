"""Coverage benchmark (issue 5): plain GFlowNet vs coverage GFlowNet vs MC3 at equal reward evaluations.

    .venv/bin/python bench/coverage.py [--quick] [--seeds 5] [--minutes M] [--skip-d20] [--skip-sachs]

1. d = 5, ER1, n = 100, 20 planted hypotheses per seed (10 from the true graph's edges, 5 from the exact
   posterior's low-mass region, 5 contradicting the data); exact p(h|D), exact P_T of both GFlowNets,
   MC3's empirical distribution. Bar: coverage GFlowNet covers 100% of the non-refuted hypotheses,
   min q/p >= 0.9, JSD <= 1.1 x the plain GFlowNet's.
2. d = 20, ER2: masses from a long MC3 reference run; time to first hit of each hypothesis.
3. Sachs (853 observational cells): hypotheses from the BEL statements and the consensus network; the
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
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from theorycov.corpus.types import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.mcmc import StructureMCMC, empirical_distribution, visited
from theorycov.coverage.objective import CoverageConfig, CoverageObjective
from theorycov.coverage.prior import FloorPrior
from theorycov.coverage.train import CoverageTraining
from theorycov.gfn import (BGeScore, PolicyConfig, Reward, Trainer, TrainerConfig, enumerate_dags,
                           exact_terminal_distribution, jensen_shannon, sample)
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.graphs import graph_codes, transitive_closure

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
EPS, DELTA, LAM = 0.1, 0.1, 0.1


# ---------------------------------------------------------------- planted hypotheses (d = 5)
def _h(*cons: Constraint) -> Hypothesis:
    return Hypothesis(tuple(cons))


@dataclass
class Instance:
    names: list[str]
    true: torch.Tensor
    hyps: list[Hypothesis]
    kinds: list[str]
    cs: ConstraintSet
    prior: FloorPrior
    reward: Reward
    dags: torch.Tensor
    post: torch.Tensor  # (K,) exact P(G|D) under the floor prior
    sat: torch.Tensor  # (K, H)
    p: torch.Tensor
    prior_h: torch.Tensor
    refuted: torch.Tensor
    best: torch.Tensor  # (H, d, d) exact best completions


def _pick(pool: list[Hypothesis], k: int, taken: set[str], gen: torch.Generator) -> list[Hypothesis]:
    out = []
    for i in torch.randperm(len(pool), generator=gen).tolist():
        if len(out) == k:
            break
        key = pool[i].shallow_hash()
        if key not in taken:
            taken.add(key)
            out.append(pool[i])
    return out


def planted_d5(seed: int) -> Instance:
    """The d = 5 ER1 instance of one seed with its 20 planted hypotheses and exact masses."""
    data, true = make_linear_gaussian_er(5, 1.0, 100, seed=seed)
    names, d = list(data.names), 5
    dags = enumerate_dags(d)
    gen = torch.Generator().manual_seed(1000 + seed)
    post0 = torch.softmax(Reward(BGeScore(data)).log_reward(dags), 0)
    p0_uniform = torch.full_like(post0, 1.0 / post0.shape[0])
    E = [tuple(e) for e in true.nonzero().tolist()]
    reach = transitive_closure(true[None])[0] & ~torch.eye(d, dtype=torch.bool)
    N = lambda i: names[i]  # noqa: E731
    non_adj = [(i, j) for i in range(d) for j in range(d) if i != j and not true[i, j] and not true[j, i]]
    # 10 from the truth: edges, paths, pairs of edges, an edge plus a true non-edge, round-robin over kinds
    cats = [
        [_h(Constraint(N(a), N(b), sign=1)) for a, b in E],
        [_h(Constraint(N(a), N(b), path=True, sign=1)) for a, b in reach.nonzero().tolist()],
        [_h(Constraint(N(a), N(b), sign=1), Constraint(N(c), N(e), sign=1)) for x, (a, b) in enumerate(E) for c, e in E[x + 1:]],
        [_h(Constraint(N(a), N(b), sign=1), Constraint(N(c), N(e), forbidden=True)) for a, b in E for c, e in non_adj],
    ]
    taken: set[str] = set()
    picks = [_pick(c, 10, taken, gen) for c in cats]
    true_h: list[Hypothesis] = []
    while len(true_h) < 10 and any(picks):
        for c in picks:
            if c and len(true_h) < 10:
                true_h.append(c.pop(0))
    # candidates over all pairs, scored by the base posterior (uniform P0): p0 and P0(h)
    cand = [_h(Constraint(N(i), N(j))) for i in range(d) for j in range(d) if i != j]
    cand += [_h(Constraint(N(i), N(j), path=True)) for i in range(d) for j in range(d) if i != j]
    cand += [_h(Constraint(N(i), N(j), forbidden=True), Constraint(N(j), N(i), forbidden=True)) for i in range(d) for j in range(i + 1, d)]
    cand += [_h(Constraint(N(i), N(j), path=True, forbidden=True), Constraint(N(j), N(i), path=True, forbidden=True)) for i in range(d) for j in range(i + 1, d)]
    ccs = ConstraintSet(cand, names)
    csat = ccs.satisfies(dags).to(torch.float64)
    cp, cP0 = post0 @ csat, p0_uniform @ csat
    approx_prior = cP0 + LAM / 20  # about P(h) once the floor is added
    order = torch.argsort(cp).tolist()
    low = [cand[k] for k in order if 2 * DELTA * float(approx_prior[k]) <= float(cp[k]) < 0.5 and cand[k].shallow_hash() not in taken][:5]
    taken |= {h.shallow_hash() for h in low}
    ratio = (cp / cP0).tolist()
    contra = [cand[k] for k in sorted(range(len(cand)), key=lambda k: ratio[k]) if cand[k].shallow_hash() not in taken][:5]
    hyps = true_h + low + contra
    kinds = ["true"] * len(true_h) + ["low-mass"] * len(low) + ["contradicting"] * len(contra)
    cs = ConstraintSet(hyps, names)
    w = torch.full((len(hyps),), 1.0 / len(hyps), dtype=torch.float64)
    prior = FloorPrior(cs, w, lam=LAM, dags=dags)
    reward = Reward(BGeScore(data), prior)
    lr = reward.log_reward(dags)
    post = torch.softmax(lr, 0)
    sat = cs.satisfies(dags)
    p = post @ sat.to(torch.float64)
    prior_h = prior.log_prob(dags).exp() @ sat.to(torch.float64)
    best = torch.stack([dags[int(torch.argmax(torch.where(sat[:, h], lr, torch.full_like(lr, -math.inf))))] for h in range(len(hyps))])
    return Instance(names, true, hyps, kinds, cs, prior, reward, dags, post, sat, p, prior_h, p < DELTA * prior_h, best)


# ---------------------------------------------------------------- GFlowNet runs with counted evaluations
class _AuditLog(CoverageTraining):
    """CoverageTraining that also records the reward evaluations spent at every running audit."""

    def __init__(self, *a: object, counter: dict[str, int], **k: object) -> None:
        super().__init__(*a, **k)  # type: ignore[arg-type]
        self.counter, self.evals_at = counter, {}
        self.t_start = time.perf_counter()
        self.seconds_at: dict[int, float] = {}

    def running_audit(self) -> torch.Tensor:
        it = self.trainer.iteration
        self.evals_at[it] = self.counter["sampler"] + self.counter["objective"]
        self.seconds_at[it] = time.perf_counter() - self.t_start
        return super().running_audit()


def train_gfn(reward: Reward, cs: ConstraintSet, *, coverage: bool, iterations: int, seed: int, p_ref: torch.Tensor | None,
              refuted: torch.Tensor, max_seconds: float | None, audit_every: int, cfg_cov: CoverageConfig,
              hidden: int = 256, n_audit: int = 2048, num_envs: int = 32, constant_lr: bool = False,
              max_evaluations: int | None = None) -> tuple[Trainer, _AuditLog, dict[str, int]]:
    """Train one GFlowNet (with or without the coverage objective); counts buffer transitions.

    Time-capped runs (d = 20, Sachs) use a constant learning rate and a 2,000-iteration exploration decay;
    ``max_evaluations`` stops the run (checked every 100 iterations) once that many transitions were stored.
    """
    decay = 2000 if constant_lr else max(iterations // 3, 1)
    cfg = TrainerConfig(seed=seed, num_iterations=iterations, num_envs=num_envs, batch_size=256, prefill=256,
                        eps_decay_iters=decay, warmup_iters=50, progress=False, lr_schedule="constant" if constant_lr else "cosine",
                        policy=PolicyConfig(hidden=hidden, num_layers=2))
    objective = CoverageObjective(reward, cs, cfg_cov) if coverage else None
    trainer = Trainer(cfg, reward, extra_transitions=objective)
    counter = {"sampler": 0, "objective": 0}
    add = trainer.buffer.add

    def counted_add(tr, validate: bool = False) -> None:  # validate=True marks the hook's transitions
        counter["objective" if validate else "sampler"] += len(tr)
        add(tr, validate)

    trainer.buffer.add = counted_add  # type: ignore[method-assign]
    log = _AuditLog(trainer, cs, objective, p_reference=p_ref, refuted=refuted, audit_every=audit_every,
                    n_samples=n_audit, seed=seed, counter=counter)
    if max_evaluations is None:
        log.run(iterations=iterations, max_seconds=max_seconds)
    else:
        t0 = time.perf_counter()
        while counter["sampler"] + counter["objective"] < max_evaluations:
            left = None if max_seconds is None else max_seconds - (time.perf_counter() - t0)
            if left is not None and left <= 0:
                break
            log.run(iterations=100, max_seconds=left)
    return trainer, log, counter


def _audit_every(iterations: int, log_every: int = 100) -> int:
    """About 6 running audits per run, at a multiple of the trainer's log_every (its callback cadence)."""
    return max(log_every, round(iterations / 6 / log_every) * log_every)


def _first_hit_evals(log: _AuditLog) -> list[int | None]:
    return [None if it is None else log.evals_at.get(it) for it in log.history.first_hit]


def _codes_set(graphs: torch.Tensor) -> set[int]:
    return set(graph_codes(graphs).tolist())


def eval_d5(inst: Instance, q: torch.Tensor, dist: torch.Tensor, reached: torch.Tensor, first_hit: list[int | None]) -> dict[str, object]:
    """Covered share, min q/p, JSD, evaluations to first hit (non-refuted hypotheses)."""
    judged = ~inst.refuted
    covered = (q >= (1 - EPS) * inst.p) & reached
    ratio = q / inst.p
    fh = [first_hit[h] for h in range(len(first_hit)) if bool(judged[h])]
    hit = [x for x in fh if x is not None]
    return {
        "covered_share": float(covered[judged].to(torch.float64).mean()),
        "min_q_over_p": float(ratio[judged].min()),
        "jsd": jensen_shannon(inst.post, dist),
        "under_covered": [h for h in range(len(q)) if bool(judged[h]) and not bool(covered[h])],
        "first_hit_evals_median": float(torch.tensor(hit, dtype=torch.float64).median()) if hit else None,
        "first_hit_evals_max": max(hit) if len(hit) == len(fh) and hit else None,
        "never_hit": len(fh) - len(hit),
        "q": q.tolist(),
    }


def run_d5_seed(seed: int, iterations: int, max_seconds: float | None, cfg_cov: CoverageConfig) -> dict[str, object]:
    inst = planted_d5(seed)
    out: dict[str, object] = {"seed": seed, "n_refuted": int(inst.refuted.sum()), "kinds": inst.kinds,
                              "p": inst.p.tolist(), "refuted": inst.refuted.tolist()}
    gen = torch.Generator().manual_seed(seed + 99)
    best_codes = graph_codes(inst.best)
    t0 = time.perf_counter()
    runs: dict[str, tuple[Trainer, _AuditLog, dict[str, int]]] = {}
    runs["coverage"] = train_gfn(inst.reward, inst.cs, coverage=True, iterations=iterations, seed=seed, p_ref=inst.p,
                                 refuted=inst.refuted, max_seconds=max_seconds, audit_every=_audit_every(iterations), cfg_cov=cfg_cov)
    tr, _, cnt = runs["coverage"]
    e_cov = cnt["sampler"] + cnt["objective"]
    per_it = cnt["sampler"] / max(tr.iteration, 1)
    it_plain = max(1, round(e_cov / per_it))  # plain GFlowNet gets the same number of evaluations
    runs["plain"] = train_gfn(inst.reward, inst.cs, coverage=False, iterations=it_plain, seed=seed, p_ref=inst.p,
                              refuted=inst.refuted, max_seconds=None if max_seconds is None else max_seconds * it_plain / max(tr.iteration, 1),
                              audit_every=_audit_every(it_plain), cfg_cov=cfg_cov)
    for name, (trainer, log, c) in runs.items():
        pt = exact_terminal_distribution(trainer.policy, inst.dags)
        q = pt @ inst.sat.to(torch.float64)
        draws = sample(trainer.policy, 10_000, generator=gen)
        reached = torch.tensor([int(b) in _codes_set(draws) for b in best_codes.tolist()])
        res = eval_d5(inst, q, pt, reached, _first_hit_evals(log))
        res.update(evaluations=c["sampler"] + c["objective"], objective_evaluations=c["objective"], iterations=trainer.iteration,
                   seconds=round(trainer.train_seconds, 1))
        out[name] = res
    # MC3 at the coverage GFlowNet's number of evaluations
    chains = 16
    mc = StructureMCMC(inst.reward, num_chains=chains, seed=seed)
    steps = e_cov // chains
    t1 = time.perf_counter()
    r = mc.run(e_cov, burn_in=steps // 10, constraints=inst.cs, track_visited=True)
    emp = empirical_distribution(r.samples, inst.dags)
    reached = torch.tensor([visited(r, inst.best[h]) for h in range(len(inst.hyps))])
    res = eval_d5(inst, r.q, emp, reached, r.first_hit)
    res.update(evaluations=r.evaluations, acceptance=round(r.acceptance, 3), seconds=round(time.perf_counter() - t1, 1))
    out["mcmc"] = res
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# ---------------------------------------------------------------- d = 20, ER2 against a long MC3 reference
def _binom_tol(q: torch.Tensor, n: int) -> torch.Tensor:
    return torch.maximum(2 * (q * (1 - q) / n).sqrt(), torch.full_like(q, 1.0 / n))


def run_d20(seed: int, ref_seconds: float, gfn_seconds: float, hidden: int) -> dict[str, object]:
    """Planted hypotheses at d = 20 (ER2, n = 100); p(h|D) from a long MC3 reference run, reweighted to the
    floor prior (exact: both rewards share the likelihood, P_floor / P0 is known graph by graph)."""
    from theorycov.coverage.prior import HypothesisPriorMass
    d = 20
    data, true = make_linear_gaussian_er(d, 2.0, 100, seed=seed)
    names = list(data.names)
    N = lambda i: names[i]  # noqa: E731
    base = Reward(BGeScore(data))
    t0 = time.perf_counter()
    ref = StructureMCMC(base, num_chains=32, seed=seed).run(10**12, burn_in=200, thin=5, max_seconds=ref_seconds)
    marg = ref.samples.to(torch.float64).mean(0)  # reference edge marginals
    adjm = marg + marg.T
    gen = torch.Generator().manual_seed(seed)
    E = [tuple(e) for e in true.nonzero().tolist()]
    perm = torch.randperm(len(E), generator=gen).tolist()
    true_h = [_h(Constraint(N(E[k][0]), N(E[k][1]), sign=1)) for k in perm[:4]]
    true_h += [_h(Constraint(N(E[k][0]), N(E[k][1]), path=True, sign=1)) for k in perm[4:7]]
    true_h += [_h(Constraint(N(E[a][0]), N(E[a][1]), sign=1), Constraint(N(E[b][0]), N(E[b][1]), sign=1)) for a, b in zip(perm[7:10], perm[10:13])]
    pairs = [(i, j) for i in range(d) for j in range(d) if i != j and not true[i, j]]
    low = sorted([pr for pr in pairs if 0.05 <= float(marg[pr]) <= 0.3], key=lambda pr: float(marg[pr]))[:5]
    low_h = [_h(Constraint(N(i), N(j))) for i, j in low]
    strong = sorted([e for e in E], key=lambda e: -float(adjm[e]))[:5]
    contra = [_h(Constraint(N(i), N(j), forbidden=True), Constraint(N(j), N(i), forbidden=True)) for i, j in strong]
    hyps = true_h + low_h + contra
    kinds = ["true"] * len(true_h) + ["low-mass"] * len(low_h) + ["contradicting"] * len(contra)
    cs = ConstraintSet(hyps, names)
    w = torch.full((len(hyps),), 1.0 / len(hyps), dtype=torch.float64)
    prior = FloorPrior(cs, w, lam=LAM, mass=HypothesisPriorMass.compute(cs, 1.0, n_samples=4000, seed=seed))
    reward = Reward(BGeScore(data), prior)
    sat_ref = cs.satisfies(ref.samples).to(torch.float64)
    wt = torch.softmax(prior.log_prob(ref.samples), 0)  # P_floor / P0 up to a constant (P0 uniform)
    p = wt @ sat_ref
    prior_h = prior.p_min + (1 - prior.lam) * prior.mass.mass  # lower bound of P(h), as the audit uses
    refuted = p < DELTA * prior_h
    ref_s = time.perf_counter() - t0
    out: dict[str, object] = {"seed": seed, "kinds": kinds, "p_ref": p.tolist(), "refuted": refuted.tolist(),
                              "reference": {"evaluations": ref.evaluations, "seconds": round(ref_s, 1), "kept": ref.n_kept,
                                            "acceptance": round(ref.acceptance, 3)}}
    # (no best completions here: constrained hill-climbing at d = 20 costs minutes; covered is judged by mass only)
    judged = ~refuted
    n_eval = 2000

    def summarize(q: torch.Tensor, fh_evals: list[int | None], fh_secs: list[float | None]) -> dict[str, object]:
        cov = (q + _binom_tol(q, n_eval) >= (1 - EPS) * p)
        ratio = q / p.clamp_min(1e-12)
        fe = [fh_evals[h] for h in range(len(hyps)) if bool(judged[h])]
        fs = [fh_secs[h] for h in range(len(hyps)) if bool(judged[h])]
        return {"covered_share": float(cov[judged].to(torch.float64).mean()), "min_q_over_p": float(ratio[judged].min()),
                "never_hit": sum(x is None for x in fe), "first_hit_evals": fe,
                "first_hit_seconds": [None if x is None else round(x, 1) for x in fs], "q": q.tolist()}

    import functools
    import theorycov.coverage.objective as objective_module
    full = objective_module.best_completion  # at d = 20 (posterior ~140 edges) one full hill-climb takes ~20 s:
    objective_module.best_completion = functools.partial(full, max_steps=10)  # seed the pools with 10-move climbs
    runs = {}
    runs["coverage"] = train_gfn(reward, cs, coverage=True, iterations=100_000, seed=seed, p_ref=p, refuted=refuted, max_seconds=gfn_seconds,
                                 audit_every=100, cfg_cov=CoverageConfig(per_iteration=8, restarts=1), hidden=hidden, n_audit=256, num_envs=24, constant_lr=True)
    objective_module.best_completion = full
    e_cov = runs["coverage"][2]["sampler"] + runs["coverage"][2]["objective"]
    runs["plain"] = train_gfn(reward, cs, coverage=False, iterations=100_000, seed=seed, p_ref=p, refuted=refuted, max_seconds=3 * gfn_seconds,
                              audit_every=100, cfg_cov=CoverageConfig(), hidden=hidden, n_audit=256, num_envs=32, constant_lr=True, max_evaluations=e_cov)
    g = torch.Generator().manual_seed(seed + 5)
    for name, (tr, log, c) in runs.items():
        draws = sample(tr.policy, n_eval, generator=g)
        q = cs.satisfies(draws).to(torch.float64).mean(0)
        fh_it = log.history.first_hit
        res = summarize(q, [None if i is None else log.evals_at.get(i) for i in fh_it],
                        [None if i is None else log.seconds_at.get(i) for i in fh_it])
        res.update(evaluations=c["sampler"] + c["objective"], iterations=tr.iteration, seconds=round(tr.train_seconds, 1))
        out[name] = res
    mc = StructureMCMC(reward, num_chains=16, seed=seed + 1)
    r = mc.run(e_cov, burn_in=(e_cov // 16) // 10, constraints=cs, keep_samples=False)
    secs = [None if x is None else x / max(r.evaluations, 1) * r.seconds for x in r.first_hit]
    res = summarize(r.q, r.first_hit, secs)
    res.update(evaluations=r.evaluations, seconds=round(r.seconds, 1), acceptance=round(r.acceptance, 3))
    out["mcmc"] = res
    return out


# ---------------------------------------------------------------- Sachs: the audit report
BEL_TSV = ROOT.parent / "shared" / "data" / "bel" / "sachs_node_statements_from_bel.tsv"
SACHS_CITATION = "Sachs et al. 2005, Science 308:523 (consensus network as in bnlearn sachs.bif)"


def sachs_hypotheses() -> tuple[list[Hypothesis], list[list[str]], torch.Tensor]:
    """Hypotheses from the 14 BEL statements (one per distinct claim, plus each paper's joint claim) and
    from the consensus network (one per edge, plus the whole network): (hypotheses, citations, weights (H,)).

    Weights w_h are proportional to the number of supporting statements (1 for consensus entries)."""
    import csv
    from collections import defaultdict
    from theorycov.gfn import SACHS_CONSENSUS_EDGES
    claims: dict[Constraint, list[str]] = defaultdict(list)
    by_paper: dict[str, set[Constraint]] = defaultdict(set)
    with open(BEL_TSV, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            rel = row["relation"]
            sign = -1 if "decreases" in rel.lower() else 1
            c = Constraint(row["subject_node"], row["object_node"], path=not rel.startswith("direct"), sign=sign)
            claims[c].append(f"PMID {row['pmid']} ({row['citation'][:60]})")
            by_paper[row["pmid"]].add(c)
    hyps, cites, counts = [], [], []
    for c, src in claims.items():
        hyps.append(_h(c))
        cites.append(sorted(set(src)))
        counts.append(len(src))
    for pmid, cons in by_paper.items():
        # a paper's joint hypothesis: a direct claim implies the path; conflicting signs on one pair keep the edge unsigned
        pairs: dict[tuple[str, str], list[Constraint]] = defaultdict(list)
        for c in cons:
            pairs[(c.cause, c.effect)].append(c)
        joint = []
        for (a, b), cs_ in pairs.items():
            direct = any(not c.path for c in cs_)
            signs = {c.sign for c in cs_}
            joint.append(Constraint(a, b, path=not direct, sign=signs.pop() if len(signs) == 1 else 0))
        if len(joint) > 1:
            hyps.append(_h(*joint))
            cites.append([f"PMID {pmid} (all claims of the paper)"])
            counts.append(sum(len(claims[c]) for c in cons))
    for a, b in SACHS_CONSENSUS_EDGES:
        hyps.append(_h(Constraint(a, b, sign=1)))
        cites.append([SACHS_CITATION])
        counts.append(1)
    hyps.append(_h(*[Constraint(a, b) for a, b in SACHS_CONSENSUS_EDGES]))
    cites.append([SACHS_CITATION + ": the whole 17-edge network"])
    counts.append(1)
    # equal constraint sets merge (e.g. a BEL claim that is also a consensus edge)
    merged: dict[str, int] = {}
    H, C, W = [], [], []
    for h, c, n in zip(hyps, cites, counts):
        key = h.shallow_hash()
        if key in merged:
            k = merged[key]
            C[k] = sorted(set(C[k]) | set(c))
            W[k] += n
            continue
        merged[key] = len(H)
        H.append(h)
        C.append(c)
        W.append(n)
    w = torch.tensor(W, dtype=torch.float64)
    return H, C, w / w.sum()


def run_sachs(seconds: float, hidden: int, seed: int = 0) -> dict[str, object]:
    from theorycov.coverage.audit import audit
    from theorycov.coverage.prior import HypothesisPriorMass
    from theorycov.gfn import load_sachs
    from theorycov.gfn.sampling import log_pt_backward
    data = load_sachs(observational_only=True)
    names = list(data.names)
    hyps, cites, w = sachs_hypotheses()
    cs = ConstraintSet(hyps, names)
    prior = FloorPrior(cs, w, lam=LAM, mass=HypothesisPriorMass.compute(cs, 1.0, n_samples=4000, seed=seed))
    reward = Reward(BGeScore(data), prior)
    tr, log, c = train_gfn(reward, cs, coverage=True, iterations=1_000_000, seed=seed, p_ref=None, refuted=None, max_seconds=seconds,
                           audit_every=200, cfg_cov=CoverageConfig(), hidden=hidden, n_audit=512, num_envs=24, constant_lr=True)
    gen = torch.Generator().manual_seed(seed)
    samples = sample(tr.policy, 4000, generator=gen)
    uniq, inv = torch.unique(samples.flatten(1), dim=0, return_inverse=True)
    lpt = log_pt_backward(tr.policy, uniq.reshape(-1, len(names), len(names)), n_traj=32, generator=gen)[inv]
    rep = audit(reward, cs, prior, samples, log_pt=lpt, citations=cites, first_hit=log.history.first_hit,
                completions=list(tr.extra_transitions.best),  # type: ignore[union-attr]
                coverage_curve=log.history.curve, domain="Sachs et al. 2005, 853 observational cells (cd3cd28)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "coverage_sachs_audit.json").write_text(rep.to_json())
    (RESULTS / "coverage_sachs_audit.html").write_text(rep.to_html())
    verdicts = [r.verdict for r in rep.rows]
    return {"hypotheses": len(hyps), "iterations": tr.iteration, "seconds": round(tr.train_seconds, 1),
            "evaluations": c["sampler"] + c["objective"], "covered_share": rep.covered_share, "min_q_over_p": rep.min_q_over_p,
            "ess": rep.ess, "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
            "rows": [(r.rendering, round(r.p, 4), round(r.q, 4), r.verdict) for r in rep.rows],
            "novel_modes": [m.text for m in rep.novel_modes[:5]]}


# ---------------------------------------------------------------- driver
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
    ap.add_argument("--iterations", type=int, default=2500, help="coverage GFlowNet iterations per d=5 seed")
    ap.add_argument("--d20-seconds", type=float, default=60.0, help="training seconds of each d=20 GFlowNet (reference MC3: the same)")
    ap.add_argument("--sachs-seconds", type=float, default=120.0)
    ap.add_argument("--skip-d20", action="store_true")
    ap.add_argument("--skip-sachs", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # on a shared 2-core machine torch's intra-op threads make small ops ~100x slower
    if args.quick:
        args.seeds, args.iterations, args.d20_seconds, args.sachs_seconds = 1, 300, 10.0, 15.0
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    cfg_cov = CoverageConfig(per_iteration=8)
    rows = []
    for seed in range(args.seeds):
        r = run_d5_seed(seed, args.iterations, None if args.minutes is None else 60 * args.minutes, cfg_cov)
        rows.append(r)
        print(f"d=5 seed {seed} ({r['seconds']} s, {r['n_refuted']} refuted): " + "; ".join(
            f"{m}: covered {r[m]['covered_share']:.2f} min q/p {r[m]['min_q_over_p']:.3f} JSD {r[m]['jsd']:.4f} evals {r[m]['evaluations']}"
            for m in ("coverage", "plain", "mcmc")), flush=True)
    summary: dict[str, object] = {}
    print("\n| method | covered (worst seed) | min q/p (all seeds) | JSD mean (max) | evals/seed | median evals to first hit |\n|---|---|---|---|---|---|")
    for m in ("coverage", "plain", "mcmc"):
        jsd = [float(r[m]["jsd"]) for r in rows]
        fh = [r[m]["first_hit_evals_median"] for r in rows if r[m]["first_hit_evals_median"] is not None]
        summary[m] = {"covered_share": _worst(rows, m, "covered_share"), "min_q_over_p": _worst(rows, m, "min_q_over_p"),
                      "jsd_mean": sum(jsd) / len(jsd), "jsd_max": max(jsd), "evaluations_mean": sum(int(r[m]["evaluations"]) for r in rows) / len(rows),
                      "first_hit_evals_median": sorted(fh)[len(fh) // 2] if fh else None}
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
