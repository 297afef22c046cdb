"""Posterior metrics: divergences to the exact posterior, edge marginals, E-SHD, AUROC / AUPRC.

Definitions follow Deleu et al. 2022 §5: JSD in nats, edge marginals P(i -> j in G), expected SHD
over samples (a reversed edge counts once), AUROC of the edge marginals against a true graph.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

from theorycov.gfn.errors import ShapeError
from theorycov.gfn.graphs import as_adjacency

__all__ = [
    "kl_divergence",
    "jensen_shannon",
    "edge_marginals",
    "edge_marginals_from_samples",
    "edge_marginal_agreement",
    "expected_shd",
    "expected_num_edges",
    "auroc",
    "auprc",
    "distribution_metrics",
]


def _probs(p: torch.Tensor) -> torch.Tensor:
    p = torch.as_tensor(p, dtype=torch.float64)
    if p.dim() != 1:
        raise ShapeError(f"a distribution must be 1-D, got shape {tuple(p.shape)}")
    return p / p.sum()


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) in nats for distributions over the same list (K,); inf where q = 0 < p."""
    p, q = _probs(p), _probs(q)
    if p.shape != q.shape:
        raise ShapeError(f"distributions differ in length: {p.shape[0]} vs {q.shape[0]}")
    s = p > 0
    if bool((q[s] == 0).any()):
        return float("inf")
    return float((p[s] * (p[s].log() - q[s].log())).sum())


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> float:
    """JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in nats (at most log 2)."""
    p, q = _probs(p), _probs(q)
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def edge_marginals(dags: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """P(i -> j) under a distribution over a graph list: (K, d, d), (K,) -> (d, d) float64."""
    dags = as_adjacency(dags)
    probs = _probs(probs)
    return torch.einsum("k,kij->ij", probs, dags.to(torch.float64))


def edge_marginals_from_samples(samples: torch.Tensor) -> torch.Tensor:
    """Empirical P(i -> j) of samples: (n, d, d) -> (d, d) float64."""
    return as_adjacency(samples).to(torch.float64).mean(0)


def _offdiag(x: torch.Tensor) -> np.ndarray:
    d = x.shape[-1]
    m = ~torch.eye(d, dtype=torch.bool, device=x.device)
    return x[..., m].double().cpu().numpy()


def edge_marginal_agreement(exact: torch.Tensor, approx: torch.Tensor) -> dict[str, float]:
    """Pearson r and RMSE between two (d, d) edge-marginal matrices, over off-diagonal entries."""
    a, b = _offdiag(exact), _offdiag(approx)
    r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"pearson": r, "rmse": float(np.sqrt(np.mean((a - b) ** 2)))}


def _shd(samples: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    truth = truth.to(samples.device)
    diff = samples ^ truth[None]  # (n, d, d)
    # a reversed edge differs in both (i, j) and (j, i); count it once
    rev = diff & diff.transpose(1, 2) & (samples | samples.transpose(1, 2)) & (truth | truth.T)[None]
    return diff.flatten(1).sum(1) - rev.flatten(1).sum(1) // 2


def expected_shd(samples: torch.Tensor, truth: torch.Tensor, probs: torch.Tensor | None = None) -> float:
    """E[SHD(G, G*)] over samples (n, d, d) (weighted by probs (n,) when given) against truth (d, d)."""
    samples = as_adjacency(samples)
    truth = as_adjacency(truth, samples.shape[-1])[0]
    shd = _shd(samples, truth).to(torch.float64)
    return float(shd.mean() if probs is None else (shd * _probs(probs)).sum())


def expected_num_edges(samples: torch.Tensor, probs: torch.Tensor | None = None) -> float:
    """E[|E(G)|] over samples (n, d, d), optionally weighted by probs (n,)."""
    e = as_adjacency(samples).flatten(1).sum(1).to(torch.float64)
    return float(e.mean() if probs is None else (e * _probs(probs)).sum())


def auroc(scores: torch.Tensor, truth: torch.Tensor) -> float:
    """Area under the ROC curve of edge scores (d, d) against a true graph (d, d), off-diagonal entries.

    Mann-Whitney form with mid-ranks for ties.
    """
    s, y = _offdiag(torch.as_tensor(scores)), _offdiag(as_adjacency(truth)[0]).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ShapeError("AUROC needs at least one true edge and one non-edge")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(scores: torch.Tensor, truth: torch.Tensor) -> float:
    """Average precision of edge scores (d, d) against a true graph (d, d), off-diagonal entries."""
    s, y = _offdiag(torch.as_tensor(scores)), _offdiag(as_adjacency(truth)[0]).astype(bool)
    if y.sum() == 0:
        raise ShapeError("AUPRC needs at least one true edge")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    # evaluate precision only at the last index of each tied score block
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    precision = tp[last] / (last + 1)
    recall = tp[last] / y.sum()
    prev_recall = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev_recall) * precision))


def distribution_metrics(dags: torch.Tensor, exact: torch.Tensor, approx: torch.Tensor) -> dict[str, float]:
    """JSD, both KLs and edge-marginal agreement of ``approx`` against ``exact`` over ``dags`` (K, d, d)."""
    em_exact, em_approx = edge_marginals(dags, exact), edge_marginals(dags, approx)
    agree = edge_marginal_agreement(em_exact, em_approx)
    return {
        "jsd": jensen_shannon(exact, approx),
        "kl_exact_approx": kl_divergence(exact, approx),
        "kl_approx_exact": kl_divergence(approx, exact),
        "edge_pearson": agree["pearson"],
        "edge_rmse": agree["rmse"],
    }
