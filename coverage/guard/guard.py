"""The guard: parse a query, ask every graph of the posterior set, compute the bounds, decide, explain.

A :class:`Guard` holds a cached set of graphs (exact enumeration or GFlowNet samples) with their log
rewards and posterior log weights, the harm model fitted to the domain's data, and the human hypotheses.
``check("inhibit PKC", "Erk < q10")`` returns a :class:`Decision` whose explanation walks the deciding
theory's graph (DESIGN.md "Decision").
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.actions import Action, HarmEvent, Quantiles, alias_resolver, parse_action, parse_harm
from theorycov.coverage.guard.bounds import Bound, RiskEstimates, estimate_risks, theory_table
from theorycov.coverage.guard.credible import theory_quantile_risks
from theorycov.coverage.guard.explain import Decision, DecisionStatus, EvidenceRef, explain_paths
from theorycov.coverage.guard.harm import HarmModel, HarmModelConfig
from theorycov.coverage.guard.plausible import RULES
from theorycov.coverage.signs import SignSpec

if TYPE_CHECKING:
    from theorycov.coverage.run import FittedRun

logger = logging.getLogger(__name__)

__all__ = ["Guard", "GuardConfig"]


#: GuardConfig.theory_level's named readings: the share of delta the credible level (and the refutation) spends
LEVELS: dict[str, float] = {"1-delta": 1.0, "1-delta/2": 0.5}


@dataclass(frozen=True)
class GuardConfig:
    """How the guard decides."""

    bound: str = "human"  # the estimate that decides (a Bound name): human | cautious | prop34 | posterior | map
    threshold: float = 0.5  # block when the deciding estimate exceeds this probability
    alpha: float = 0.1  # Prop. 4.6: graphs within a factor alpha of the MAP are plausible
    # Prop. 4.6's M_alpha rule (coverage.guard.plausible): "ratio" (R >= alpha * max R) by default, the more cautious
    # of the two under the same Ville guarantee; "cumulative" (the paper code's) is a subset of it. bench/bandit.py
    # measured both at C = 0.01 (bench/results/guard.json); the guard keeps the cautious one unless asked.
    plausible_rule: str = "ratio"
    delta: float = 0.1  # human bound: theories with p(h|D) >= delta * P(h) are plausible
    inhibit_q: float = 0.05  # "inhibit X" sets X to this observational quantile
    activate_q: float = 0.95  # "activate X" sets X to this observational quantile
    min_ess: float = 30.0  # below this effective sample size no theory is declared refuted
    # A theory's risk. "1-delta/2" (default): delta spent in two halves, theories refuted at delta / 2 (Ville) and
    # read at the (1 - delta / 2)-quantile of P(H | do(a), G, theta) over the (G, theta) consistent with them
    # (coverage.guard.credible: the worst parameters its credible region keeps), so that by the union bound a true
    # theory is both kept and read at or above the truth with probability >= 1 - delta when its parameter
    # posterior is calibrated; "1-delta": each event at 1 - delta, so only 1 - 2 delta for both; a number q in
    # (0, 1]: that quantile; None: its posterior predictive (the mean). Why not the mean: a theory fixes signs, not
    # magnitudes, and the mean of a true theory falls below the true risk about half the time. Picked on tuning
    # seeds 10 and 11 (bench/guard_networks.py, ecoli70 n = 1,000, Occam's window on): guarantee rate 0.784 at
    # the mean, 0.963 at 1 - delta, 0.977 at 1 - delta/2; false blocks 0.029 / 0.043 / 0.058; false allows 0.
    theory_level: float | str | None = "1-delta/2"
    harm: HarmModelConfig = HarmModelConfig()

    def __post_init__(self) -> None:
        lv = self.theory_level
        if not (lv is None or lv in LEVELS or (isinstance(lv, (int, float)) and not isinstance(lv, bool) and 0.0 < lv <= 1.0)):
            raise ValueError(f"GuardConfig.theory_level must be '1-delta', '1-delta/2', a number in (0, 1] or None, got {lv!r}")
        if self.plausible_rule not in RULES:
            raise ValueError(f"GuardConfig.plausible_rule must be one of {', '.join(RULES)}, got {self.plausible_rule!r}")

    @property
    def level(self) -> float | None:
        """The quantile level of a theory's risk (None: the mean)."""
        if self.theory_level is None:
            return None
        if self.theory_level in LEVELS:
            return 1.0 - self.delta * LEVELS[self.theory_level]
        return float(self.theory_level)

    @property
    def refute_delta(self) -> float:
        """The delta of the refutation test (Ville's inequality): a theory is plausible while p(h|D) >= it * P(h)."""
        return self.delta * LEVELS[self.theory_level] if self.theory_level in LEVELS else self.delta


class Guard:
    """Harm queries over a fixed set of graphs.

    Args:
        variables: the domain's d variable names, in adjacency order.
        data: (n, d) modelling-scale data; intervened: (n, d) bool perfect-intervention mask.
        graphs: (N, d, d) bool; duplicates are merged (their weights and counts add).
        log_reward: (N,) log R(G); log_weight: (N,) posterior log weight of each row (log R for an exact
            enumeration, log count + log R - log P_T for GFlowNet samples, -inf for candidates that are not
            draws); counts: (N,) the draws each row stands for (None: one each), so that the posterior
            interval and the ESS count draws, not distinct graphs.
        constraints: the human hypotheses compiled over ``variables``; p_min: (H,) the prior mass P(h) that
            the refutation rule compares with (the audit's, or the floor lam * w_h as a lower bound).
        theory_ids: (H,) database ids of the hypotheses (None entries for unstored ones).
        evidence: (cause, effect) -> sentences that support the edge; citations: hypothesis index -> labels.
        exact: the graph set is every DAG (d <= 5).
    """

    def __init__(
        self,
        variables: Sequence[str],
        data: torch.Tensor,
        intervened: torch.Tensor | None,
        graphs: torch.Tensor,
        log_reward: torch.Tensor,
        log_weight: torch.Tensor,
        *,
        counts: torch.Tensor | None = None,
        constraints: ConstraintSet | None = None,
        p_min: torch.Tensor | None = None,
        theory_ids: Sequence[int | None] | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
        evidence: Callable[[str, str], Sequence[EvidenceRef]] | None = None,
        citations: Callable[[int], Sequence[str]] | None = None,
        exact: bool = False,
        config: GuardConfig = GuardConfig(),
    ) -> None:
        self.variables = list(variables)
        self.config = config
        self.exact = exact
        Bound.parse(config.bound)  # fail at construction, not at the first query
        uniq, inverse = torch.unique(graphs.to(torch.bool).flatten(1), dim=0, return_inverse=True)
        n_u = uniq.shape[0]
        d = len(self.variables)
        self.graphs = uniq.reshape(n_u, d, d)
        # Duplicates of one graph merge: their weights add (log-sum-exp per group) and so do their draws.
        lw_in = log_weight.to(torch.float64)
        top = torch.full((n_u,), -math.inf, dtype=torch.float64).scatter_reduce(0, inverse, lw_in, reduce="amax")
        safe = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        summed = torch.zeros(n_u, dtype=torch.float64).scatter_add_(0, inverse, (lw_in - safe[inverse]).exp())
        self.log_weight = safe + summed.log()
        c_in = torch.ones(graphs.shape[0], dtype=torch.float64) if counts is None else counts.to(torch.float64)
        self.counts = torch.zeros(n_u, dtype=torch.float64).scatter_add_(0, inverse, c_in)  # (N,) draws per graph
        self.log_reward = torch.zeros(n_u, dtype=torch.float64).scatter_(0, inverse, log_reward.to(torch.float64))
        self.model = HarmModel(data, intervened, config.harm)
        # a hypothesis is an event on (graph, parameters): record, per draw, which signed constraints hold
        self.signs = SignSpec.of(constraints.hypotheses, self.variables) if constraints is not None and len(constraints) else None
        self.prepared = self.model.prepare(self.graphs, self.signs)
        observational = ~(intervened.any(1)) if intervened is not None else torch.ones(data.shape[0], dtype=torch.bool)
        self.quantiles = Quantiles(tuple(self.variables), data[observational].to(torch.float64))
        self.constraints = constraints
        self.theory_ids = list(theory_ids) if theory_ids is not None else [None] * (0 if constraints is None else len(constraints))
        self.satisfies = constraints.satisfies(self.graphs) if constraints is not None and len(constraints) else None
        self.p_min = p_min
        self.table = None
        self.consistent: torch.Tensor | None = None  # (N, S, H) draw s of graph n agrees with h's signs
        sign_prob = None  # (N, H) P(signs of h | G, D), kept for tables at another delta (coverage.guard.truth)
        if self.satisfies is not None:
            if p_min is None:
                raise ValueError("hypotheses need their prior masses p_min (H,)")
            assert self.signs is not None and self.prepared.sign_holds is not None
            if bool(self.signs.signed.any()):
                self.consistent = self.signs.consistent(self.prepared.sign_holds)
                sign_prob = self.consistent.to(torch.float64).mean(1)  # (N, H) P(signs of h | G, D)
            self.table = theory_table(self.log_reward, self.log_weight, self.satisfies, p_min, delta=config.refute_delta, exact=exact,
                                      min_ess=config.min_ess, counts=self.counts, sign_prob=sign_prob)
        self.sign_prob = sign_prob
        self.resolve = alias_resolver(self.variables, aliases)
        self._evidence = evidence or (lambda a, b: ())
        self._citations = citations or (lambda h: ())
        logger.info("guard ready: %d distinct graphs (%d given), %d hypotheses", n_u, graphs.shape[0], 0 if constraints is None else len(constraints))

    @classmethod
    def from_run(cls, run: "FittedRun", *, evidence: Callable[[str, str], Sequence[EvidenceRef]] | None = None,
                 config: GuardConfig = GuardConfig()) -> "Guard":
        """The guard of a fitted run: its sample, data, theories (ids, citations) and prior masses, with the
        harm model at the run's likelihood power (see HarmModelConfig.power)."""
        cfg = dataclasses.replace(config, harm=dataclasses.replace(config.harm, power=run.likelihood_power))
        ts = run.theories if run.theories is not None and len(run.theories) else None
        post = run.sample
        return cls(
            run.data.names, torch.as_tensor(run.data.values), torch.as_tensor(run.data.intervened), post.graphs, post.log_reward,
            post.log_weight, counts=post.weight_counts, constraints=None if ts is None else ts.constraints,
            p_min=None if ts is None else run.prior_mass, theory_ids=None if ts is None else ts.ids, aliases=run.aliases,
            evidence=evidence, citations=None if ts is None else (lambda h: ts.citations[h]), exact=post.exact, config=cfg,
        )

    def parse(self, action: str | Action, harm: str | HarmEvent) -> tuple[Action, HarmEvent]:
        a = action if isinstance(action, Action) else parse_action(action, self.resolve, inhibit_q=self.config.inhibit_q, activate_q=self.config.activate_q)
        h = harm if isinstance(harm, HarmEvent) else parse_harm(harm, self.resolve)
        return a, h

    def harm_draws(self, action: Action, harm: HarmEvent) -> torch.Tensor:
        """(N, S) P(H | do(a), G, theta_s, D) for every cached graph and parameter draw."""
        t, y = self.variables.index(action.variable), self.variables.index(harm.variable)
        low, high = harm.interval(self.quantiles)
        return self.prepared.prob_draws(t, y, low, high, value=action.resolved_value(self.quantiles), shift=action.shift, outside=harm.outside)

    def harm_probabilities(self, action: Action, harm: HarmEvent) -> torch.Tensor:
        """(N,) P(H | do(a), G, D) for every cached graph."""
        return self.harm_draws(action, harm).mean(-1)

    def estimate(self, action: Action, harm: HarmEvent) -> tuple[torch.Tensor, RiskEstimates]:
        draws = self.harm_draws(action, harm)
        p = draws.mean(-1)
        p_theory, theory_risks = None, None
        if self.config.level is not None and self.table is not None:  # each theory at its upper credible risk
            theory_risks = theory_quantile_risks(draws, self.table.weights, self.consistent, self.config.level)
        elif self.consistent is not None:  # each theory's mean risk over the draws consistent with its signs
            c = self.consistent.to(torch.float64)  # (N, S, H)
            p_theory = (draws[:, :, None] * c).sum(1) / c.sum(1).clamp_min(1.0)
        est = estimate_risks(
            p, self.log_reward, self.log_weight, self.satisfies, self.p_min, alpha=self.config.alpha, delta=self.config.refute_delta,
            exact=self.exact, table=self.table, counts=self.counts, p_theory=p_theory, rule=self.config.plausible_rule,
            theory_risks=theory_risks,
        )
        return p, est

    def consistent_weights(self, graph: int, theory: int | None) -> torch.Tensor:
        """(d, d) the mean direct weights of one graph over the parameter draws consistent with a theory's
        signs (all draws for None or an unsigned theory): what an explanation shows along the theory's paths."""
        if theory is None or self.consistent is None or not bool(self.signs.signed[theory]):  # type: ignore[union-attr]
            return self.prepared.weight_mean[graph]
        keep = self.consistent[graph, :, theory]  # (S,)
        if not bool(keep.any()):
            return self.prepared.weight_mean[graph]
        return self.model.weight_draws(self.graphs[graph][None])[0][keep].mean(0)

    def check(self, action: str | Action, harm: str | HarmEvent, *, bound: Bound | str | None = None, threshold: float | None = None) -> Decision:
        """Decide allow or block for one query and explain the decision."""
        a, h = self.parse(action, harm)
        b = Bound.parse(bound or self.config.bound)
        threshold = self.config.threshold if threshold is None else threshold
        _, est = self.estimate(a, h)
        risk = est.get(b)
        theory_text, theory_cites, theory_id = None, (), None
        if b is Bound.HUMAN and est.human_theory is not None and self.constraints is not None:
            g = est.theories[est.human_theory].best_graph
            theory_text = self.constraints.hypotheses[est.human_theory].render()
            theory_cites = tuple(self._citations(est.human_theory))
            theory_id = self.theory_ids[est.human_theory]
        else:
            g = est.graph(b)
        adj = self.graphs[g]
        weights = self.consistent_weights(g, est.human_theory if b is Bound.HUMAN else None)
        status, paths = explain_paths(adj, weights, self.variables, a.variable, h.variable, self._evidence)
        edges = tuple((self.variables[i], self.variables[j]) for i, j in adj.nonzero().tolist())
        estimates = {
            "posterior": est.posterior, "posterior_ci": list(est.posterior_ci), "ess": est.ess,
            "prop34": est.prop34, "prop46": est.prop46, "prop46_size": est.prop46_size,
            "human": est.human, "map": est.map_risk, "n_graphs": len(self.graphs),
            "human_theories_plausible": sum(t.plausible for t in est.theories),
        }
        return Decision(
            status=DecisionStatus.BLOCK if risk > threshold else DecisionStatus.ALLOW,
            action=f"{a.phrase or a.describe()} ({a.describe()})",
            harm=h.describe(),
            bound=b.value,
            threshold=threshold,
            risk=risk,
            estimates=estimates,
            deciding_theory=theory_text,
            deciding_citations=theory_cites,
            deciding_graph=edges,
            path_status=status,
            paths=paths,
            deciding_theory_id=theory_id,
        )
