"""The guard against a ground truth it never saw: planted theories and harm queries on a known SEM.

Issue 19, part 2; DESIGN.md "Measures", guard (1). Data are sampled from an expert linear-Gaussian network
(``theorycov.gfn.networks``); the guard is trained on them with planted human theories; every estimator's
P(H | do(a)) is compared with the exact one of the known SEM.

- Planted theories, per anchor variable X, two true ones with the signs of their coefficients, as direct
  edges: ``true_cone``, every arc on a causal path out of X (u -> v with u = X or u a descendant of X), so
  it contains every causal path from X to any variable; and ``true_cone_parents``, those arcs plus every
  arc into X and into its descendants (the parents that close the back-door paths). A theory that fixes
  only the causal paths leaves the rest of the graph to the data, and its risk then averages over graphs
  the data cannot tell apart (Markov equivalents that orient X's confounders differently), which need not
  reproduce the true effect; the second variant measures how much that costs. One *false* theory per
  anchor rotates over three kinds: ``reversed`` (the cone's arcs reversed), ``wrong_sign`` (the cone's arcs
  with every sign flipped: structurally true, false only in its signs) and ``absent_path`` (X ~> Z for a
  Z that X does not reach).
- Queries: do(X = its q5 or q95) for the anchors; harms "Y outside [q5, q95]" and "Y < q10" for a few
  descendants and non-descendants Y of X; the quantiles are the known SEM's observational ones, and the
  query is mapped to the modelling scale of the data the guard saw (:class:`Scale`).
- Scores per estimator (map, posterior, prop34, prop46 = alpha x max, prop46_cum = the paper code's
  cumulative set, human): false allows (true risk above the threshold, allowed), false blocks, Brier score
  (mean squared error against the exact probability). Theories are signed (coverage.signs): a wrong-sign
  theory is an event the data can refute. The human bound's guarantee holds on a query when
  it is at least the true risk less twice the Monte Carlo standard error of the deciding theory's risk
  (over the harm model's parameter draws); each true theory's own risk is checked the same way. The theory's
  risk is a posterior mean, not an upper bound: Ville's inequality keeps a true theory plausible, it does
  not make its estimate exceed the truth, so a rate with twice the parameter posterior's spread as the
  tolerance is reported beside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from theorycov.coverage.guard.actions import Action, HarmEvent
from theorycov.coverage.guard.bounds import theory_table
from theorycov.coverage.guard.credible import theory_quantile_risks
from theorycov.coverage.guard.plausible import cautious_risk
from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.gfn.networks import LinearGaussianNetwork

__all__ = ["ESTIMATORS", "FALSE_KINDS", "TRUE_KINDS", "PlantedTheory", "Query", "Scale", "plant_theories", "query_grid", "score_queries", "summarize"]

ESTIMATORS = ("map", "posterior", "prop34", "prop46", "prop46_cum", "human", "human_upper", "human_split")
TRUE_KINDS = ("true_cone", "true_cone_parents")
FALSE_KINDS = ("reversed", "wrong_sign", "absent_path")


@dataclass(frozen=True)
class PlantedTheory:
    hypothesis: Hypothesis
    kind: str  # one of TRUE_KINDS or FALSE_KINDS
    anchor: str  # the variable X it was built around


@dataclass(frozen=True)
class Query:
    """do(target = value) and the harm "outcome in (low, high)" (or outside it), on the network's scale."""

    target: str
    level: float  # the quantile the target is set to (0.05 or 0.95)
    value: float
    outcome: str
    harm: str  # 'outside_q5_q95' or 'below_q10'
    low: float
    high: float
    outside: bool
    descendant: bool  # the outcome is a descendant of the target in the true network

    def true_risk(self, net: LinearGaussianNetwork) -> float:
        """Exact P(H | do(target = value)) of the known SEM."""
        p_in = net.prob_between(self.target, self.value, self.outcome, self.low, self.high)
        return 1.0 - p_in if self.outside else p_in


@dataclass(frozen=True)
class Scale:
    """The affine map from the network's scale to the modelling scale: z = (x - mean) / std, per variable."""

    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    def __call__(self, var: str, x: float) -> float:
        j = self.names.index(var)
        return float((x - self.mean[j]) / self.std[j]) if np.isfinite(x) else x

    def query(self, q: Query) -> tuple[Action, HarmEvent]:
        """The guard's Action and HarmEvent for ``q``, with values on the modelling scale."""
        low, high = self(q.outcome, q.low), self(q.outcome, q.high)
        return (Action(q.target, value=self(q.target, q.value)),
                HarmEvent(q.outcome, low=None if low == -np.inf else low, high=None if high == np.inf else high, outside=q.outside))


def _arcs(net: LinearGaussianNetwork, x: int, *, parents: bool) -> list[tuple[int, int, int]]:
    """Arcs on causal paths out of x (and, with ``parents``, every arc into x's cone) with signs: [(u, v, sign)]."""
    cone = net.descendants(x).copy()
    cone[x] = True
    keep = (lambda u, v: cone[v]) if parents else (lambda u, v: cone[u])
    return [(int(u), int(v), int(np.sign(net.weights[u, v]))) for u, v in zip(*np.nonzero(net.adjacency)) if keep(u, v)]


def plant_theories(net: LinearGaussianNetwork, anchors: list[str], rng: np.random.Generator) -> list[PlantedTheory]:
    """Two true and one false theory per anchor (module docstring); the false kinds rotate over the anchors."""
    names = net.names
    out: list[PlantedTheory] = []
    for i, name in enumerate(anchors):
        x = net.index(name)
        arcs = _arcs(net, x, parents=False)
        if not arcs:
            raise ValueError(f"{name} has no descendants: no causal path to plant a theory on")
        for kind, a in (("true_cone", arcs), ("true_cone_parents", _arcs(net, x, parents=True))):
            out.append(PlantedTheory(Hypothesis(tuple(Constraint(names[u], names[v], sign=s) for u, v, s in a)), kind, name))
        kind = FALSE_KINDS[i % len(FALSE_KINDS)]
        if kind == "reversed":
            cons = tuple(Constraint(names[v], names[u], sign=s) for u, v, s in arcs)
        elif kind == "wrong_sign":
            cons = tuple(Constraint(names[u], names[v], sign=-s) for u, v, s in arcs)
        else:
            unreached = np.flatnonzero(~net.reachability()[x])
            z = int(rng.choice(unreached))
            cons = (Constraint(name, names[z], path=True, sign=1),)
        out.append(PlantedTheory(Hypothesis(cons), kind, name))
    return out


def query_grid(net: LinearGaussianNetwork, anchors: list[str], rng: np.random.Generator, *, n_desc: int = 3,
               n_other: int = 2) -> list[Query]:
    """do(X = q5 / q95) for each anchor, crossed with both harms on up to ``n_desc`` descendants and
    ``n_other`` non-descendants of X (drawn at random)."""
    q = net.quantiles(np.array([0.05, 0.10, 0.95]))  # (3, d)
    out: list[Query] = []
    for name in anchors:
        x = net.index(name)
        desc = np.flatnonzero(net.descendants(x))
        other = np.setdiff1d(np.flatnonzero(~net.descendants(x)), [x])
        ys = list(rng.choice(desc, size=min(n_desc, len(desc)), replace=False)) + list(rng.choice(other, size=min(n_other, len(other)), replace=False))
        for level, row in ((0.05, 0), (0.95, 2)):
            for y in ys:
                y = int(y)
                common = dict(target=name, level=level, value=float(q[row, x]), outcome=net.names[y], descendant=bool(net.descendants(x)[y]))
                out.append(Query(harm="outside_q5_q95", low=float(q[0, y]), high=float(q[2, y]), outside=True, **common))
                out.append(Query(harm="below_q10", low=-np.inf, high=float(q[1, y]), outside=False, **common))
    return out


def _theory_risk(guard, h: int, draws: torch.Tensor) -> tuple[float, float, float]:  # noqa: ANN001
    """Theory h's risk, its Monte Carlo standard error, and the spread (sd) of its risk over the parameter draws.

    ``draws`` (N, S): P(H | do(a), G, theta_s) (``Guard.harm_draws``). As in ``Guard.estimate``, the risk
    averages each graph's draws consistent with h's signs and weighs graphs by the theory table; the
    standard error treats the draws as independent (per graph: variance / consistent draws), the spread
    is the sd of the mixture (the parameter posterior's width, not an error of the estimate).
    """
    w = guard.table.weights[:, h]  # (N,)
    c = torch.ones_like(draws) if guard.consistent is None else guard.consistent[:, :, h].to(torch.float64)  # (N, S)
    n_c = c.sum(1).clamp_min(1.0)
    m = (draws * c).sum(1) / n_c  # (N,)
    v = ((draws - m[:, None]) ** 2 * c).sum(1) / n_c
    risk = float((w * m).sum())
    se = float(torch.sqrt((w**2 * v / n_c).sum()))
    sd = float(torch.sqrt(((w * (v + m**2)).sum() - risk**2).clamp_min(0.0)))
    return risk, se, sd


def _worst_plausible(draws: torch.Tensor, table, consistent: torch.Tensor | None, level: float) -> tuple[float, int]:  # noqa: ANN001
    """The human bound with each plausible theory of ``table`` read at its ``level`` upper credible risk, and the
    theory that gives it (-1: none). ``draws`` (N, S) as in :func:`_theory_risk`."""
    best, best_h = 0.0, -1
    if table is None:
        return best, best_h
    q_risk = theory_quantile_risks(draws, table.weights, consistent, level)  # (H,)
    for h in table.plausible.nonzero().flatten().tolist():
        if bool(torch.isfinite(q_risk[h])) and float(q_risk[h]) > best:
            best, best_h = float(q_risk[h]), h
    return best, best_h


def score_queries(guard, net: LinearGaussianNetwork, queries: list[Query], scale: Scale, *, alpha: float,  # noqa: ANN001
                  theories: list[PlantedTheory] | None = None) -> dict[str, np.ndarray]:
    """Every estimator, the true risk and the human bound's Monte Carlo error for each query.

    ``guard`` is a :class:`theorycov.coverage.guard.guard.Guard` over the modelling scale of ``scale``, its
    hypothesis columns in the order of ``theories`` (when given, each query also gets its anchor's true theories'
    own risks, 'own_<kind>' and 'own_<kind>_se'). Returns arrays of length len(queries): one per estimator,
    'truth', 'human_mc_se', 'human_theory' (-1: none).
    """
    own = {} if theories is None else {(t.anchor, t.kind): i for i, t in enumerate(theories) if t.kind in TRUE_KINDS}
    extra = [f"own_{k}{e}" for k in TRUE_KINDS for e in ("", "_se")] if own else []
    rec: dict[str, list[float]] = {k: [] for k in (*ESTIMATORS, "truth", "human_mc_se", "human_sd", "human_theory",
                                                   "human_upper_mc_se", "human_split_mc_se", *extra)}
    level = 1.0 - guard.config.delta if guard.config.level is None else guard.config.level
    # GuardConfig.theory_level "1-delta/2": theories refuted at delta / 2 and read at their (1 - delta / 2)-quantile
    half = None if guard.table is None else theory_table(
        guard.log_reward, guard.log_weight, guard.satisfies, guard.p_min, delta=guard.config.delta / 2, exact=guard.exact,
        min_ess=guard.config.min_ess, counts=guard.counts, sign_prob=guard.sign_prob)
    for q in queries:
        action, harm = scale.query(q)
        p, est = guard.estimate(action, harm)
        draws = guard.harm_draws(action, harm)  # (N, S), the same draws the estimate averaged
        cum = float(cautious_risk(p, guard.log_reward, alpha, rule="cumulative")[0])
        # the human bound with each theory read at its upper credible risk (coverage.guard.credible): at 1 - delta
        # (or the configured level) and, delta split, refuted at delta / 2 and read at 1 - delta / 2
        upper, upper_h = _worst_plausible(draws, guard.table, guard.consistent, level)
        split, split_h = _worst_plausible(draws, half, guard.consistent, 1.0 - guard.config.delta / 2)
        rec["human_upper_mc_se"].append(_theory_risk(guard, upper_h, draws)[1] if upper_h >= 0 else 0.0)
        rec["human_split_mc_se"].append(_theory_risk(guard, split_h, draws)[1] if split_h >= 0 else 0.0)
        for k, v in zip(ESTIMATORS, (est.map_risk, est.posterior, est.prop34, est.prop46, cum, est.human, upper, split)):
            rec[k].append(float(v))
        rec["truth"].append(q.true_risk(net))
        se, sd, h = 0.0, 0.0, -1
        if est.human_theory is not None:
            h = est.human_theory
            _, se, sd = _theory_risk(guard, h, draws)
        rec["human_mc_se"].append(se)
        rec["human_sd"].append(sd)
        rec["human_theory"].append(h)
        for kind in TRUE_KINDS if own else ():
            risk, se_k, _ = _theory_risk(guard, own[(q.target, kind)], draws)
            rec[f"own_{kind}"].append(risk)
            rec[f"own_{kind}_se"].append(se_k)
    return {k: np.asarray(v) for k, v in rec.items()}


def summarize(scores: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """False-allow and false-block rates, Brier score and bias per estimator; the human guarantee rate."""
    truth = scores["truth"]
    harmful = truth > threshold
    out: dict[str, float] = {"queries": float(len(truth)), "harmful_queries": float(harmful.sum())}
    for k in ESTIMATORS:
        block = scores[k] > threshold
        out[f"{k}_false_allow"] = float((~block & harmful).sum() / max(harmful.sum(), 1))
        out[f"{k}_false_block"] = float((block & ~harmful).sum() / max((~harmful).sum(), 1))
        out[f"{k}_brier"] = float(np.mean((scores[k] - truth) ** 2))
        out[f"{k}_bias"] = float(np.mean(scores[k] - truth))
    out["human_guarantee_rate"] = float(np.mean(scores["human"] >= truth - 2.0 * scores["human_mc_se"]))
    for k in ("human_upper", "human_split"):
        if k in scores:
            out[f"{k}_guarantee_rate"] = float(np.mean(scores[k] >= truth - 2.0 * scores[f"{k}_mc_se"]))
    # the same with the parameter posterior's spread as tolerance: how much of a miss is estimation error
    out["human_guarantee_rate_within_2sd"] = float(np.mean(scores["human"] >= truth - 2.0 * scores["human_sd"]))
    for kind in TRUE_KINDS:
        if f"own_{kind}" in scores:  # the theory's own prediction, plausible or not
            out[f"own_{kind}_covers_truth"] = float(np.mean(scores[f"own_{kind}"] >= truth - 2.0 * scores[f"own_{kind}_se"]))
            out[f"own_{kind}_brier"] = float(np.mean((scores[f"own_{kind}"] - truth) ** 2))
    return out
