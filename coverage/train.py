"""Training with the coverage objective and a running audit.

``CoverageTraining`` wires a :class:`CoverageObjective` into a ``gfn.Trainer`` (as its
``extra_transitions`` hook) and runs a light audit every ``audit_every`` iterations: it draws samples
from the current policy, records q(h), the iteration at which each hypothesis is first hit and the
share of covered hypotheses (the coverage curve of the report), feeds completions that the GFlowNet
draws from each hypothesis' own edges back into the objective's pools, and boosts the hypotheses found
under-covered. The audit's samples come from a generator of their own, so the training run's random
stream (and therefore checkpoint resume) is unaffected.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.masses import binomial_tolerance, importance_masses
from theorycov.coverage.objective import CoverageObjective
from theorycov.gfn.env import DAGEnv
from theorycov.gfn.exact import exact_terminal_distribution
from theorycov.gfn.graphs import graph_codes
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.sampling import log_pt_backward, sample
from theorycov.gfn.trainer import Trainer
from theorycov.gfn.visits import VisitRecord

logger = logging.getLogger(__name__)

__all__ = ["CoverageHistory", "CoverageTraining"]


@dataclass
class CoverageHistory:
    curve: list[tuple[int, float]] = field(default_factory=list)  # (iteration, covered share)
    first_hit: list[int | None] = field(default_factory=list)  # per hypothesis
    # (iteration, (H,) p(h|D) as the steering estimated it): what each audit compared q against (diagnostics)
    steering: list[tuple[int, list[float]]] = field(default_factory=list)


class CoverageTraining:
    """Run a trainer with (or, for comparison, without) the coverage objective.

    Args:
        trainer: a ``gfn.Trainer`` built with ``extra_transitions=objective`` (or None for the plain run).
        constraints: the hypotheses.
        objective: the coverage objective, or None (plain GFlowNet; the running audit still records).
        p_reference: (H,) exact p(h|D) when known (d <= 5); otherwise estimated by importance sampling.
            It steers the objective (which theories are under-covered), so it must be one the fit itself can
            compute: exact enumeration, never a benchmark's held-out reference.
        refuted: (H,) bool hypotheses already known to be refuted (never boosted).
        p_scored: (H,) a benchmark's external reference of p(h|D) (long MCMC chains): the curve's covered share
            is scored against it (with ``refuted``), while the objective is steered as the fit steers it, by
            the importance estimate from the audit's own draws over every theory. Until 2026-12-07
            bench/coverage_large.py passed its reference as ``p_reference``, so its coverage GFlowNet was steered
            by the figures it was scored against.
        exact_graphs: (K, d, d) every DAG (``gfn.enumerate_dags(d)``, d <= 5): the audit's q(h) is then the
            policy's exact terminal mass instead of a sample share (no sampling noise, no reward evaluations).
        target_eps: the running audit boosts h when q(h) + tol < (1 - target_eps) p(h|D). Stricter than the
            verdict's eps (default eps / 2), so training aims past the bar instead of hovering at it.
        visits: the cold-chain visits of an MC3 guide running on the same reward (``gfn.warmstart.MCMCGuide.visits``).
            Without an exact p the steering then estimates p(h|D) by the chains' visit frequencies, an MCMC
            estimate, instead of importance weights of the audit's draws: at d = 20 a few hundred draws of a
            sampler still far from the posterior carry an effective sample size near 1, so that estimate is 0 or 1 a
            theory and marked 24-29 of 30 theories under-covered per audit on average (bench/coverage_large.py, tuning
            seeds 5 / 6, bench/RESULTS.md 2026-12-07 evening): no steering at all; the chains' estimate was within
            0.02-0.045 of the reference on average. The chains' graphs satisfying a theory also join its pool (the
            region as the chains see it, in proportion to their visits). The reach check (``reach_ratio``) needs the
            draws' importance estimate of Z and is skipped then; visits the record drops once full
            (``VisitRecord.dropped``) are not counted.
        reach_ratio: the running audit also boosts h when the sampler under-weights its best completion:
            P_T(G*_h) < reach_ratio * p(G*_h|D) (exact at d <= 5; by backward trajectories and the draws'
            importance estimate of Z otherwise). Covered needs G*_h reached, which the audit
            (coverage/audit.py) grants when it is drawn or P_T(G*_h) >= 0.1 p(G*_h|D); the default 0.2 aims at
            twice that, as ``target_eps`` aims past ``eps``. At 0.5 (stop 10) the check kept firing on
            completions already reached and cost the d = 5 bench's seed 2 JSD 0.00185 -> 0.00215
            (bench/coverage_seed.py, bench/RESULTS.md); at 0.2 it did not fire there and every P_T/p stayed >= 0.8.
    """

    def __init__(
        self,
        trainer: Trainer,
        constraints: ConstraintSet,
        objective: CoverageObjective | None = None,
        *,
        p_reference: torch.Tensor | None = None,
        refuted: torch.Tensor | None = None,
        audit_every: int = 250,
        n_samples: int = 512,
        eps: float = 0.1,
        completions_per_audit: int = 8,
        seed: int = 0,
        exact_graphs: torch.Tensor | None = None,
        target_eps: float | None = None,
        reach_ratio: float = 0.2,
        on_log: Callable[[Trainer], None] | None = None,
        p_scored: torch.Tensor | None = None,
        visits: VisitRecord | None = None,
    ) -> None:
        if p_reference is not None and p_scored is not None:
            raise ValueError("give p_reference (exact, steers the objective) or p_scored (external, only scores), not both")
        self.trainer, self.cs, self.objective = trainer, constraints, objective
        self.p_reference, self.p_scored, self.eps = p_reference, p_scored, eps
        self.target_eps = eps / 2 if target_eps is None else target_eps
        self.exact_graphs, self.reach_ratio = exact_graphs, reach_ratio
        self._exact_sat = None if exact_graphs is None else constraints.satisfies(exact_graphs).to(torch.float64)
        self._exact_log_post = None if exact_graphs is None else torch.log_softmax(trainer.reward.log_reward(exact_graphs), 0)
        self._exact_index = {} if exact_graphs is None else {c: i for i, c in enumerate(graph_codes(exact_graphs).tolist())}
        self.refuted = torch.zeros(len(constraints), dtype=torch.bool) if refuted is None else refuted
        self.audit_every, self.n_samples, self.k = audit_every, n_samples, completions_per_audit
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.history = CoverageHistory(first_hit=[None] * len(constraints))
        self.on_log = on_log  # called at every trainer log step (progress display)
        self.visits = visits
        self._visit_sat = torch.zeros(0, len(constraints), dtype=torch.bool)  # (N, H) of the visits' first N distinct graphs

    def run(self, iterations: int | None = None, max_seconds: float | None = None) -> CoverageHistory:
        """Train for ``iterations`` (or ``max_seconds``), auditing along the way; returns the history."""
        if self.trainer.iteration == 0:
            self.running_audit()
        self.trainer.train(num_iterations=iterations, max_seconds=max_seconds, callback=self._callback)
        if not self.history.curve or self.history.curve[-1][0] != self.trainer.iteration:
            self.running_audit()
        return self.history

    def _callback(self, trainer: Trainer) -> None:
        # the trainer calls back every log_every iterations; audit once audit_every have passed since the
        # last audit (a test on iteration % audit_every would never fire when the two do not divide)
        last = self.history.curve[-1][0] if self.history.curve else 0
        if trainer.iteration - last >= self.audit_every:
            self.running_audit()
        if self.on_log is not None:
            self.on_log(trainer)

    @torch.no_grad()
    def running_audit(self) -> torch.Tensor:
        """Sample, update first hits, the curve, pools and priorities; returns (H,) bool under-covered."""
        policy, it = self.trainer.policy, self.trainer.iteration
        graphs = sample(policy, self.n_samples, generator=self.generator)
        sat = self.cs.satisfies(graphs)  # (S, H)
        q = sat.to(torch.float64).mean(0)
        for h in range(len(self.cs)):
            if self.history.first_hit[h] is None and bool(sat[:, h].any()):
                self.history.first_hit[h] = it
        tol = binomial_tolerance(q, self.n_samples)
        pt = None
        if self.exact_graphs is not None:  # d <= 5: the policy's exact mass of each hypothesis
            pt = exact_terminal_distribution(policy, self.exact_graphs)
            q = pt @ self._exact_sat
            tol = torch.zeros_like(q)
        lr = lpt = None
        chain = None if self.p_reference is not None else self._chain_masses()
        if self.p_reference is not None:
            p = self.p_reference
        elif chain is not None:
            p = chain
        elif self.objective is None and self.p_scored is not None:
            # nothing to steer and the curve is scored against the external p: no importance estimate (at ecoli70 its
            # backward trajectories were half of a plain GFlowNet's audit time, taken from its training budget)
            p = self.p_scored
        else:
            lr = self.trainer.reward.log_reward(graphs)
            # an ordered environment (gfn/canonical.py) has one trajectory a graph: one backward walk is exact
            lpt = log_pt_backward(policy, graphs, n_traj=1 if self.trainer.env.ordered else 8, generator=self.generator)
            p = importance_masses(lr, lpt, sat).p
        judged = ~self.refuted
        p_share = p if self.p_scored is None else self.p_scored
        share = 1.0 - float(((q + tol < (1 - self.eps) * p_share) & judged).sum()) / max(int(judged.sum()), 1)
        if self.p_scored is not None:  # the steering never sees the benchmark's reference, nor its refutations
            judged = torch.ones_like(judged)
        under = (q + tol < (1 - self.target_eps) * p) & judged
        if self.objective is not None and self.reach_ratio > 0:
            under |= self._best_under_weighted(pt, lr, lpt) & judged
        self.history.curve.append((it, share))
        if self.objective is not None or self.p_scored is None:  # what steered (or would steer) the objective
            self.history.steering.append((it, [round(float(x), 4) for x in p]))
        if self.objective is not None:
            lr_all = self.trainer.reward.log_reward(graphs) if lr is None and bool(sat.any()) else lr  # once for all theories
            for h in range(len(self.cs)):
                if bool(sat[:, h].any()):  # the region as the sampler sees it, in proportion to its mass
                    self.objective.add_completions(h, graphs[sat[:, h]], lr_all[sat[:, h]])  # type: ignore[index]
            self._sample_completions(policy)
            self.objective.set_under_covered(under)
        source = "exact" if self.p_reference is not None else "importance" if chain is None else f"{self.visits.visits} chain visits"  # type: ignore[union-attr]
        logger.info("iteration %d: covered share %.2f, under-covered %s (p(h|D) %s)", it, share, under.nonzero().flatten().tolist(), source)
        return under

    def _chain_masses(self) -> torch.Tensor | None:
        """(H,) p(h|D) by the guide's visit frequencies, or None before any visit; with an objective the graphs first
        visited since the last audit join the pools of the theories they satisfy (the satisfaction of every distinct
        graph is computed once: the record only appends)."""
        if self.visits is None or self.visits.visits == 0:
            return None
        graphs, counts, _ = self.visits.graphs()  # (N, d, d), (N,)
        n_old = self._visit_sat.shape[0]
        fresh = graphs[n_old:]
        if fresh.shape[0]:
            sat_new = self.cs.satisfies(fresh.to(self.trainer.reward.device)).cpu()
            self._visit_sat = torch.cat([self._visit_sat, sat_new])
            if self.objective is not None:
                # per theory the latest ones, at most a pool's worth; their union is scored once
                picks = [sat_new[:, h].nonzero().flatten()[-self.objective.config.pool_size:] for h in range(len(self.cs))]
                union = torch.unique(torch.cat(picks))
                if union.numel():
                    at = torch.full((fresh.shape[0],), -1, dtype=torch.int64)
                    at[union] = torch.arange(union.numel())
                    dev = self.trainer.reward.device
                    lr_u = self.trainer.reward.log_reward(fresh[union].to(dev))
                    for h, idx in enumerate(picks):
                        if idx.numel():
                            self.objective.add_completions(h, fresh[idx].to(dev), lr_u[at[idx].to(lr_u.device)])
        w = counts.to(torch.float64)
        return (w @ self._visit_sat.to(torch.float64)) / w.sum()

    def _sample_completions(self, policy: EdgePolicy) -> None:
        """k completions of every hypothesis drawn from the policy, all in one batched rollout.

        Why batched: one ``sample`` call per hypothesis ran H rollout loops of ~|E| steps over k rows each; at
        d = 20 with 30 theories those calls took half of a 2-minute training budget (cProfile, 2026-12-06)."""
        assert self.objective is not None
        env = policy.env
        edges = torch.stack([self.cs.edges(h) for h in range(len(self.cs))]).to(env.device)  # (H, d, d)
        keep = list(range(len(self.cs)))
        try:
            env.from_adjacency(edges)  # one check of all starts: acyclic, within the limits (edges, max parents)
        except ValueError:  # some hypothesis' edges violate the environment's limits: find and skip those
            keep = [h for h in keep if self._valid_start(env, edges[h])]
        if not keep or self.k <= 0:
            return
        start = edges[keep].repeat_interleave(self.k, dim=0)  # (len(keep) * k, d, d)
        drawn = sample(policy, start.shape[0], start=start, generator=self.generator)
        for i, h in enumerate(keep):
            self.objective.add_completions(h, drawn[i * self.k:(i + 1) * self.k])

    @staticmethod
    def _valid_start(env: DAGEnv, start: torch.Tensor) -> bool:
        try:
            env.from_adjacency(start[None])
        except ValueError:
            return False
        return True

    def _best_under_weighted(self, pt: torch.Tensor | None, lr: torch.Tensor | None, lpt: torch.Tensor | None) -> torch.Tensor:
        """(H,) bool: P_T(G*_h) < reach_ratio * p(G*_h|D) for the objective's current best completions.

        Exact with ``pt`` (K,) over ``exact_graphs``; else from the audit draws' log R ``lr`` and log P_T ``lpt``
        (S,) (Z by importance sampling) and backward trajectories for G*_h; all False when neither is at hand.
        """
        assert self.objective is not None
        best = torch.stack(self.objective.best)  # (H, d, d)
        if pt is not None and self._exact_log_post is not None:
            idx = torch.tensor([self._exact_index[c] for c in graph_codes(best).tolist()])
            return pt[idx].log() < math.log(self.reach_ratio) + self._exact_log_post[idx]
        if lr is None or lpt is None:
            return torch.zeros(len(self.cs), dtype=torch.bool)
        log_z = torch.logsumexp(lr - lpt, 0) - math.log(lr.shape[0])
        lpt_best = log_pt_backward(self.trainer.policy, best, n_traj=8, generator=self.generator)
        return lpt_best < math.log(self.reach_ratio) + self.trainer.reward.log_reward(best) - log_z
