"""The coverage audit: for every human hypothesis, p(h|D), q(h), their ratio, the best completion and
whether the sampler reached it, the verdict; plus the novel modes (DESIGN.md "Definitions", issue 5).

Inputs are what a trained sampler leaves behind: S sampled graphs and, when d > 5, their log P_T from
backward trajectories (for the importance weights R/P_T); at d <= 5 pass every DAG as ``dags`` and the
posterior masses are exact.
"""
from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from theorycov.coverage.completion import best_completion
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.harm import HarmModel
from theorycov.coverage.masses import MassEstimate, Verdict, binomial_tolerance, exact_masses, importance_masses, refuted, verdicts
from theorycov.coverage.prior import FloorPrior
from theorycov.coverage.report import AuditReport, HypothesisRow, NovelMode
from theorycov.coverage.run import PosteriorSample
from theorycov.coverage.signs import SignSpec
from theorycov.coverage.theories import TheorySet
from theorycov.gfn.reward import Reward

logger = logging.getLogger(__name__)

__all__ = ["AuditConfig", "audit"]


@dataclass(frozen=True)
class AuditConfig:
    eps: float = 0.1  # covered when q >= (1 - eps) p
    delta: float = 0.1  # refuted when p(h|D) < delta P(h)
    restarts: int = 3  # hill-climbing restarts for each best completion
    top_novel: int = 50  # highest-reward sampled graphs searched for novel modes
    n_novel: int = 8  # novel-mode groups reported
    min_ess: float = 30.0  # importance estimates with a smaller effective sample size refute nothing


def _codes(adj: torch.Tensor) -> torch.Tensor:
    """(B, d, d) -> (B, ceil(d*d/63)) int64 exact codes of each graph (any d), for set membership."""
    flat = adj.flatten(1).to(torch.int64)
    pad = (-flat.shape[1]) % 63
    flat = torch.nn.functional.pad(flat, (0, pad)).reshape(flat.shape[0], -1, 63)
    return (flat * (2 ** torch.arange(63, dtype=torch.int64))).sum(-1)


def _member(graph: torch.Tensor, pool_codes: torch.Tensor) -> bool:
    return bool((pool_codes == _codes(graph[None])).all(1).any())


def _edge_text(cs: ConstraintSet, row: int) -> list[str]:
    return [c.render() for c in cs.hypotheses[row].constraints]


def audit(
    reward: Reward,
    cs: ConstraintSet | TheorySet,
    prior: FloorPrior,
    samples: torch.Tensor | PosteriorSample,
    *,
    log_pt: torch.Tensor | None = None,
    dags: torch.Tensor | None = None,
    citations: Sequence[Sequence[str]] | None = None,
    first_hit: Sequence[int | None] | None = None,
    coverage_curve: Sequence[tuple[int, float]] = (),
    hypothesis_ids: Sequence[int | None] | None = None,
    completions: Sequence[torch.Tensor] | None = None,
    log_pt_of: Callable[[torch.Tensor], torch.Tensor] | None = None,
    domain: str = "",
    config: AuditConfig = AuditConfig(),
    harm: HarmModel | None = None,
    prior_mass: torch.Tensor | None = None,
    allowed: torch.Tensor | None = None,
) -> AuditReport:
    """Audit a sampler's draws against the hypotheses.

    Args:
        cs: the hypotheses (a TheorySet also gives the citations and database ids).
        samples: (S, d, d) bool graphs drawn by the sampler, with ``log_pt`` (S,); or a PosteriorSample
            (distinct graphs with counts, log R and log P_T: nothing is expanded or re-scored; candidates
            with count 0 are not draws and are left out).
        log_pt: (S,) log P_T of each draw (needed when ``dags`` is None and ``samples`` is a tensor).
        dags: (N, d, d) every DAG (d <= 5) for exact masses.
        completions: (d, d) best completions already found (e.g. by the coverage objective); each is
            used as a hill-climbing start, so the audit's completion is never worse than it.
        log_pt_of: (B, d, d) -> (B,) the sampler's log P_T (backward estimate). At d > 5 a single best
            completion is rarely drawn even by a perfect sampler, so it counts as reached when drawn or
            when P_T(G*) >= 0.1 p(G*|D), with p(G*|D) = R(G*) / Z and Z estimated from the draws.
        allowed: (d, d) bool the sampler's candidate edges, if it was restricted: completions climb inside them.
        harm: the conjugate parameter posterior (the guard's harm model) that weighs signed theories: with it,
            a theory's signs join the refutation rule (coverage.signs) and the report shows structure and sign
            support apart; coverage (q against p) stays structural. prior_mass: (H,) P(h) of the whole event
            (coverage.signs.signed_prior_mass; default the structural prior mass).
    """
    excluded: list[dict] = []
    if isinstance(cs, TheorySet):
        excluded = [{"hypothesis_id": x.theory.id, "rendering": x.theory.render(), "citations": x.theory.labels(), "reason": x.reason}
                    for x in cs.excluded]
        citations = cs.citations if citations is None else citations
        hypothesis_ids = cs.ids if hypothesis_ids is None else hypothesis_ids
        cs = cs.constraints
    if isinstance(samples, PosteriorSample):
        keep = samples.draws
        graphs, counts, lr_s = samples.graphs[keep], samples.counts[keep].to(torch.float64), samples.log_reward[keep]
        log_pt = None if samples.exact else samples.log_pt[keep]
    else:
        graphs, counts, lr_s = samples, torch.ones(samples.shape[0], dtype=torch.float64), None
    n_h, s = len(cs), int(counts.sum())
    sat_s = cs.satisfies(graphs)  # (N, H)
    q = (counts[:, None] * sat_s.to(torch.float64)).sum(0) / s  # share of draws that satisfy h
    if dags is not None:
        lr_all = reward.log_reward(dags)
        sat_all = cs.satisfies(dags)
        mass: MassEstimate = exact_masses(lr_all, sat_all)
        rank_pool = lr_all
    else:
        if log_pt is None:
            raise ValueError("without every DAG (d > 5) the audit needs log_pt of the samples for importance weights")
        lr_s = reward.log_reward(graphs) if lr_s is None else lr_s
        mass = importance_masses(lr_s, log_pt, sat_s, counts=counts)
        rank_pool = lr_s.unique()
    prior_structure = prior.prior_mass(dags)
    prior_h = prior_structure if prior_mass is None else prior_mass
    spec = SignSpec.of(cs.hypotheses, cs.variables) if harm is not None else None
    event = mass  # the whole event (structure and signs) the refutation rule weighs
    if spec is not None and bool(spec.signed.any()):
        if dags is not None:
            event = exact_masses(lr_all, sat_all.to(torch.float64) * harm.sign_probability(dags, spec))  # type: ignore[union-attr]
        else:
            assert lr_s is not None and log_pt is not None
            event = importance_masses(lr_s, log_pt, sat_s.to(torch.float64) * harm.sign_probability(graphs, spec), counts=counts)  # type: ignore[union-attr]
    sample_codes = _codes(graphs)
    rows, reached = [], torch.zeros(n_h, dtype=torch.bool)
    comps = []
    for h in range(n_h):
        start = completions[h] if completions is not None and bool(cs.satisfies(completions[h][None])[0, h]) else None
        if start is not None and allowed is not None and bool((start & ~allowed).any()):
            start = None
        comp = best_completion(reward, cs, h, restarts=1 if start is not None else config.restarts, seed=h, start=start, allowed=allowed)
        comps.append(comp)
        reached[h] = _member(comp.adj, sample_codes)
    if log_pt_of is not None and log_pt is not None and dags is None:
        assert lr_s is not None
        log_z = torch.logsumexp(lr_s - log_pt + counts.log(), 0) - torch.log(torch.tensor(float(s)))
        missing = (~reached).nonzero().flatten().tolist()
        if missing:
            comp_graphs = torch.stack([comps[h].adj for h in missing])
            ratio = log_pt_of(comp_graphs) - (torch.tensor([comps[h].log_reward for h in missing], dtype=torch.float64) - log_z)
            for h, r in zip(missing, ratio.tolist()):
                reached[h] = r >= torch.log(torch.tensor(0.1)).item()
    tol = binomial_tolerance(q, s)
    can_refute = mass.exact or mass.ess >= config.min_ess
    verdict = verdicts(mass.p, q, prior_h, reached, eps=config.eps, delta=config.delta, q_tolerance=tol,
                       p_high=event.high, can_refute=can_refute)
    by_structure = refuted(mass.high, prior_structure, delta=config.delta, can_refute=can_refute)
    signed = spec.signed if spec is not None else torch.zeros(n_h, dtype=torch.bool)
    for h in range(n_h):
        p, lo, hi = float(mass.p[h]), float(mass.low[h]), float(mass.high[h])
        ratio = float(q[h]) / p if p > 0 else float("inf")
        rank = int((rank_pool > comps[h].log_reward + 1e-9).sum()) + 1
        rows.append(
            HypothesisRow(
                index=h,
                rendering=cs.hypotheses[h].render(),
                citations=list(citations[h]) if citations else [],
                edges=_edge_text(cs, h),
                completion_log_r=comps[h].log_reward,
                completion_rank=rank if (dags is not None or bool(reached[h])) else None,
                p=p, p_low=lo, p_high=hi, q=float(q[h]),
                ratio=ratio,
                ratio_low=float(q[h]) / hi if hi > 0 else float("inf"),
                ratio_high=float(q[h]) / lo if lo > 0 else float("inf"),
                verdict=verdict[h].value,
                first_hit=None if first_hit is None else first_hit[h],
                reached=bool(reached[h]),
                hypothesis_id=None if hypothesis_ids is None else hypothesis_ids[h],
                p_signed=float(event.p[h]) if signed[h] else None,
                p_signed_low=float(event.low[h]) if signed[h] else None,
                p_signed_high=float(event.high[h]) if signed[h] else None,
                sign_support=(float(event.p[h]) / p if p > 0 else float("nan")) if signed[h] else None,
                refuted_by="" if verdict[h] is not Verdict.REFUTED else ("structure" if bool(by_structure[h]) else "signs"),
                constraints=[asdict(c) for c in cs.hypotheses[h].constraints],
            )
        )
    return AuditReport(
        domain=domain,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        n_samples=s,
        exact=dags is not None,
        eps=config.eps,
        delta=config.delta,
        lam=prior.lam,
        rows=rows,
        coverage_curve=list(coverage_curve),
        novel_modes=novel_modes(reward, cs, graphs, sat_s, config, counts=counts),
        ess=None if mass.exact else mass.ess,
        min_ess=config.min_ess,
        excluded=excluded,
        variables=list(cs.variables),
        edge_marginals=edge_marginals(graphs, counts, None if dags is None else (dags, lr_all)),
    )


def edge_marginals(graphs: torch.Tensor, counts: torch.Tensor, exact: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[list[float]]:
    """(d, d) P(i -> j | D) for the report's drawing: over every DAG weighted by its exact posterior when
    ``exact`` = (dags (N, d, d), log R (N,)) is given (d <= 5), else the share of the draws (graphs (N, d, d)
    with counts (N,)) that have the edge. Rounded to 6 decimals: a drawing needs no more, and the JSON stays short."""
    adj, w = (exact[0], torch.softmax(exact[1].to(torch.float64), 0)) if exact is not None else (graphs, counts / counts.sum())
    return [[round(x, 6) for x in row] for row in (w[:, None, None] * adj.to(torch.float64)).sum(0).clamp(0, 1).tolist()]


def novel_modes(reward: Reward, cs: ConstraintSet, samples: torch.Tensor, sat: torch.Tensor, config: AuditConfig = AuditConfig(),
                *, counts: torch.Tensor | None = None) -> list[NovelMode]:
    """High-reward sampled graphs that satisfy no hypothesis, grouped by the edges no paper states.

    samples (N, d, d) with sat (N, H); counts (N,): draws per row (None: one each)."""
    names = cs.variables
    stated = torch.zeros(len(names), len(names), dtype=torch.bool)
    for h in range(len(cs)):
        rp = cs.required_pairs(h)
        stated |= rp | rp.T  # an edge in either direction counts as discussed by the literature
    outside = ~sat.any(1)  # (S,)
    if not bool(outside.any()):
        return []
    weight = torch.ones(samples.shape[0], dtype=torch.float64) if counts is None else counts.to(torch.float64)
    total = float(weight.sum())
    uniq, inverse = torch.unique(samples[outside].flatten(1), dim=0, return_inverse=True)
    counts = torch.zeros(uniq.shape[0], dtype=torch.float64).scatter_add_(0, inverse, weight[outside])
    uniq = uniq.reshape(-1, len(names), len(names))
    lr = reward.log_reward(uniq)
    order = torch.argsort(lr, descending=True)[: config.top_novel]
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for k in order.tolist():
        novel = tuple(sorted(map(tuple, (uniq[k] & ~stated).nonzero().tolist())))
        if novel:
            groups.setdefault(novel, []).append(k)
    out = []
    for novel, members in groups.items():
        share = float(counts[members].sum()) / total
        edges = [f"{names[i]} -> {names[j]}" for i, j in novel]
        out.append(NovelMode(edges, share, float(lr[members].max()), f"{'; '.join(edges)}: not in any ingested paper"))
    out.sort(key=lambda m: -m.best_log_r)
    return out[: config.n_novel]
