"""How well can any linear-Gaussian graph predict the shift directions at all? (issue 6, validation)

Benchmark support: used by bench/guard_sachs.py and its tests only, not by the product path (the CLI,
the API, the dashboard).

The validation of :mod:`theorycov.coverage.guard.validation` scores predicted shift directions against
held-out interventional cells. Before reading a low score as a failure of the learned posterior, one
needs the ceiling of the model class: the best sign agreement that *any* DAG, fitted as a linear SEM
by least squares on the observational rows (the harm model's posterior mean, without prior shrinkage),
can reach. This module estimates it from above by cheating on purpose: a greedy hill-climb over DAGs
whose score is the sign agreement with the held-out outcomes themselves (restarts from the empty
graph, single-edge additions, removals and reversals). It is a test-tuned number, never a predictor:
if even the graph tuned on the answers stays below a bar, no honest estimator of that model class
reaches it. Reference graphs (e.g. the published consensus network) can be scored the same way.

Shift of Y under do(T = t0): (t0 - E[T]) * [(I - W)^{-1}]_{T,Y} with W the fitted edge weights,
so its sign is sign(dose) * sign(total effect).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from theorycov.coverage.guard.validation import Condition
from theorycov.gfn.graphs import is_acyclic

__all__ = ["SignPairs", "CeilingResult", "sign_pairs", "graph_sign_agreement", "tuned_sign_ceiling"]


@dataclass(frozen=True)
class SignPairs:
    """The (condition, outcome) pairs with a real shift, as index tensors of length P."""

    target: torch.Tensor  # (P,) long: intervened variable
    outcome: torch.Tensor  # (P,) long: scored variable
    observed: torch.Tensor  # (P,) float: sign of the observed standardized mean difference
    dose: torch.Tensor  # (P,) float: sign of the intervention's shift of the target


@dataclass(frozen=True)
class CeilingResult:
    agreement: float  # share of pairs the test-tuned graph gets right
    correct: int
    pairs: int
    adjacency: torch.Tensor  # (d, d) bool: the test-tuned graph


def sign_pairs(observational: torch.Tensor, conditions: Sequence[Condition], variables: Sequence[str],
               *, smd_min: float = 0.2, dose: str = "quantile") -> SignPairs:
    """Pairs scored by the validation (|SMD| > smd_min, target excluded) with their dose signs.

    observational: (n, d) rows on the modelling scale; dose as in ``validate_interventions``:
    "quantile" (inhibited: down, activated: up) or "condition" (the target's measured mean shift).
    """
    if dose not in ("quantile", "condition"):
        raise ValueError(f"dose must be 'quantile' or 'condition', got {dose!r}")
    mu, sd = observational.mean(0), observational.std(0)
    t_idx, y_idx, obs_sign, dose_sign = [], [], [], []
    for cond in conditions:
        t = list(variables).index(cond.target)
        smd = (cond.values.to(mu.dtype).mean(0) - mu) / sd  # (d,)
        if dose == "quantile":
            ds = -1.0 if cond.kind == "inhibited" else 1.0
        else:
            ds = float(torch.sign(smd[t]))
        for y in range(len(variables)):
            if y != t and abs(float(smd[y])) > smd_min:
                t_idx.append(t), y_idx.append(y), obs_sign.append(float(torch.sign(smd[y]))), dose_sign.append(ds)
    return SignPairs(torch.tensor(t_idx), torch.tensor(y_idx), torch.tensor(obs_sign), torch.tensor(dose_sign))


def _total_effects(adj: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """(d, d) total effects (I - W)^{-1} of the least-squares linear SEM on ``adj`` (cov: (d, d))."""
    d = adj.shape[0]
    W = torch.zeros(d, d, dtype=cov.dtype)
    for j in range(d):
        pa = adj[:, j].nonzero().flatten()
        if pa.numel():
            W[pa, j] = torch.linalg.solve(cov[pa][:, pa], cov[pa, j])
    return torch.linalg.inv(torch.eye(d, dtype=cov.dtype) - W)


def graph_sign_agreement(adj: torch.Tensor, cov: torch.Tensor, pairs: SignPairs) -> int:
    """How many pairs the linear SEM on ``adj`` gets right (a zero effect counts as wrong)."""
    eff = _total_effects(adj, cov)[pairs.target, pairs.outcome] * pairs.dose
    return int((torch.sign(eff) == pairs.observed).sum())


def tuned_sign_ceiling(observational: torch.Tensor, pairs: SignPairs, *, restarts: int = 4, seed: int = 0) -> CeilingResult:
    """Greedy hill-climb over DAGs maximizing the sign agreement with the held-out outcomes.

    First-improvement over single-edge toggles (an addition replaces the reverse edge, so reversals are
    moves), visited in a random order per sweep; ``restarts`` climbs from the empty graph.
    observational: (n, d) rows on the modelling scale. Returns the best climb.
    """
    z = (observational - observational.mean(0)) / observational.std(0)
    cov = torch.cov(z.T.to(torch.float64))
    d = cov.shape[0]
    gen = torch.Generator().manual_seed(seed)
    best: CeilingResult | None = None
    for _ in range(restarts):
        adj = torch.zeros(d, d, dtype=torch.bool)
        cur = graph_sign_agreement(adj, cov, pairs)
        improved = True
        while improved:
            improved = False
            for k in torch.randperm(d * d, generator=gen).tolist():
                i, j = divmod(k, d)
                if i == j:
                    continue
                cand = adj.clone()
                cand[i, j] = not bool(cand[i, j])
                if cand[i, j]:
                    cand[j, i] = False
                    if not bool(is_acyclic(cand[None])[0]):
                        continue
                score = graph_sign_agreement(cand, cov, pairs)
                if score > cur:
                    adj, cur, improved = cand, score, True
        n = int(pairs.target.numel())
        if best is None or cur > best.correct:
            best = CeilingResult(cur / max(n, 1), cur, n, adj)
    assert best is not None
    return best
