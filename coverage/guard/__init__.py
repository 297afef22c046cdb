"""theorycov.coverage.guard: harm queries over a posterior set of graphs (DESIGN.md "Risk estimates").

``actions`` parses "inhibit PKC" / "Erk < q10"; ``harm`` is the conjugate linear-Gaussian harm model;
``bounds`` the posterior risk, Prop. 3.4, Prop. 4.6 and the human bound (with the :class:`Bound` names);
``guard`` puts them together; ``explain`` turns a decision into paths, sentences and text; ``amortized``
is the learned marginalizer. ``validation`` and ``ceiling`` serve the benchmarks only. Names load on first use.
"""
from __future__ import annotations

from theorycov.lazy import lazy_attributes

_LAZY = {
    "Guard": "guard", "GuardConfig": "guard",
    "Bound": "estimators", "RiskEstimates": "bounds", "TheoryRisk": "bounds", "estimate_risks": "bounds",
    "HarmModel": "harm", "HarmModelConfig": "harm", "HarmModelError": "harm",
    "Action": "actions", "HarmEvent": "actions", "GuardInputError": "actions", "parse_action": "actions", "parse_harm": "actions",
    "Decision": "explain", "DecisionStatus": "explain", "EvidenceRef": "explain", "PathStatus": "explain", "render_text": "explain",
}  # fmt: skip


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = sorted(_LAZY)
