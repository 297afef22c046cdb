"""Activity interventions: a reagent that changes what a protein does, not the level that is measured.

Flow cytometry measures phospho-abundance; an inhibitor such as U0126 blocks Mek's kinase activity while
measured Mek may even rise (by 4.4 SD in Sachs et al.'s data). In a linear SEM such a reagent replaces the
target's effect on its children: every descendant Y moves by T[X, Y] * (a - E[activity]), with T the total
effects, while the target's own measured level is no prediction of the model (Mooij, Magliacane & Claassen
2020, JCI, treat the reagent as a context variable whose effects are learned from data). For an inhibitor
(a below the usual activity) the predicted direction of Y's shift is -sign(T[X, Y]) whatever the dose, so
sign agreement needs no dose; a graph with no path X ~> Y predicts no shift.

Conditions that pool several reagents are given condition fixed effects (each condition's rows centred on
their own means, the simplest context-variable model: every reagent may shift every protein) before the
graph is learned from the within-condition variation.

Benchmark support: used by bench/guard_sachs_v2.py and its test.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["agreement", "centre_by_condition", "least_squares_total_effects", "posterior_total_effects", "shift_signs"]


def centre_by_condition(values: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """(n, d) values, (n,) labels -> (n, d) each condition's rows centred on their own mean, then the columns
    scaled to unit pooled variance (condition fixed effects)."""
    out = np.asarray(values, dtype=np.float64).copy()
    for c in np.unique(conditions):
        rows = conditions == c
        out[rows] -= out[rows].mean(0)
    return out / out.std(0)


def posterior_total_effects(total: torch.Tensor, log_weight: torch.Tensor) -> torch.Tensor:
    """(N, S, d, d) total effects per graph and parameter draw, (N,) posterior log weights -> (d, d)
    E over the posterior of T (graphs self-normalized by weight, draws averaged)."""
    w = torch.softmax(log_weight.to(torch.float64), 0)
    return (w[:, None, None] * total.to(torch.float64).mean(1)).sum(0)


def least_squares_total_effects(x: np.ndarray, adj: np.ndarray) -> np.ndarray:
    """(n, d) centred data and a (d, d) bool DAG -> (d, d) total effects (I - W)^-1 of the least-squares SEM."""
    d = adj.shape[0]
    w = np.zeros((d, d))
    for j in range(d):
        pa = np.flatnonzero(adj[:, j])
        if len(pa):
            w[pa, j] = np.linalg.lstsq(x[:, pa], x[:, j], rcond=None)[0]
    return np.linalg.inv(np.eye(d) - w)


def shift_signs(total: np.ndarray | torch.Tensor, target: int, kind: str) -> np.ndarray:
    """(d, d) total effects -> (d,) predicted shift direction (+1, -1, 0) of every variable under an activity
    intervention on ``target`` ('inhibited' or 'activated'); the target itself is 0 (not a prediction)."""
    t = np.asarray(total, dtype=np.float64)[target].copy()
    t[target] = 0.0
    direction = -1.0 if kind == "inhibited" else 1.0
    return np.sign(direction * np.where(np.abs(t) < 1e-12, 0.0, t))


def agreement(pred: np.ndarray, smd: np.ndarray, skip: Sequence[int], threshold: float = 0.2) -> tuple[int, int]:
    """(correct, scored): pairs with |SMD| > threshold, excluding ``skip``, whose predicted sign is the shift's."""
    keep = np.abs(smd) > threshold
    keep[list(skip)] = False
    return int((pred[keep] == np.sign(smd[keep])).sum()), int(keep.sum())
