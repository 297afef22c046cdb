"""The coverage audit report: a JSON document and one self-contained HTML file (plots as inline SVG).

Hand-written SVG rather than matplotlib: two small plots do not justify a plotting stack in the install,
and inline SVG keeps the file self-contained and diff-able. All text from papers is HTML-escaped.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field, fields

from theorycov.coverage.graph_svg import graph_svg, theory_marks

__all__ = ["AuditReport", "HypothesisRow", "NovelMode"]


@dataclass(frozen=True)
class HypothesisRow:
    index: int
    rendering: str
    citations: list[str]
    edges: list[str]  # its constraints, e.g. "PKC -> Raf (+)"
    completion_log_r: float
    completion_rank: int | None  # 1 = the highest-reward graph seen; None when not among them
    p: float
    p_low: float
    p_high: float
    q: float
    ratio: float  # q / p
    ratio_low: float
    ratio_high: float
    verdict: str
    first_hit: int | None  # training iteration at which a sample first satisfied h
    reached: bool  # the best completion was drawn by the sampler
    hypothesis_id: int | None = None  # database row
    # Signed theories (coverage.signs): p above is the structural mass the sampler must cover; the event the
    # guard weighs also needs the signs, p_signed = sum_G P(G|D) 1[G |= h] P(signs | G, D), sign_support =
    # p_signed / p. None for a theory that states no sign. refuted_by: "structure" or "signs" when refuted.
    p_signed: float | None = None
    p_signed_low: float | None = None
    p_signed_high: float | None = None
    sign_support: float | None = None
    refuted_by: str = ""
    # its constraints as values ({cause, effect, path, forbidden, sign}): what its drawing highlights
    constraints: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class NovelMode:
    novel_edges: list[str]  # edges no ingested paper states
    share: float  # share of samples in this group
    best_log_r: float
    text: str


@dataclass(frozen=True)
class AuditReport:
    domain: str
    created: str
    n_samples: int
    exact: bool  # p(h|D) by enumeration (d <= 5)
    eps: float
    delta: float
    lam: float
    rows: list[HypothesisRow]
    coverage_curve: list[tuple[int, float]] = field(default_factory=list)  # (iteration, covered share)
    novel_modes: list[NovelMode] = field(default_factory=list)
    ess: float | None = None
    extra: dict[str, float | str | int] = field(default_factory=dict)
    min_ess: float = 30.0  # below this effective sample size the importance estimates are flagged as rough
    # stored theories no graph over the domain can satisfy (cyclic, self-contradictory, unknown variable):
    # listed with the reason, never judged, never a deciding theory. {hypothesis_id, rendering, citations, reason}
    excluded: list[dict] = field(default_factory=list)
    # the posterior drawn as a graph: (d, d) P(i -> j | D) over ``variables`` (exact at d <= 5, else the share
    # of the sampler's draws with the edge); empty in reports written before it was recorded
    variables: list[str] = field(default_factory=list)
    edge_marginals: list[list[float]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """What an auditor must know before reading the verdicts (empty when the masses are trustworthy)."""
        if self.exact or self.ess is None or self.ess >= self.min_ess:
            return []
        return [f"p(h|D) rests on an importance-sampling effective sample size of {self.ess:.1f} of {self.n_samples} "
                f"draws (below {self.min_ess:g}): the masses and their intervals are rough, nothing is declared refuted, "
                "and an under-covered verdict may reflect the estimate rather than the sampler. More backward "
                "trajectories for P_T (FitConfig.n_traj), longer training or a tempered likelihood raise it."]

    @property
    def covered_share(self) -> float:
        judged = [r for r in self.rows if r.verdict != "refuted by the data"]
        return sum(r.verdict == "covered" for r in judged) / len(judged) if judged else 1.0

    @property
    def min_q_over_p(self) -> float:
        judged = [r.ratio for r in self.rows if r.verdict != "refuted by the data" and r.p > 0]
        return min(judged) if judged else float("nan")

    @classmethod
    def from_dict(cls, d: dict) -> "AuditReport":
        """The report back from :meth:`to_json`'s document (derived keys are recomputed, not read)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["rows"] = [HypothesisRow(**{k: _number(v) for k, v in r.items()}) for r in d.get("rows", [])]
        kw["novel_modes"] = [NovelMode(**m) for m in d.get("novel_modes", [])]
        kw["coverage_curve"] = [tuple(c) for c in d.get("coverage_curve", [])]
        kw["excluded"] = list(d.get("excluded", []))
        return cls(**kw)

    def to_json(self) -> str:
        d = asdict(self)
        d["covered_share"], d["min_q_over_p"], d["warnings"] = self.covered_share, self.min_q_over_p, self.warnings
        return json.dumps(d, indent=2, default=_json_default)

    def to_html(self) -> str:
        e = html.escape
        head = (
            f"<h1>Coverage audit: {e(self.domain)}</h1><p>{e(self.created)} &middot; {self.n_samples} samples &middot; "
            f"p(h|D) {'exact (every DAG enumerated)' if self.exact else 'by importance sampling' + (f', ESS {self.ess:.0f}' if self.ess else '')}"
            f" &middot; eps={self.eps}, delta={self.delta}, lam={self.lam}</p>"
            f"<p class=summary><b>{self.covered_share:.0%}</b> of non-refuted hypotheses covered; "
            f"min q/p = <b>{self.min_q_over_p:.2f}</b>; "
            f"{sum(r.verdict == 'refuted by the data' for r in self.rows)} refuted by the data.</p>"
            + "".join(f"<p class=warn><b>Warning:</b> {e(w)}</p>" for w in self.warnings)
        )
        left_out = "".join(f"<tr><td>{e(str(x.get('hypothesis_id')))}</td><td>{e(x['rendering'])}</td><td>{e('; '.join(x.get('citations', [])))}</td>"
                           f"<td>{e(x['reason'])}</td></tr>" for x in self.excluded)
        rows = []
        for r in sorted(self.rows, key=lambda r: (r.verdict != "under-covered", -r.p)):
            cls = {"covered": "ok", "under-covered": "bad", "refuted by the data": "ref"}.get(r.verdict, "")
            rank = "&ndash;" if r.completion_rank is None else str(r.completion_rank)
            name = f"<a href='#theory-{r.index}'>{e(r.rendering)}</a>" if self.edge_marginals else e(r.rendering)
            rows.append(
                f"<tr class={cls}><td>{r.index}</td><td>{name}</td><td>{e('; '.join(r.citations))}</td>"
                f"<td>{r.completion_log_r:.1f}</td><td>{rank}</td><td>{r.p:.3g} [{r.p_low:.3g}, {r.p_high:.3g}]</td>"
                f"<td>{r.q:.3g}</td><td>{_fmt(r.ratio)} [{_fmt(r.ratio_low)}, {_fmt(r.ratio_high)}]</td>"
                f"<td>{e(r.verdict)}</td><td>{'&ndash;' if r.first_hit is None else r.first_hit}</td><td>{_signs(r)}</td></tr>"
            )
        table = (
            "<table><tr><th>#</th><th>hypothesis</th><th>papers</th><th>log R of best completion</th><th>rank</th>"
            "<th>p(h|D) [95%]</th><th>q(h)</th><th>q/p [95%]</th><th>verdict</th><th>first hit</th>"
            "<th>sign support (p(h|D) with its signs)</th></tr>"
            + "".join(rows) + "</table>"
        )
        graphs = _graphs_html(self)
        novel = "".join(f"<li>{e(m.text)} (share {m.share:.3f}, best log R {m.best_log_r:.1f})</li>" for m in self.novel_modes)
        body = (
            head + graphs + "<h2>Hypotheses</h2>" + table
            + "<div class=plots><div><h2>q(h) against p(h|D)</h2>" + _scatter_svg(self.rows) + "</div>"
            + "<div><h2>Coverage over training</h2>" + _curve_svg(self.coverage_curve) + "</div></div>"
            + "<h2>Novel modes</h2>" + (f"<ul>{novel}</ul>" if novel else "<p>No high-reward graph outside the ingested hypotheses.</p>")
            + (f"<h2>Stored theories left out ({len(self.excluded)})</h2><p>No causal graph over the domain can satisfy these as "
               "stated; they are not judged, and no explanation cites them.</p><table><tr><th>id</th><th>hypothesis</th>"
               f"<th>papers</th><th>why</th></tr>{left_out}</table>" if self.excluded else "")
        )
        return f"<!doctype html><html><head><meta charset=utf-8><title>theorycov audit</title><style>{_CSS}</style></head><body>{body}</body></html>"


def _graphs_html(rep: AuditReport) -> str:
    """The posterior graph, and one drawing per theory shown when its link is followed (CSS :target, no script:
    the page also works in a sandboxed frame)."""
    if not rep.edge_marginals:
        return ""
    picks, drawings = [], []
    for r in rep.rows:
        marks = theory_marks(r.constraints)
        picks.append(f"<a href='#theory-{r.index}'>#{r.index}</a>")
        drawings.append(f"<figure class=theory id='theory-{r.index}'><figcaption>#{r.index} {html.escape(r.rendering)} "
                        f"<a href='#posterior'>back to the posterior</a></figcaption>"
                        + graph_svg(rep.edge_marginals, rep.variables, marks=marks, uid=f"t{r.index}") + "</figure>")
    what = "exact posterior" if rep.exact else "share of the sampler's draws"
    return (f"<h2>The posterior as a graph</h2><p>Edge width and opacity: P(edge | D) ({what}). Pick a theory to see its "
            f"edges and signs on it: {' '.join(picks)}</p><div class=graphs><figure id=posterior class=posterior>"
            + graph_svg(rep.edge_marginals, rep.variables, uid="post") + "</figure>" + "".join(drawings) + "</div>")


def _signs(r: HypothesisRow) -> str:
    """The sign column: how much of the structural mass agrees with the theory's stated signs."""
    if r.sign_support is None or r.p_signed is None:
        return "no sign stated"
    text = f"{r.sign_support:.2f} ({r.p_signed:.3g})"
    if r.refuted_by == "signs":
        text += ": the data support its edges but not its signs"
    return text


def _fmt(x: float) -> str:
    return "&infin;" if math.isinf(x) else ("nan" if math.isnan(x) else f"{x:.3g}")


def _number(v: object) -> object:
    """'nan' / 'inf' strings (as _json_default writes them) back to floats."""
    return float(v) if isinstance(v, str) and v.lower() in ("nan", "inf", "-inf", "infinity", "-infinity") else v


def _json_default(o: object) -> object:
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return str(o)
    raise TypeError(type(o))


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px;width:100%}"
    "td:nth-child(2){min-width:22em}td:nth-child(3){min-width:9em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}tr.ok td:nth-child(9){color:#176317}"
    "tr.bad td:nth-child(9){color:#b00020;font-weight:bold}tr.ref{color:#888}.plots{display:flex;gap:2em;flex-wrap:wrap}"
    ".graphs svg{max-width:100%;height:auto}figure{margin:0}figure.theory{display:none}figure.theory:target{display:block}"
    ".graphs:has(figure.theory:target) figure.posterior{display:none}figcaption{font-weight:600;margin:.4em 0}"
    ".summary{font-size:16px}.warn{background:#fff4e5;border-left:4px solid #e08a00;padding:6px 10px}"
)


def _scatter_svg(rows: list[HypothesisRow], size: int = 320) -> str:
    pts = [(r.p, r.q, r.verdict) for r in rows if r.p > 0]
    if not pts:
        return "<p>No hypothesis with positive posterior mass.</p>"
    lo = max(1e-6, min(min(p for p, _, _ in pts), min((q for _, q, _ in pts if q > 0), default=1.0)) / 2)
    to = lambda v: 30 + (size - 40) * (math.log10(max(v, lo)) - math.log10(lo)) / (0 - math.log10(lo))  # noqa: E731
    dots = "".join(
        f"<circle cx='{to(p):.1f}' cy='{size - to(q):.1f}' r='4' fill='{ {'covered': '#2a7', 'under-covered': '#d22'}.get(v, '#999') }'><title>p={p:.3g} q={q:.3g}</title></circle>"
        for p, q, v in pts
    )
    diag = f"<line x1='{to(lo):.1f}' y1='{size - to(lo):.1f}' x2='{to(1):.1f}' y2='{size - to(1):.1f}' stroke='#aaa' stroke-dasharray='4'/>"
    axes = f"<text x='{size / 2}' y='{size - 2}' font-size='11'>p(h|D) (log)</text><text x='2' y='12' font-size='11'>q(h) (log)</text>"
    return f"<svg width='{size}' height='{size}' xmlns='http://www.w3.org/2000/svg'>{diag}{dots}{axes}</svg>"


def _curve_svg(curve: list[tuple[int, float]], w: int = 420, h: int = 240) -> str:
    if not curve:
        return "<p>No coverage curve recorded.</p>"
    xmax = max(max(i for i, _ in curve), 1)
    pts = " ".join(f"{30 + (w - 40) * i / xmax:.1f},{h - 20 - (h - 40) * c:.1f}" for i, c in curve)
    return (
        f"<svg width='{w}' height='{h}' xmlns='http://www.w3.org/2000/svg'><polyline fill='none' stroke='#2a7' stroke-width='2' points='{pts}'/>"
        f"<text x='{w / 2 - 30}' y='{h - 4}' font-size='11'>iteration (max {xmax})</text><text x='2' y='14' font-size='11'>covered share (0-1)</text></svg>"
    )
