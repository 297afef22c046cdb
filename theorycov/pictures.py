"""The dashboard's drawings, from what the database stores: the latest audit's posterior graph (with one
theory highlighted when picked), a theory on that graph, a decision's deciding graph with its paths.

Each returns markup ready for a page (``markupsafe.Markup``: coverage.graph_svg escapes every label itself,
so Jinja's autoescape must not escape the SVG again), or None when the stored record has nothing to draw
(an audit written before edge marginals were recorded, a decision on the empty graph).
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from theorycov.coverage.graph_svg import graph_svg, path_marks, theory_marks

__all__ = ["audit_graph", "decision_graph"]


def audit_graph(report: dict[str, Any] | None, theory: int | None = None, *, uid: str = "audit") -> Markup | None:
    """The stored audit's posterior graph; with ``theory`` (a hypothesis id among its rows), that theory's
    constraints and signs highlighted on it. None without edge marginals or when no row has that id."""
    if not report or not report.get("edge_marginals"):
        return None
    marks = []
    if theory is not None:
        row = next((r for r in report.get("rows", []) if r.get("hypothesis_id") == theory), None)
        if row is None:
            return None
        marks = theory_marks(row.get("constraints") or [])
    return Markup(graph_svg(report["edge_marginals"], report["variables"], marks=marks, uid=uid))


def decision_graph(explanation: dict[str, Any], *, uid: str = "decision") -> Markup | None:
    """The graph a decision's explanation walks, its causal paths from the action to the harm coloured by
    the sign of their fitted weights and labelled with them. None when the deciding graph has no edge."""
    edges = [tuple(e) for e in explanation.get("deciding_graph") or []]
    paths = explanation.get("paths") or []
    names: list[str] = []
    for v in [v for e in edges for v in e] + [v for p in paths for e in p.get("edges", []) for v in (e["cause"], e["effect"])]:
        if v not in names:
            names.append(v)
    if not edges:
        return None
    index = {v: k for k, v in enumerate(names)}
    adj = [[0.0] * len(names) for _ in names]
    for a, b in edges:
        adj[index[a]][index[b]] = 1.0
    caption = "the deciding graph; coloured: the paths from action to harm"
    return Markup(graph_svg(adj, names, marks=path_marks(paths), caption=caption, uid=uid))
