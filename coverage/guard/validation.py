"""Checking the guard against real interventional outcomes (issue 6, "Validation on real outcomes").

Benchmark support: used by bench/guard_sachs.py and its tests only, not by the product path (the CLI,
the API, the dashboard).

For each held-out interventional condition (a target variable inhibited or activated), the guard predicts
for every other variable Y (a) the direction of its shift, E[Y | do(target = v)] - E[Y], and (b) the
probability that Y leaves its observational [q5, q95] band; the held-out cells of that condition say what
happened. Reported per estimator (MAP graph, posterior mean, Prop. 3.4, Prop. 4.6, human bound):

- sign agreement on pairs with a real shift (|standardized mean difference| > ``smd_min``);
- Brier score of P(Y outside the band) against the cells (cell-level: (p - f)^2 + f (1 - f));
- missed harms and false blocks at ``threshold``, where a pair is a real harm when more than half of
  its cells fall outside the band (the event is then more likely than not);
- for the human bound, the real harms that some plausible ingested theory predicts (its own risk above
  the threshold) but the bound let through (must be zero).

Data are on the modelling scale: the observational rows define the quantiles and the standardization.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from theorycov.coverage.guard.actions import Action, HarmEvent
from theorycov.coverage.guard.guard import Guard

__all__ = ["Condition", "PairResult", "ValidationReport", "validate_interventions"]

ESTIMATORS = ("map", "posterior", "prop34", "cautious", "human")


@dataclass(frozen=True)
class Condition:
    name: str  # e.g. "u0126"
    target: str  # the intervened variable
    kind: str  # "inhibited" | "activated"
    values: torch.Tensor  # (n_c, d) cells of this condition on the modelling scale


@dataclass(frozen=True)
class PairResult:
    condition: str
    target: str
    outcome: str
    smd: float  # standardized mean difference of the outcome in this condition vs observational
    frac_outside: float  # share of the condition's cells outside the observational [q5, q95]
    direction: dict[str, float]  # estimator -> predicted mean shift (sign is the prediction)
    prob: dict[str, float]  # estimator -> P(outside)
    theory_predicts_harm: bool  # some plausible human theory puts P(outside) above the threshold


@dataclass
class ValidationReport:
    pairs: list[PairResult]
    threshold: float
    smd_min: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def summarize(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        shifted = [p for p in self.pairs if abs(p.smd) > self.smd_min]
        for est in ESTIMATORS:
            agree = [((p.direction[est] > 0) == (p.smd > 0)) for p in shifted if p.direction.get(est) is not None]
            brier = [(p.prob[est] - p.frac_outside) ** 2 + p.frac_outside * (1 - p.frac_outside) for p in self.pairs]
            real = [p.frac_outside > 0.5 for p in self.pairs]
            block = [p.prob[est] > self.threshold for p in self.pairs]
            out[est] = {
                "sign_agreement": sum(agree) / len(agree) if agree else float("nan"),
                "n_shifted": float(len(agree)),
                "brier": sum(brier) / len(brier) if brier else float("nan"),
                "missed_harms": float(sum(r and not b for r, b in zip(real, block))),
                "false_blocks": float(sum(b and not r for r, b in zip(real, block))),
                "real_harms": float(sum(real)),
            }
        out["human"]["missed_theory_harms"] = float(
            sum(p.frac_outside > 0.5 and p.theory_predicts_harm and p.prob["human"] <= self.threshold for p in self.pairs)
        )
        out["human"]["theory_predicted_harms"] = float(sum(p.frac_outside > 0.5 and p.theory_predicts_harm for p in self.pairs))
        self.metrics = out
        return out


def validate_interventions(
    guard: Guard,
    conditions: Sequence[Condition],
    *,
    threshold: float = 0.5,
    smd_min: float = 0.2,
    band: tuple[float, float] = (0.05, 0.95),
    dose: str = "quantile",
) -> ValidationReport:
    """Predict every (condition, other variable) pair and compare with the held-out cells.

    dose: "quantile" sets the target to its observational q5 (inhibited) or q95 (activated), as the phrase
    parser does; "condition" sets it to the target's mean in the condition's own cells, i.e. the measured
    strength of the reagent (the target's column is an input then, never scored).
    """
    if dose not in ("quantile", "condition"):
        raise ValueError(f"dose must be 'quantile' or 'condition', got {dose!r}")
    obs = guard.quantiles.observational  # (n_obs, d)
    lo_q = torch.quantile(obs, band[0], dim=0)
    hi_q = torch.quantile(obs, band[1], dim=0)
    mu, sd = obs.mean(0), obs.std(0)
    w = torch.softmax(guard.log_weight, 0)
    pairs = []
    for cond in conditions:
        q = guard.config.inhibit_q if cond.kind == "inhibited" else guard.config.activate_q
        t = guard.variables.index(cond.target)
        if dose == "quantile":
            action = Action(cond.target, quantile=q, phrase=f"{cond.kind} {cond.target} ({cond.name})")
        else:
            action = Action(cond.target, value=float(cond.values[:, t].mean()), phrase=f"{cond.kind} {cond.target} ({cond.name})")
        value = action.resolved_value(guard.quantiles)
        for y, name in enumerate(guard.variables):
            if y == t:
                continue
            harm = HarmEvent(name, low_q=band[0], high_q=band[1], outside=True)
            _, est = guard.estimate(action, harm)
            mean_do, _ = guard.prepared.moments(t, y, value=value)  # (N, S)
            mean_obs, _ = guard.prepared.moments(t, y, shift=0.0)
            shift = (mean_do - mean_obs).mean(-1)  # (N,) predicted shift per graph
            human_graph = est.theories[est.human_theory].best_graph if est.human_theory is not None else None
            direction = {
                "map": float(shift[est.map_graph]),
                "posterior": float((w * shift).sum()),
                "prop34": float(shift[est.prop34_graph]),
                "cautious": float(shift[est.prop46_graph]),
                "human": float(shift[human_graph]) if human_graph is not None else float((w * shift).sum()),
            }
            prob = {"map": est.map_risk, "posterior": est.posterior, "prop34": est.prop34, "cautious": est.prop46, "human": est.human}
            cells = cond.values[:, y].to(torch.float64)
            outside = ((cells < lo_q[y]) | (cells > hi_q[y])).to(torch.float64).mean()
            smd = (cells.mean() - mu[y]) / sd[y]
            theory_harm = any(th.plausible and th.risk > threshold for th in est.theories)
            pairs.append(PairResult(cond.name, cond.target, name, float(smd), float(outside), direction, prob, theory_harm))
    report = ValidationReport(pairs, threshold, smd_min)
    report.summarize()
    return report
