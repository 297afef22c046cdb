"""A few self-contained SVG charts for the guard benches (no matplotlib: the figure is text, diffable).

Panels are laid out on a grid; each panel has x/y axes with ticks, series drawn as lines with optional
error bars, horizontal reference lines, or scatter points, and a legend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


@dataclass
class Series:
    """One line (with optional error bars) or one set of scatter points."""

    label: str
    xs: list[float]
    ys: list[float]
    errs: list[float] | None = None
    color: str = ""
    kind: str = "line"  # 'line', 'hline' (ys[0] across the panel, errs[0] as a band) or 'scatter'


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    xticks: list[tuple[float, str]] | None = None  # positions and labels; None: 5 even ticks
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    diagonal: bool = False  # draw y = x (calibration plots)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def render(panels: list[Panel], cols: int, title: str = "", width: int = 440, height: int = 300) -> str:
    """The SVG document of ``panels`` on a grid of ``cols`` columns."""
    rows = math.ceil(len(panels) / cols)
    top = 30 if title else 0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * width}" height="{rows * height + top}" '
           f'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    if title:
        out.append(f'<text x="{cols * width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>')
    for k, panel in enumerate(panels):
        ox, oy = (k % cols) * width, top + (k // cols) * height
        out.append(_panel(panel, ox, oy, width, height))
    out.append("</svg>")
    return "\n".join(out)


def _panel(p: Panel, ox: float, oy: float, w: float, h: float) -> str:
    left, right, up, down = 60, 150, 25, 45
    pw, ph = w - left - right, h - up - down
    xs = [x for s in p.series if s.kind != "hline" for x in s.xs]
    ys = [y + e for s in p.series for y, e in zip(s.ys, s.errs or [0.0] * len(s.ys)) if math.isfinite(y)]
    ys += [y - e for s in p.series for y, e in zip(s.ys, s.errs or [0.0] * len(s.ys)) if math.isfinite(y)]
    x0, x1 = p.xlim or (min(xs, default=0.0), max(xs, default=1.0))
    y0, y1 = p.ylim or (min(ys + [0.0]), max(ys + [1e-9]))
    if x1 == x0:
        x1 = x0 + 1.0
    if y1 == y0:
        y1 = y0 + 1.0
    pad = 0.05 * (y1 - y0) if p.ylim is None else 0.0
    y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return ox + left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return oy + up + (1 - (y - y0) / (y1 - y0)) * ph

    g = [f'<g><rect x="{ox + left}" y="{oy + up}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>',
         f'<text x="{ox + left + pw / 2}" y="{oy + 15}" text-anchor="middle" font-size="12">{escape(p.title)}</text>',
         f'<text x="{ox + left + pw / 2}" y="{oy + h - 8}" text-anchor="middle">{escape(p.xlabel)}</text>',
         f'<text transform="translate({ox + 14},{oy + up + ph / 2}) rotate(-90)" text-anchor="middle">{escape(p.ylabel)}</text>']
    for t in _nice_ticks(y0, y1):
        g.append(f'<line x1="{ox + left - 4}" x2="{ox + left}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#333"/>'
                 f'<text x="{ox + left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    xt = p.xticks if p.xticks is not None else [(t, _fmt(t)) for t in _nice_ticks(x0, x1)]
    for t, lab in xt:
        g.append(f'<line y1="{oy + up + ph}" y2="{oy + up + ph + 4}" x1="{sx(t):.1f}" x2="{sx(t):.1f}" stroke="#333"/>'
                 f'<text x="{sx(t):.1f}" y="{oy + up + ph + 16}" text-anchor="middle">{escape(lab)}</text>')
    if p.diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        g.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" stroke="#aaa" stroke-dasharray="4 3"/>')
    for i, s in enumerate(p.series):
        c = s.color or PALETTE[i % len(PALETTE)]
        if s.kind == "hline" and not math.isfinite(s.ys[0]):
            pass  # legend entry only (a value off the panel's scale, named in the label)
        elif s.kind == "hline":
            y, e = s.ys[0], (s.errs or [0.0])[0]
            if e > 0:
                g.append(f'<rect x="{ox + left}" y="{sy(y + e):.1f}" width="{pw}" height="{max(0.5, sy(y - e) - sy(y + e)):.1f}" fill="{c}" opacity="0.15"/>')
            g.append(f'<line x1="{ox + left}" x2="{ox + left + pw}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="{c}" stroke-dasharray="6 3"/>')
        elif s.kind == "scatter":
            g += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.2" fill="{c}" opacity="0.55"/>' for x, y in zip(s.xs, s.ys)]
        else:
            pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(s.xs, s.ys))
            g.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="1.6"/>')
            for x, y, e in zip(s.xs, s.ys, s.errs or [0.0] * len(s.xs)):
                g.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{c}"/>')
                if e > 0:
                    g.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{sy(y - e):.1f}" y2="{sy(y + e):.1f}" stroke="{c}"/>')
        ly = oy + up + 12 + 14 * i
        g.append(f'<line x1="{ox + left + pw + 8}" x2="{ox + left + pw + 24}" y1="{ly - 4}" y2="{ly - 4}" stroke="{c}" stroke-width="2"'
                 + (' stroke-dasharray="6 3"' if s.kind == "hline" else "") + "/>"
                 f'<text x="{ox + left + pw + 28}" y="{ly}">{escape(s.label)}</text>')
    g.append("</g>")
    return "\n".join(g)
