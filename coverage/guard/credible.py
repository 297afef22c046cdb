"""A theory's upper credible risk: the cautious reading of what a theory predicts, over its parameters.

A signed theory h fixes structure and signs, not magnitudes. Its posterior predictive
P(H | do(a), h, D) = E[P(H | do(a), G, theta) | h, D] (coverage.guard.bounds) is a mean over the (G, theta)
consistent with h: an unbiased estimate of what the theory predicts, and therefore below the truth about
half the time even when h is true, since n rows fix the weights only up to the parameter posterior's width.
Bengio et al. 2024 (arXiv 2408.05284, §3-4) bound the risk by the worst *plausible* fully specified
hypothesis; with continuous parameters inside a theory, the plausible parameters of h are its credible
region, and the worst of them at level q is the q-quantile of P(H | do(a), G, theta) over
(G, theta) ~ P(. | h, D). That is what this module computes: per theory, the weighted q-quantile of the
harm-model draws, each draw weighing w_h(G) / (draws of G consistent with h's signs).

With q = 1 - delta / 2 and refutation at delta / 2 (GuardConfig.theory_level = "1-delta/2", the default) the
theory-level and the parameter-level cautions share one confidence by the union bound: the human bound then
blocks when a plausible theory, with parameters the data leave plausible, predicts harm, and a true theory is
kept and read at or above the truth with probability >= 1 - delta ("1-delta" spends delta on each: 1 - 2 delta).
"""
from __future__ import annotations

import torch

__all__ = ["theory_quantile_risks"]


def theory_quantile_risks(draws: torch.Tensor, weights: torch.Tensor, consistent: torch.Tensor | None, level: float) -> torch.Tensor:
    """(H,) the ``level``-quantile of each theory's risk over its (graph, parameter draw) pairs.

    Args:
        draws: (N, S) P(H | do(a), G_n, theta_s) (``Guard.harm_draws``).
        weights: (N, H) each theory's normalized graph weights (``TheoryTable.weights``; columns sum to 1 or 0).
        consistent: (N, S, H) bool, draw s of graph n agrees with h's signs (None: every draw does).
        level: in [0, 1]; 0.5 is the median, 1 the largest draw with positive weight.

    A theory with no weight gets nan (as its mean risk does).
    """
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"a quantile level lies in [0, 1], got {level}")
    n, s = draws.shape
    h = weights.shape[1]
    c = torch.ones(n, s, h, dtype=torch.float64) if consistent is None else consistent.to(torch.float64)
    mass = weights.to(torch.float64)[:, None, :] * c / c.sum(1, keepdim=True).clamp_min(1.0)  # (N, S, H)
    values = draws.reshape(-1).to(torch.float64)
    order = torch.argsort(values)
    cum = mass.reshape(n * s, h)[order].cumsum(0)  # (N S, H) in increasing risk
    total = cum[-1]
    # the first position whose cumulative mass reaches level * total (a tiny slack keeps level 1 inside)
    target = (level * total - 1e-12 * total.clamp_min(1e-300))[None, :]
    idx = (cum < target).sum(0).clamp(max=n * s - 1)
    out = values[order][idx]
    return torch.where(total > 0, out, torch.full_like(out, float("nan")))
