"""Coverage benchmark, part 1 (see bench/coverage.py): planted hypotheses at d = 5, the GFlowNet runs
with a running audit, and their exact evaluation."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.mcmc import StructureMCMC, empirical_distribution, visited
from theorycov.coverage.objective import CoverageConfig, CoverageObjective
from theorycov.coverage.prior import FloorPrior
from theorycov.coverage.train import CoverageTraining
from theorycov.gfn import (
    BGeScore,
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    enumerate_dags,
    exact_terminal_distribution,
    jensen_shannon,
    sample,
)
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
              max_evaluations: int | None = None, exact_graphs: torch.Tensor | None = None, batch_size: int = 256,
              lr: float = 1e-3, scored_only: bool = False) -> tuple[Trainer, _AuditLog, dict[str, int]]:
    """Train one GFlowNet (with or without the coverage objective); counts buffer transitions.

    Time-capped runs (d = 20, Sachs) use a constant learning rate and a 2,000-iteration exploration decay;
    ``max_evaluations`` stops the run (checked every 100 iterations) once that many transitions were stored.
    ``batch_size`` and ``lr`` are the gradient side: replayed transitions cost no reward evaluation, so a
    larger batch buys accuracy per evaluation with compute (both GFlowNets of a comparison get the same).
    ``scored_only``: ``p_ref`` is an external (MCMC) reference that scores the running audit but never steers the
    objective (CoverageTraining's ``p_scored``); without it, ``p_ref`` must be exact (enumeration, d <= 5).
    """
    decay = 2000 if constant_lr else max(iterations // 3, 1)
    cfg = TrainerConfig(seed=seed, num_iterations=iterations, num_envs=num_envs, batch_size=batch_size, lr=lr, prefill=256,
                        eps_decay_iters=decay, warmup_iters=50, progress=False, lr_schedule="constant" if constant_lr else "cosine",
                        policy=PolicyConfig(hidden=hidden, num_layers=2))
    objective = CoverageObjective(reward, cs, cfg_cov) if coverage else None
    trainer = Trainer(cfg, reward, extra_transitions=objective, start_states=None if objective is None else objective.start_states)
    counter = {"sampler": 0, "objective": 0}
    add = trainer.buffer.add

    def counted_add(tr, validate: bool = False) -> None:  # validate=True marks the hook's transitions
        counter["objective" if validate else "sampler"] += len(tr)
        add(tr, validate)

    trainer.buffer.add = counted_add  # type: ignore[method-assign]
    log = _AuditLog(trainer, cs, objective, p_reference=None if scored_only else p_ref, p_scored=p_ref if scored_only else None,
                    refuted=refuted, audit_every=audit_every,
                    n_samples=n_audit, seed=seed, counter=counter, exact_graphs=exact_graphs)
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


def _audit_every(iterations: int, log_every: int = 100, audits: int = 20) -> int:
    """About ``audits`` running audits per run (exact at d = 5: 0.2 s each), at a multiple of log_every."""
    return max(log_every, round(iterations / audits / log_every) * log_every)


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


def run_d5_seed(seed: int, iterations: int, max_seconds: float | None, cfg_cov: CoverageConfig, *, batch_size: int = 512,
                lr: float = 2e-3) -> dict[str, object]:
    """One seed: coverage GFlowNet, plain GFlowNet (same evaluations, same trainer settings), MC3 (same evaluations).

    Defaults batch 512, lr 2e-3 (stop 10): against 256 / 1e-3 they took the plain GFlowNet's seed-0 worst
    q/p from 0.873 to 0.926 and its JSD from 0.0039 to 0.0018 at the same evaluations (bench/coverage_seed.py runs,
    bench/RESULTS.md)."""
    inst = planted_d5(seed)
    out: dict[str, object] = {"seed": seed, "n_refuted": int(inst.refuted.sum()), "kinds": inst.kinds,
                              "p": inst.p.tolist(), "refuted": inst.refuted.tolist()}
    gen = torch.Generator().manual_seed(seed + 99)
    best_codes = graph_codes(inst.best)
    index = {c: i for i, c in enumerate(graph_codes(inst.dags).tolist())}
    best_idx = torch.tensor([index[c] for c in best_codes.tolist()])
    t0 = time.perf_counter()
    runs: dict[str, tuple[Trainer, _AuditLog, dict[str, int]]] = {}
    runs["coverage"] = train_gfn(inst.reward, inst.cs, coverage=True, iterations=iterations, seed=seed, p_ref=inst.p,
                                 refuted=inst.refuted, max_seconds=max_seconds, audit_every=_audit_every(iterations), cfg_cov=cfg_cov,
                                 exact_graphs=inst.dags, batch_size=batch_size, lr=lr)
    tr, _, cnt = runs["coverage"]
    e_cov = cnt["sampler"] + cnt["objective"]
    per_it = cnt["sampler"] / max(tr.iteration, 1)
    it_plain = max(1, round(e_cov / per_it))  # plain GFlowNet gets the same number of evaluations
    runs["plain"] = train_gfn(inst.reward, inst.cs, coverage=False, iterations=it_plain, seed=seed, p_ref=inst.p,
                              refuted=inst.refuted, max_seconds=None if max_seconds is None else max_seconds * it_plain / max(tr.iteration, 1),
                              audit_every=_audit_every(it_plain), cfg_cov=cfg_cov, exact_graphs=inst.dags, batch_size=batch_size, lr=lr)
    for name, (trainer, log, c) in runs.items():
        pt = exact_terminal_distribution(trainer.policy, inst.dags)
        q = pt @ inst.sat.to(torch.float64)
        draws = sample(trainer.policy, 10_000, generator=gen)
        drawn = torch.tensor([int(b) in _codes_set(draws) for b in best_codes.tolist()])
        # reached as the library's audit defines it at d > 5 (coverage/audit.py): drawn, or P_T(G*) >= 0.1 p(G*|D).
        # Drawn-in-10,000 alone is a lottery for low-mass theories: at seed 2 the exact posterior itself misses
        # at least one of the five low-mass best completions (p(G*) 2.5e-4 to 3.4e-4) with probability 0.30.
        pt_over_p = pt[best_idx] / inst.post[best_idx]
        reached = drawn | (pt_over_p >= 0.1)
        res = eval_d5(inst, q, pt, reached, _first_hit_evals(log))
        judged = ~inst.refuted
        res.update(best_drawn=drawn.tolist(), best_pt_over_p=[round(float(x), 3) for x in pt_over_p],
                   min_best_pt_over_p=round(float(pt_over_p[judged].min()), 3),
                   undrawn_best=[h for h in range(len(drawn)) if bool(judged[h]) and not bool(drawn[h])])
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
