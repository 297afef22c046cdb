"""Risk estimates for an action: posterior risk, Prop. 3.4, Prop. 4.6 and the human bound.

Following Bengio et al. 2024, "Can a Bayesian Oracle Prevent Harm from an Agent?" (arXiv 2408.05284) and
DESIGN.md "Definitions". Inputs are a set of N distinct graphs with their per-graph harm probabilities
p_i = P(H | do(a), G_i, D), their unnormalized log posterior log R(G_i), and log weights that turn them
into a posterior estimate:

- exact (d <= 5): all DAGs, log_weight = log R (self-normalized = the exact posterior);
- sampled: GFlowNet samples, log_weight = log R(G) - log P_T(G) (self-normalized importance sampling,
  with the effective sample size and a delta-method interval reported).

Estimates:
- posterior risk  E_{G ~ P(G|D)} p(G)                         (with a 95% interval and the ESS);
- Prop. 3.4       p(G^), G^ = argmax_G P(G|D) p(G)            (the i.i.d. bound's maximizer);
- Prop. 4.6       max p(G) over M_alpha = {G : P(G|D) >= alpha max_G' P(G'|D)};
- human bound     max over hypotheses h with p(h|D) >= delta P(h) of P(H | do(a), h, D), where h is an event
                  on (graph, parameters) (coverage.signs) and P(H | do(a), h, D) averages over the (G, theta)
                  consistent with it; by Ville's inequality a true human theory keeps p(h|D_t) >= delta P(h)
                  for all t with probability >= 1 - delta. The guard reads each theory at its upper credible
                  risk by default, the (1 - delta/2)-quantile over those (G, theta) with refutation at delta/2
                  (``theory_risks``, coverage.guard.credible, GuardConfig.theory_level): the theory fixes signs,
                  not magnitudes, and the union bound keeps the two events at 1 - delta together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from theorycov.coverage.guard.estimators import Bound
from theorycov.coverage.guard.plausible import RULES, plausible_cumulative
from theorycov.coverage.masses import exact_masses, refuted, snis, weighted_masses

__all__ = ["Bound", "RiskEstimates", "TheoryRisk", "TheoryTable", "estimate_risks", "theory_table", "weighted_mean"]

#: scores closer than this (in nats, or in probability for harm values) are ties: ties break by the stated
#: rule of :func:`_cautious_argmax`, never by floating-point rounding
TIE = 1e-9


@dataclass(frozen=True)
class TheoryTable:
    """What the human bound needs that does not depend on the query (computed once per graph set).

    weights: (N, H) within-theory weights, R(G) P(signs of h | G, D) normalized over the graphs that satisfy
        h's structure (the found support of h: sampled graphs and h's completions, weighted by the
        posterior and by how much of each graph's parameter posterior agrees with h's signs), zero elsewhere;
    mass, mass_high: (H,) p(h|D) of the whole event (structure and signs) and its upper 95% bound
        (coverage.masses, the audit's own estimate); mass_structure: (H,) the structural part alone;
    plausible: (H,) bool; best: (H,) graph index of h's highest-reward member (-1 when h has none);
    p_min: (H,) the prior mass P(h) the refutation rule compares with (or a lower bound of it).
    """

    weights: torch.Tensor
    mass: torch.Tensor
    mass_high: torch.Tensor
    plausible: torch.Tensor
    best: torch.Tensor
    p_min: torch.Tensor
    members: torch.Tensor  # (H,) number of member graphs (structure satisfied, sign probability > 0)
    mass_structure: torch.Tensor | None = None


def theory_table(
    log_reward: torch.Tensor,
    log_weight: torch.Tensor,
    satisfies: torch.Tensor,
    p_min: torch.Tensor,
    *,
    delta: float = 0.1,
    exact: bool = False,
    min_ess: float = 30.0,
    counts: torch.Tensor | None = None,
    sign_prob: torch.Tensor | None = None,
) -> TheoryTable:
    """Masses, plausibility and within-theory weights of H hypotheses over N graphs.

    A theory is implausible only when the data refute it with confidence (:func:`coverage.masses.refuted`:
    the upper bound of its mass below delta * p_min, on an estimate that is exact or has an effective sample
    size of at least ``min_ess``): a sampler that has not found a theory's graphs is no evidence against it.
    ``counts`` (N,): draws per distinct graph, so that the interval counts each draw (see masses.snis).
    ``sign_prob`` (N, H): P(signs of h | G, D) (coverage.signs; None: every theory unsigned). ``p_min`` is then
    the prior mass of the whole event, signs included.
    """
    n, h = satisfies.shape
    if log_reward.shape != (n,) or log_weight.shape != (n,) or p_min.shape != (h,):
        raise ValueError("log_reward and log_weight must be (N,), satisfies (N, H), p_min (H,)")
    sat = satisfies.to(torch.bool)
    event = sat.to(torch.float64) if sign_prob is None else sat.to(torch.float64) * sign_prob.to(torch.float64)  # (N, H)
    est = exact_masses(log_weight, event) if exact else weighted_masses(log_weight, event, counts)
    structure = est.p if sign_prob is None else (exact_masses(log_weight, sat) if exact else weighted_masses(log_weight, sat, counts)).p
    members = (event > 0).sum(0)
    gone = refuted(est.high, p_min, delta=delta, can_refute=est.exact or est.ess >= min_ess)
    plausible = (members > 0) & ~gone
    masked = torch.where(event > 0, log_reward.to(torch.float64)[:, None] + event.clamp_min(1e-300).log(),
                         torch.full((n, h), -math.inf, dtype=torch.float64))
    weights = torch.where(members[None] > 0, torch.softmax(masked, 0), torch.zeros_like(masked)).nan_to_num(0.0)
    best = torch.where(members > 0, masked.argmax(0), torch.full((h,), -1, dtype=torch.long))
    return TheoryTable(weights, est.p, est.high, plausible, best, p_min.to(torch.float64), members, structure)


@dataclass(frozen=True)
class TheoryRisk:
    """One hypothesis' view of the action: its posterior mass, floor, harm probability and best graph."""

    index: int  # column of the hypothesis in the satisfies matrix
    mass: float  # p(h | D) estimate
    p_min: float  # lam * w_h, the prior floor
    plausible: bool  # mass >= delta * p_min
    risk: float  # P(H | do(a), h, D)
    n_graphs: int  # graphs of the set that satisfy h
    best_graph: int  # index of the graph satisfying h with the largest posterior weight


@dataclass(frozen=True)
class RiskEstimates:
    """Every estimate for one (action, harm) query."""

    posterior: float
    posterior_ci: tuple[float, float]
    ess: float
    prop34: float
    prop34_graph: int
    prop46: float
    prop46_graph: int
    prop46_size: int  # |M_alpha| among the graphs at hand
    human: float  # 0.0 when no hypothesis is plausible
    human_theory: int | None  # index of the deciding hypothesis
    map_risk: float
    map_graph: int
    theories: tuple[TheoryRisk, ...] = field(default_factory=tuple)

    def get(self, bound: "Bound | str") -> float:
        """The estimate a decision uses (a :class:`Bound` or its name); ValueError for an unknown name."""
        return {Bound.POSTERIOR: self.posterior, Bound.PROP34: self.prop34, Bound.CAUTIOUS: self.prop46,
                Bound.HUMAN: self.human, Bound.MAP: self.map_risk}[Bound.parse(bound)]

    def graph(self, bound: "Bound | str") -> int:
        """The graph that stands behind a bound's value (the MAP graph for the posterior mean)."""
        b = Bound.parse(bound)
        return {Bound.CAUTIOUS: self.prop46_graph, Bound.PROP34: self.prop34_graph}.get(b, self.map_graph)


def weighted_mean(values: torch.Tensor, log_weight: torch.Tensor, counts: torch.Tensor | None = None) -> tuple[float, tuple[float, float], float]:
    """Self-normalized weighted mean with a delta-method 95% interval and the effective sample size.

    Args:
        values: (N,) per-graph values; log_weight: (N,) unnormalized (merged) log weights;
        counts: (N,) draws each graph stands for (None: one each), see :func:`theorycov.coverage.masses.snis`.
    Returns:
        (mean, (low, high), ess).
    """
    mean, var, ess = snis(values, log_weight, counts)
    m, half = float(mean), 1.96 * math.sqrt(max(float(var), 0.0))
    return m, (max(0.0, m - half), min(1.0, m + half)), ess


def _cautious_argmax(score: torch.Tensor, p: torch.Tensor) -> int:
    """argmax of ``score``; graphs within TIE of the maximum are tied, and a tie goes to the graph with the
    larger harm probability (then the lower index): the cautious choice, and one that no rounding moves."""
    top = score >= score.max() - TIE
    return int(torch.argmax(torch.where(top, p, torch.full_like(p, -1.0))))


def estimate_risks(
    p: torch.Tensor,
    log_reward: torch.Tensor,
    log_weight: torch.Tensor,
    satisfies: torch.Tensor | None = None,
    p_min: torch.Tensor | None = None,
    *,
    alpha: float = 0.1,
    delta: float = 0.1,
    exact: bool = False,
    table: TheoryTable | None = None,
    min_ess: float = 30.0,
    counts: torch.Tensor | None = None,
    p_theory: torch.Tensor | None = None,
    rule: str = "ratio",
    theory_risks: torch.Tensor | None = None,
) -> RiskEstimates:
    """All risk estimates from per-graph harm probabilities.

    Args:
        p: (N,) P(H | do(a), G_i, D).
        log_reward: (N,) log R(G_i) = log P(G_i) + log P(D | G_i) (unnormalized log posterior).
        log_weight: (N,) log posterior weight of each graph in the set (log R for an exact enumeration,
            log R - log P_T for GFlowNet samples, -inf for graphs that are not draws, such as completions).
        satisfies: (N, H) bool, G_i |= h; p_min: (H,) prior floors lam * w_h.
        alpha: Prop. 4.6 plausibility ratio; delta: human-bound confidence.
        exact: the set is every graph (d <= 5): the interval collapses to the point estimate.
        table: the query-independent part of the human bound, when cached (see :func:`theory_table`).
        counts: (N,) draws each distinct graph stands for (None: one each), for the interval and the ESS.
        p_theory: (N, H) P(H | do(a), G, theta consistent with h's signs, D), the per-graph risk averaged over
            the parameter draws in which h's signs hold (None: ``p`` for every theory, i.e. unsigned theories).
        rule: Prop. 4.6's plausible set M_alpha (:mod:`coverage.guard.plausible`): ``"ratio"`` (default: R(G) >=
            alpha * max R, the more cautious set) or ``"cumulative"`` (the paper code's rule: R(G) >= alpha times
            the mass ranked at or above G, a subset of the ratio set with the same guarantee).
        theory_risks: (H,) each theory's risk when it is not the mean over its members (e.g. the upper credible
            risk of coverage.guard.credible); None: the mean, from ``p_theory`` or ``p``.

    Ties (scores within TIE) break towards the larger harm probability, then the lower index: Prop. 3.4's
    G^, the MAP graph and the deciding theory. Prop. 4.6's plausible set includes graphs within TIE of
    its boundary.
    """
    n = p.shape[0]
    if log_reward.shape != (n,) or log_weight.shape != (n,):
        raise ValueError(f"p, log_reward and log_weight must all be (N,) with N = {n}")
    p = p.to(torch.float64)
    post, ci, ess = weighted_mean(p, log_weight, counts)
    if exact:
        ci = (post, post)
    lr = log_reward.to(torch.float64)
    map_i = _cautious_argmax(lr, p)
    score = lr + torch.log(p.clamp_min(1e-300))  # log P(G|D) + log p(G), up to a constant
    i34 = _cautious_argmax(score, p)
    if rule == "ratio":
        plausible_set = lr >= lr[map_i] + math.log(alpha) - TIE
    elif rule == "cumulative":
        plausible_set = plausible_cumulative(lr, alpha)
    else:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    p_masked = torch.where(plausible_set, p, torch.full_like(p, -1.0))
    i46 = int(torch.argmax(p_masked))
    theories: list[TheoryRisk] = []
    human, human_i = 0.0, None
    if table is None and satisfies is not None and satisfies.shape[1] > 0:
        if satisfies.shape[0] != n or p_min is None or p_min.shape != (satisfies.shape[1],):
            raise ValueError("satisfies must be (N, H) and p_min (H,)")
        table = theory_table(lr, log_weight, satisfies, p_min, delta=delta, exact=exact, min_ess=min_ess, counts=counts)
    if table is not None:
        # (H,) P(H | do(a), h, D): over the (graph, parameter) pairs consistent with h
        risks = table.weights.T @ p if p_theory is None else (table.weights * p_theory.to(torch.float64)).sum(0)
        if theory_risks is not None:  # e.g. each theory's upper credible risk (coverage.guard.credible)
            risks = theory_risks.to(torch.float64)
        for h in range(risks.shape[0]):
            k = int(table.members[h])
            risk_h = float(risks[h]) if k else float("nan")
            plausible = bool(table.plausible[h])
            theories.append(TheoryRisk(h, float(table.mass[h]), float(table.p_min[h]), plausible, risk_h, k, int(table.best[h])))
            if plausible and risk_h > human + TIE:  # a tie keeps the earlier theory (the lower index)
                human, human_i = risk_h, h
    return RiskEstimates(
        posterior=post,
        posterior_ci=ci,
        ess=ess,
        prop34=float(p[i34]),
        prop34_graph=i34,
        prop46=float(p[i46]),
        prop46_graph=i46,
        prop46_size=int(plausible_set.sum()),
        human=human,
        human_theory=human_i,
        map_risk=float(p[map_i]),
        map_graph=map_i,
        theories=tuple(theories),
    )
