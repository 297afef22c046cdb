"""Self-contained SVG pictures: the posterior over causal graphs, a theory or a decision drawn on it, and
calibration (issue 19, part 5).

Pure functions from arrays and names to an SVG string: no plotting stack, no script, nothing fetched from
elsewhere, every label escaped, the same input gives the same bytes (the drawings are diff-able and go
into HTML pages as they are).

The graph is laid out in layers: the backbone is the highest-marginal edges taken greedily (P >= 0.5,
skipping any that would close a cycle), each node sits one row below its deepest backbone parent, wide
layers wrap, and a row is ordered by the mean place of its parents. When less than half of the drawn edge
weight runs from one row to the next (a diffuse posterior, a chain with skip edges along its spine) and
d <= 40, the nodes go round a circle in the same causal order instead, where no curve crosses a node. Each edge i -> j with P(i -> j | D) >=
``min_marginal`` is a curve whose width and opacity grow with its marginal; a curve always bends to the
left of its direction, so i -> j and j -> i never overlap. Highlights (:class:`Mark`) are a theory's
constraints (green +, red -, blue unsigned; dashed "directly or indirectly"; grey and crossed when
forbidden) or a decision's path (coloured by the sign of the fitted weight, labelled with it).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

__all__ = ["COLORS", "Mark", "calibration_svg", "graph_svg", "layout", "path_marks", "theory_marks"]

#: stroke colours: a sign (+1, -1, 0), a forbidden relation, a plain posterior edge
COLORS: dict[Any, str] = {1: "#1a7f37", -1: "#cf222e", 0: "#1f5fbf", "forbidden": "#8c959f", "edge": "#3d4852"}
_KIND = {1: "plus", -1: "minus", 0: "unsigned"}
_HH, _ROW, _FONT = 11.0, 74.0, 12  # node half-height, row spacing, label font size (px)


@dataclass(frozen=True)
class Mark:
    """One highlighted relation: a theory's constraint or an edge of a decision's path."""

    cause: str
    effect: str
    sign: int = 0  # +1 / -1 / 0: the colour
    path: bool = False  # "directly or indirectly": dashed
    forbidden: bool = False  # "does not affect": grey, crossed
    label: str = ""  # text at the middle of the curve ("" -> the sign, for a theory)


def theory_marks(constraints: Iterable[Any]) -> list[Mark]:
    """Marks of a theory's constraints: Constraint values or their dicts (cause, effect, path, forbidden, sign)."""
    out = []
    for c in constraints:
        get = c.get if isinstance(c, Mapping) else (lambda k, default=None, c=c: getattr(c, k, default))
        out.append(Mark(str(get("cause")), str(get("effect")), int(get("sign", 0) or 0), bool(get("path", False)), bool(get("forbidden", False))))
    return out


def path_marks(paths: Iterable[Any]) -> list[Mark]:
    """Marks of a decision's causal paths (CausalPath values or their JSON: {"edges": [{cause, effect, weight}]}),
    each edge once, coloured by the sign of its fitted weight and labelled with it."""
    out: dict[tuple[str, str], Mark] = {}
    for p in paths:
        for e in (p["edges"] if isinstance(p, Mapping) else p.edges):
            cause, effect, w = (e["cause"], e["effect"], e["weight"]) if isinstance(e, Mapping) else (e.cause, e.effect, e.weight)
            out.setdefault((cause, effect), Mark(cause, effect, 1 if w >= 0 else -1, label=f"{w:+.2f}"))
    return list(out.values())


def _half_width(name: str) -> float:
    return 3.5 * len(name) + 9.0


def layout(marginals: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, float, float]:
    """Node centres (d, 2) and the drawing's width and height, from edge marginals (d, d) (module docstring)."""
    m = np.asarray(marginals, dtype=float)
    d = len(names)
    reach = np.eye(d, dtype=bool)  # reach[a, b]: a ~> b along the backbone
    parents: list[list[int]] = [[] for _ in range(d)]
    for _, i, j in sorted((-m[i, j], i, j) for i in range(d) for j in range(d) if i != j and m[i, j] >= 0.5):
        if not reach[j, i]:
            parents[j].append(i)
            reach |= np.outer(reach[:, i], reach[j])  # whatever reaches i now reaches whatever j reaches
    depth = [0] * d
    for j in sorted(range(d), key=lambda j: (int(reach[:, j].sum()), j)):  # fewer ancestors first: topological
        depth[j] = max((depth[p] + 1 for p in parents[j]), default=0)
    per_row = max(6, math.ceil(math.sqrt(2 * d)))
    rows: list[list[int]] = []
    slot: dict[int, float] = {}  # a placed node's place in its row, centred on 0
    for layer in range(max(depth, default=-1) + 1):
        members = [j for j in range(d) if depth[j] == layer]
        members.sort(key=lambda j: (float(np.mean([slot[p] for p in parents[j]])) if parents[j] else 0.0, j))  # by parents' mean place
        for start in range(0, len(members), per_row):
            rows.append(members[start:start + per_row])
            slot.update({j: k - (len(rows[-1]) - 1) / 2 for k, j in enumerate(rows[-1])})
    col = max(80.0, 2 * max((_half_width(n) for n in names), default=0.0) + 16)
    pos = np.zeros((d, 2))
    row_of = {j: k for k, row in enumerate(rows) for j in row}
    drawn = [(i, j) for i in range(d) for j in range(d) if i != j and m[i, j] >= 0.1]  # as graph_svg draws by default
    down = sum(m[i, j] for i, j in drawn if row_of[j] == row_of[i] + 1) / max(sum(m[i, j] for i, j in drawn), 1e-12)
    if 4 <= d <= 40 and down < 0.5:  # most of the weight skips rows or runs sideways: a circle in the same order reads better
        r = max(170.0, d * col / (2 * math.pi))
        for k, j in enumerate(j for row in rows for j in row):
            pos[j] = (r + col / 2 + 20 + r * math.cos(2 * math.pi * k / d - math.pi / 2), r + 40 + r * math.sin(2 * math.pi * k / d - math.pi / 2))
        return pos, 2 * r + col + 40, 2 * r + 80 + 56
    width = max(380.0, max((len(row) for row in rows), default=1) * col + 40)  # the legend needs 380 px
    for k, row in enumerate(rows):
        for j in row:
            pos[j] = (width / 2 + slot[j] * col, 52 + k * _ROW)
    return pos, width, 52 + max(len(rows) - 1, 0) * _ROW + 40 + 50


def _exit(c: np.ndarray, toward: np.ndarray, hw: float) -> np.ndarray:
    """Where the segment from node centre ``c`` towards ``toward`` leaves the node's box (3 px outside)."""
    u = toward - c
    t = min(((hw + 3) / abs(u[0])) if u[0] else math.inf, ((_HH + 3) / abs(u[1])) if u[1] else math.inf, 1.0)
    return c + t * u


def _curve(pos: np.ndarray, hw: list[float], i: int, j: int) -> tuple[str, np.ndarray]:
    """SVG path data of the curve i -> j (bent to the left of its direction) and its midpoint."""
    p, q = pos[i], pos[j]
    dx, dy = q - p
    bend = 0.3 if abs(dy) < 1 else 0.15  # same-row curves bend more, around the nodes between them
    c = (p + q) / 2 + min(bend, 48 / max(math.hypot(dx, dy), 1)) * np.array([dy, -dx])  # at most 48 px off the chord
    s, e = _exit(p, c, hw[i]), _exit(q, c, hw[j])
    mid = 0.25 * s + 0.5 * c + 0.25 * e
    return f"M{s[0]:.1f},{s[1]:.1f} Q{c[0]:.1f},{c[1]:.1f} {e[0]:.1f},{e[1]:.1f}", mid


def graph_svg(marginals: Any, names: Sequence[str], *, marks: Sequence[Mark] = (), title: str = "", uid: str = "g",
              min_marginal: float = 0.1, caption: str = "") -> str:
    """The posterior graph as an SVG document.

    Args:
        marginals: (d, d) P(i -> j | D) in [0, 1] (a 0/1 adjacency draws one graph).
        names: (d,) variable names, the node labels.
        marks: relations to highlight; their variables must be among ``names``.
        uid: prefix of the element ids (arrowheads): distinct for each drawing on one HTML page.
        caption: what line width means ("" -> edge marginals).
    Raises:
        ValueError: marginals not (d, d) in [0, 1], or a mark names an unknown variable.
    """
    m = np.asarray(marginals, dtype=float)
    d = len(names)
    if m.shape != (d, d) or not np.all((m >= 0) & (m <= 1)):
        raise ValueError(f"edge marginals must be a ({d}, {d}) array in [0, 1] for {d} names, got shape {m.shape}")
    index = {n: k for k, n in enumerate(names)}
    for mk in marks:
        for v in (mk.cause, mk.effect):
            if v not in index:
                raise ValueError(f"highlighted relation names {v!r}, not a variable of this graph")
    pos, width, height = layout(m, names)
    hw = [_half_width(n) for n in names]
    top = 24.0 if title else 0.0
    uid = escape(uid)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width:.0f} {height + top:.0f}" width="{width:.0f}" '
           f'height="{height + top:.0f}" font-family="system-ui,sans-serif" font-size="{_FONT}" role="img" aria-label="{escape(title or "causal graph")}">',
           "<defs>"]
    for key, colour in (("edge", COLORS["edge"]), ("plus", COLORS[1]), ("minus", COLORS[-1]), ("unsigned", COLORS[0]), ("forbidden", COLORS["forbidden"])):
        size = 8 if key == "edge" else 11
        out.append(f'<marker id="{uid}-{key}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size}" markerHeight="{size}" '
                   f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0L10,5L0,10z" fill="{colour}"/></marker>')
    out.append(f'</defs><rect width="100%" height="100%" fill="#fff"/><g transform="translate(0,{top:.0f})">')
    if title:
        out.append(f'<text x="12" y="-6" font-size="14" font-weight="600">{escape(title)}</text>')
    dim = 0.4 if marks else 1.0  # under a highlight the posterior steps back
    for p, i, j in sorted((m[i, j], i, j) for i in range(d) for j in range(d) if i != j and m[i, j] >= min_marginal):
        path, _ = _curve(pos, hw, i, j)
        out.append(f'<path class="edge" d="{path}" fill="none" stroke="{COLORS["edge"]}" stroke-width="{0.6 + 3.4 * p:.2f}" '
                   f'opacity="{dim * (0.2 + 0.8 * p):.2f}" marker-end="url(#{uid}-edge)"><title>{escape(names[i])} → {escape(names[j])}: '
                   f"P = {p:.2f}</title></path>")
    for mk in marks:
        i, j = index[mk.cause], index[mk.effect]
        path, mid = _curve(pos, hw, i, j)
        kind = "forbidden" if mk.forbidden else _KIND[int(np.sign(mk.sign))]
        colour = COLORS["forbidden"] if mk.forbidden else COLORS[int(np.sign(mk.sign))]
        dash = ' stroke-dasharray="7 4"' if mk.path else ""
        what = ("does not affect" if mk.forbidden else {"plus": "activates", "minus": "inhibits", "unsigned": "affects"}[kind]) + (
            " (directly or indirectly)" if mk.path else "")
        out.append(f'<path class="mark {kind}{" path" if mk.path else ""}" data-edge="{escape(mk.cause)}-&gt;{escape(mk.effect)}" d="{path}" '
                   f'fill="none" stroke="{colour}" stroke-width="3"{dash} marker-end="url(#{uid}-{kind})"><title>{escape(mk.cause)} {what} '
                   f"{escape(mk.effect)}{(': ' + escape(mk.label)) if mk.label else ''}</title></path>")
        if mk.forbidden:
            x, y = mid
            out.append(f'<path class="cross" d="M{x - 7:.1f},{y - 7:.1f}L{x + 7:.1f},{y + 7:.1f}M{x - 7:.1f},{y + 7:.1f}L{x + 7:.1f},{y - 7:.1f}" '
                       'stroke="#57606a" stroke-width="3"/>')
        text = mk.label or {"plus": "+", "minus": "−"}.get(kind, "")
        if text:
            out.append(f'<text x="{mid[0]:.1f}" y="{mid[1] - 5:.1f}" text-anchor="middle" font-weight="700" font-size="{14 if len(text) == 1 else 12}" fill="{colour}" stroke="#fff" '
                       f'stroke-width="3" paint-order="stroke">{escape(text)}</text>')
    marked = {index[v] for mk in marks for v in (mk.cause, mk.effect)}
    for k, name in enumerate(names):
        x, y = pos[k]
        fill, stroke, weight = ("#eef4fb", 2, "600") if k in marked else ("#fff", 1, "400")
        out.append(f'<g class="node"><rect x="{x - hw[k]:.1f}" y="{y - _HH:.1f}" width="{2 * hw[k]:.1f}" height="{2 * _HH:.0f}" rx="{_HH:.0f}" '
                   f'fill="{fill}" stroke="#1f3a5f" stroke-width="{stroke}"/><text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" '
                   f'font-weight="{weight}">{escape(name)}</text></g>')
    lines = [f'<tspan fill="#57606a">{escape(caption or f"line width and opacity: P(edge | D); edges below {min_marginal:g} not drawn")}</tspan>']
    kinds = {"forbidden" if mk.forbidden else _KIND[int(np.sign(mk.sign))] for mk in marks}
    lines.append("  ".join(f'<tspan fill="{COLORS[k]}">{t}</tspan>' for k, t in ((1, "green: activates (+)"), (-1, "red: inhibits (−)"),
                                                                              (0, "blue: sign unstated")) if _KIND[k] in kinds))
    notes = [t for t, on in (("dashed: directly or indirectly", any(mk.path for mk in marks)), ("grey, crossed: stated absent", "forbidden" in kinds)) if on]
    lines = [t for t in lines if t] + ([f'<tspan fill="#57606a">{";  ".join(notes)}</tspan>'] if notes else [])
    out.append('<g class="legend" font-size="11">' + "".join(f'<text x="12" y="{height - 30 + 14 * k:.0f}">{t}</text>' for k, t in enumerate(lines)) + "</g>")
    out.append("</g></svg>")
    return "\n".join(out)


_SHAPES = ("circle", "square", "triangle", "diamond", "cross", "plus")
_PALETTE = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d")


def _marker(shape: str, x: float, y: float, r: float, colour: str, extra: str = "") -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}"{extra}/>'
    pts = {"square": [(-1, -1), (1, -1), (1, 1), (-1, 1)], "triangle": [(0, -1.2), (1.1, 0.9), (-1.1, 0.9)],
           "diamond": [(0, -1.3), (1.3, 0), (0, 1.3), (-1.3, 0)]}.get(shape)
    if pts:
        return f'<polygon points="{" ".join(f"{x + r * a:.1f},{y + r * b:.1f}" for a, b in pts)}" fill="{colour}"{extra}/>'
    a = r * (0.9 if shape == "cross" else 1.2)
    lines = ((-a, -a, a, a), (-a, a, a, -a)) if shape == "cross" else ((-a, 0, a, 0), (0, -a, 0, a))
    return "".join(f'<line x1="{x + u:.1f}" y1="{y + v:.1f}" x2="{x + s:.1f}" y2="{y + t:.1f}" stroke="{colour}" stroke-width="2"{extra}/>'
                   for u, v, s, t in lines)


def calibration_svg(truth: Sequence[float], predicted: Mapping[str, Sequence[float]], *, title: str = "", size: int = 360,
                    bins: int = 10) -> str:
    """Predicted against true risk: each estimator's (query) points faint, their means per bin of predicted
    risk as a line of markers (one shape and colour per estimator), the diagonal where a calibrated one lies.

    Args:
        truth: (Q,) the true P(H | do(a)) of each query (e.g. from the known SEM).
        predicted: estimator name -> (Q,) its predicted risk of the same queries.
    Raises:
        ValueError: a prediction of another length than ``truth``.
    """
    t = np.clip(np.asarray(truth, dtype=float), 0, 1)
    left, top, legend = 52.0, 34.0 if title else 14.0, 230.0
    sx = lambda v: left + size * float(v)  # noqa: E731
    sy = lambda v: top + size * (1 - float(v))  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="calibration" viewBox="0 0 {left + size + legend:.0f} {top + size + 44:.0f}" '
           f'width="{left + size + legend:.0f}" height="{top + size + 44:.0f}" font-family="system-ui,sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="#fff"/>']
    if title:
        out.append(f'<text x="{left + size / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>')
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<line x1="{sx(v):.1f}" y1="{sy(0):.1f}" x2="{sx(v):.1f}" y2="{sy(1):.1f}" stroke="#eee"/>'
                   f'<line x1="{sx(0):.1f}" y1="{sy(v):.1f}" x2="{sx(1):.1f}" y2="{sy(v):.1f}" stroke="#eee"/>'
                   f'<text x="{sx(v):.1f}" y="{sy(0) + 14:.1f}" text-anchor="middle">{v:g}</text>'
                   f'<text x="{left - 6:.1f}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#888"/>'
               f'<line class="diagonal" x1="{sx(0):.1f}" y1="{sy(0):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" stroke="#999" stroke-dasharray="5 4"/>'
               f'<text x="{left + size / 2:.0f}" y="{top + size + 32:.0f}" text-anchor="middle">predicted risk</text>'
               f'<text transform="translate(14,{top + size / 2:.0f}) rotate(-90)" text-anchor="middle">true risk P(H | do(a))</text>')
    edges = np.linspace(0, 1, bins + 1)
    for k, (name, values) in enumerate(predicted.items()):
        p = np.clip(np.asarray(values, dtype=float), 0, 1)
        if p.shape != t.shape:
            raise ValueError(f"estimator {name!r} has {p.shape} predictions for {t.shape} true risks")
        shape, colour = _SHAPES[k % len(_SHAPES)], _PALETTE[k % len(_PALETTE)]
        ok = np.isfinite(p) & np.isfinite(t)
        out.extend(_marker(shape, sx(a), sy(b), 2.2, colour, ' opacity="0.25"') for a, b in zip(p[ok], t[ok]))
        which = np.clip(np.digitize(p[ok], edges[1:-1]), 0, bins - 1)
        means = [(float(p[ok][which == b].mean()), float(t[ok][which == b].mean())) for b in range(bins) if np.any(which == b)]
        out.append(f'<polyline class="estimator" data-name="{escape(name)}" fill="none" stroke="{colour}" stroke-width="1.5" '
                   f'points="{" ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in means)}"/>')
        out.extend(_marker(shape, sx(a), sy(b), 4.5, colour) for a, b in means)
        mse = float(np.mean((p[ok] - t[ok]) ** 2)) if ok.any() else float("nan")
        ly = top + 10 + 20 * k
        out.append(_marker(shape, left + size + 20, ly - 4, 4.5, colour)
                   + f'<text x="{left + size + 32:.0f}" y="{ly:.0f}">{escape(name)} (mean sq. error {mse:.3f})</text>')
    out.append("</svg>")
    return "\n".join(out)
