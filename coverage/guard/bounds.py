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
- human bound     max over hypotheses h with p(h|D) >= delta p_min(h) of P(H | do(a), h, D), where
                  P(H | do(a), h, D) = E_{G ~ P(G | D, G |= h)} p(G); by Ville's inequality a true human
                  theory keeps p(h|D_t) >= delta P(h) for all t with probability >= 1 - delta.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

__all__ = ["RiskEstimates", "TheoryRisk", "TheoryTable", "estimate_risks", "theory_table", "weighted_mean"]


@dataclass(frozen=True)
class TheoryTable:
    """What the human bound needs that does not depend on the query (computed once per graph set).

    weights: (N, H) within-theory weights, softmax over the graphs that satisfy h of log R (the found
        support of h: sampled graphs and h's completions, weighted by the posterior), zero elsewhere;
    mass, mass_high: (H,) p(h|D) and its upper 95% bound; plausible: (H,) bool; best: (H,) graph index
        of h's highest-reward member (-1 when h has none); p_min: (H,).
    """

    weights: torch.Tensor
    mass: torch.Tensor
    mass_high: torch.Tensor
    plausible: torch.Tensor
    best: torch.Tensor
    p_min: torch.Tensor
    members: torch.Tensor  # (H,) number of member graphs


def theory_table(
    log_reward: torch.Tensor,
    log_weight: torch.Tensor,
    satisfies: torch.Tensor,
    p_min: torch.Tensor,
    *,
    delta: float = 0.1,
    exact: bool = False,
    min_ess: float = 30.0,
) -> TheoryTable:
    """Masses, plausibility and within-theory weights of H hypotheses over N graphs.

    A theory is implausible only when the data refute it with confidence: the upper bound of its mass is
    below delta * p_min and the estimate is trustworthy (exact, or an effective sample size of at least
    ``min_ess``). With too few effective samples nothing is declared refuted: a sampler that has not
    found a theory's graphs is no evidence against the theory.
    """
    n, h = satisfies.shape
    if log_reward.shape != (n,) or log_weight.shape != (n,) or p_min.shape != (h,):
        raise ValueError("log_reward and log_weight must be (N,), satisfies (N, H), p_min (H,)")
    sat = satisfies.to(torch.bool)
    w = torch.softmax(log_weight.to(torch.float64), 0)
    s = sat.to(torch.float64)
    mass = (w[:, None] * s).sum(0)
    ess = float("inf") if exact else float(1.0 / (w**2).sum())
    var = torch.maximum(((w[:, None] ** 2) * (s - mass[None]) ** 2).sum(0), mass * (1 - mass) / ess)  # as masses.py
    half = 0.0 if exact else 1.96 * var.sqrt()
    mass_high = (mass + half).clamp_max(1.0)
    can_refute = exact or ess >= min_ess
    members = sat.sum(0)
    plausible = (members > 0) & ((mass_high >= delta * p_min) | (not can_refute))
    masked = torch.where(sat, log_reward.to(torch.float64)[:, None], torch.full((n, h), -math.inf, dtype=torch.float64))
    weights = torch.where(members[None] > 0, torch.softmax(masked, 0), torch.zeros_like(masked)).nan_to_num(0.0)
    best = torch.where(members > 0, masked.argmax(0), torch.full((h,), -1, dtype=torch.long))
    return TheoryTable(weights, mass, mass_high, plausible, best, p_min.to(torch.float64), members)


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

    def get(self, bound: str) -> float:
        """The estimate a decision uses: 'posterior', 'prop34', 'cautious' (Prop. 4.6), 'human', 'map'."""
        table = {"posterior": self.posterior, "prop34": self.prop34, "cautious": self.prop46, "prop46": self.prop46, "human": self.human, "map": self.map_risk}
        if bound not in table:
            raise ValueError(f"unknown bound {bound!r}; choose one of {', '.join(table)}")
        return table[bound]


def weighted_mean(values: torch.Tensor, log_weight: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[float, tuple[float, float], float]:
    """Self-normalized weighted mean with a delta-method 95% interval and the effective sample size.

    Args:
        values: (N,) per-graph values; log_weight: (N,) unnormalized log weights.
    Returns:
        (mean, (low, high), ess). ``weights``: the normalized weights when the caller has them cached.
    """
    w = torch.softmax(log_weight.to(torch.float64), 0) if weights is None else weights
    v = values.to(torch.float64)
    mean = float((w * v).sum())
    ess = float(1.0 / (w**2).sum())
    half = 1.96 * math.sqrt(float((w**2 * (v - mean) ** 2).sum()))
    return mean, (max(0.0, mean - half), min(1.0, mean + half)), ess


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
    weights: torch.Tensor | None = None,
    table: TheoryTable | None = None,
    min_ess: float = 30.0,
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
        weights: (N,) softmax(log_weight) when cached by the caller (it is the same for every query).
        table: the query-independent part of the human bound, when cached (see :func:`theory_table`).
    """
    n = p.shape[0]
    if log_reward.shape != (n,) or log_weight.shape != (n,):
        raise ValueError(f"p, log_reward and log_weight must all be (N,) with N = {n}")
    p = p.to(torch.float64)
    w_all = torch.softmax(log_weight.to(torch.float64), 0) if weights is None else weights
    post, ci, ess = weighted_mean(p, log_weight, w_all)
    if exact:
        ci = (post, post)
    lr = log_reward.to(torch.float64)
    map_i = int(torch.argmax(lr))
    score = lr + torch.log(p.clamp_min(1e-300))  # log P(G|D) + log p(G), up to a constant
    i34 = int(torch.argmax(score))
    plausible_set = lr >= lr[map_i] + math.log(alpha)
    p_masked = torch.where(plausible_set, p, torch.full_like(p, -1.0))
    i46 = int(torch.argmax(p_masked))
    theories: list[TheoryRisk] = []
    human, human_i = 0.0, None
    if table is None and satisfies is not None and satisfies.shape[1] > 0:
        if satisfies.shape[0] != n or p_min is None or p_min.shape != (satisfies.shape[1],):
            raise ValueError("satisfies must be (N, H) and p_min (H,)")
        table = theory_table(lr, log_weight, satisfies, p_min, delta=delta, exact=exact, min_ess=min_ess)
    if table is not None:
        risks = table.weights.T @ p  # (H,) P(H | do(a), h, D)
        for h in range(risks.shape[0]):
            k = int(table.members[h])
            risk_h = float(risks[h]) if k else float("nan")
            plausible = bool(table.plausible[h])
            theories.append(TheoryRisk(h, float(table.mass[h]), float(table.p_min[h]), plausible, risk_h, k, int(table.best[h])))
            if plausible and risk_h > human:
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
