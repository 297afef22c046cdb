"""Plausible sets M_alpha for the cautious (Prop. 4.6) risk estimate, two rules side by side.

Bengio et al. 2024 (arXiv 2408.05284, §4, Prop. 4.6) bound the true theory's harm probability by the
largest harm probability over a set M_alpha of plausible theories. Two rules are in use:

- ``ratio`` (bounds.py today): theta is in M_alpha when P(theta|D) >= alpha * max_theta' P(theta'|D);
- ``cumulative`` (the paper's code, saifh-github/conservative-bayesian-public @ a14fdc9,
  ``agents/guardrails.py: NonIidGuardrail.m_alpha``): rank theories by posterior, and theta is in M_alpha
  when P(theta|D) >= alpha * (sum of the posteriors ranked at or above theta).

Both sets contain {theta : P(theta|D) >= alpha} (the cumulative sum and the maximum are at most 1), which is
what the proof needs: by Ville's inequality P(theta*|D_t) >= delta P(theta*) for all t with probability
>= 1 - delta, so for alpha <= delta P(theta*) the true theory stays in both sets. The cumulative set is a
subset of the ratio set (the sum at or above theta is at least the maximum), so it is the less cautious of
the two under the same guarantee. Ties: the paper's code sorts with torch.sort, so among tied theories some
are in and some out depending on how the sort happened to order them. ``ties="first"`` (default) ranks each
theory first among its equals (the mass strictly above it plus its own): tied theories are in or out
together, the set is the union of the code's sets over every tie order (never empty: the maximum always
belongs) and does not depend on the order of the input; ``ties="index"`` is the code's rule with a stable
sort (lower index ranks first). Posterior ties are common where data cannot tell theories apart (in the
exploding bandit every weight vector that agrees on the pulled arms' features has the same posterior).

Both rules are scale-free: unnormalized log posteriors (log R) give the same sets as normalized ones.
"""
from __future__ import annotations

import math

import torch

__all__ = ["plausible_ratio", "plausible_cumulative", "cautious_risk", "RULES"]

RULES = ("ratio", "cumulative")


def plausible_ratio(log_post: torch.Tensor, alpha: float) -> torch.Tensor:
    """(..., N) log posteriors -> (..., N) bool: log P >= log alpha + max log P (per leading index)."""
    _check_alpha(alpha)
    top = log_post.max(dim=-1, keepdim=True).values
    return log_post >= top + math.log(alpha)


def plausible_cumulative(log_post: torch.Tensor, alpha: float, *, ties: str = "first") -> torch.Tensor:
    """(..., N) log posteriors -> (..., N) bool: the paper code's M_alpha (module docstring).

    The cumulative mass at theta is, with ``ties="first"``, the mass of the theories strictly above theta plus
    theta's own; with ``ties="index"``, the mass of theta and the theories before it in a stable descending sort.
    """
    _check_alpha(alpha)
    if ties not in ("first", "index"):
        raise ValueError(f"ties must be 'first' or 'index', got {ties!r}")
    lp = log_post.to(torch.float64)
    top = lp.max(dim=-1, keepdim=True).values
    w = torch.exp(lp - torch.where(torch.isfinite(top), top, torch.zeros_like(top)))  # (..., N) posteriors / max
    order = torch.sort(lp, dim=-1, descending=True, stable=True)
    w_sorted = torch.gather(w, -1, order.indices)  # (..., N)
    cum = torch.cumsum(w_sorted, dim=-1)  # (..., N) mass at or before each sorted position
    if ties == "first":
        vals = order.values
        pos = torch.arange(vals.shape[-1], device=lp.device).expand_as(vals)
        is_start = torch.ones_like(vals, dtype=torch.bool)
        is_start[..., 1:] = vals[..., 1:] != vals[..., :-1]
        run_start = torch.cummax(torch.where(is_start, pos, torch.zeros_like(pos)), dim=-1).values  # (..., N)
        above = torch.gather(cum - w_sorted, -1, run_start)  # mass strictly above the run of equal values
        cum = above + w_sorted
    keep_sorted = (w_sorted >= alpha * cum) & (w_sorted > 0)
    keep = torch.zeros_like(keep_sorted)
    keep.scatter_(-1, order.indices, keep_sorted)
    return keep


def cautious_risk(p: torch.Tensor, log_post: torch.Tensor, alpha: float, *, rule: str = "ratio",
                  ties: str = "first") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prop. 4.6 estimate: max of p over M_alpha.

    Args:
        p: (..., N) harm probabilities per theory; log_post: (..., N) or broadcastable log posteriors.
        alpha: plausibility level in (0, 1]; rule: 'ratio' or 'cumulative'.
    Returns:
        risk (...,), index of the maximizing theory (...,), |M_alpha| (...,).
    """
    if rule not in RULES:
        raise ValueError(f"unknown plausible-set rule {rule!r}; choose one of {', '.join(RULES)}")
    member = plausible_ratio(log_post, alpha) if rule == "ratio" else plausible_cumulative(log_post, alpha, ties=ties)
    member = member.expand(p.shape) if member.shape != p.shape else member
    masked = torch.where(member, p.to(torch.float64), torch.full(p.shape, -1.0, dtype=torch.float64, device=p.device))
    risk, idx = masked.max(dim=-1)
    return risk, idx, member.sum(dim=-1)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
