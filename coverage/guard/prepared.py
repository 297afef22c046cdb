"""Per-graph quantities the harm model caches for queries, and the queries themselves.

See :mod:`theorycov.coverage.guard.harm` for the model: with T the total effects, m the observational means
and V = T^T diag(s^2) T the observational covariance of each parameter draw, a query do(X_k = x) or a shift
of X_k needs six gathers per graph and draw, no linear solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["HarmModelError", "PreparedGraphs"]


class HarmModelError(ValueError):
    """Bad input to the harm model (shapes, cyclic graphs, unknown variables, an ill-posed query)."""


@dataclass(frozen=True)
class PreparedGraphs:
    """Cached per-graph quantities; shapes: total (N, S, d, d), intercept (N, S, d), noise_var (N, S, d),
    weight_mean (N, d, d) posterior-mean edge weights, adj (N, d, d) bool."""

    total: torch.Tensor
    intercept: torch.Tensor
    noise_var: torch.Tensor
    weight_mean: torch.Tensor
    adj: torch.Tensor
    mean_obs: torch.Tensor  # (N, S, d) observational means
    cov: torch.Tensor  # (N, S, d, d) observational covariance
    sign_holds: torch.Tensor | None = None  # (N, S, K) bool: signed constraint k holds in draw s (coverage.signs)

    def __len__(self) -> int:
        return self.total.shape[0]

    def subset(self, idx: torch.Tensor) -> "PreparedGraphs":
        return PreparedGraphs(self.total[idx], self.intercept[idx], self.noise_var[idx], self.weight_mean[idx], self.adj[idx],
                              self.mean_obs[idx], self.cov[idx], None if self.sign_holds is None else self.sign_holds[idx])

    def moments(self, target: int, outcome: int, *, value: float | None = None, shift: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of X_outcome under do(X_target = value) or X_target += shift.

        With T the total effects, m the observational means and V = T^T diag(s^2) T the observational
        covariance, cutting the paths into k (module docstring) gives, for k != y,
            E[y | do(k = x)] = m_y + T[k, y] (x - m_k),   Var = V_yy - 2 T[k, y] V_ky + T[k, y]^2 V_kk,
        and a shift keeps the variance V_yy and moves the mean by T[k, y] delta: six gathers per query.
        Returns: mean (N, S), var (N, S).
        """
        if (value is None) == (shift is None):
            raise HarmModelError("give exactly one of value (do(X = value)) or shift (X := X + shift)")
        m_y = self.mean_obs[:, :, outcome]
        v_yy = self.cov[:, :, outcome, outcome]
        if target == outcome:
            if value is not None:
                return torch.full_like(m_y, value), torch.zeros_like(v_yy)
            return m_y + shift, v_yy
        t_ky = self.total[:, :, target, outcome]  # (N, S)
        if value is not None:
            mean = m_y + t_ky * (value - self.mean_obs[:, :, target])
            var = v_yy - 2.0 * t_ky * self.cov[:, :, target, outcome] + t_ky**2 * self.cov[:, :, target, target]
            return mean, var.clamp_min(0.0)
        return m_y + t_ky * shift, v_yy

    def prob_draws(self, target: int, outcome: int, low: float, high: float, *, value: float | None = None, shift: float | None = None,
                   outside: bool = False) -> torch.Tensor:
        """P(low < X_outcome < high) (or outside that interval) under the action, per graph and draw: (N, S)."""
        mean, var = self.moments(target, outcome, value=value, shift=shift)
        sd = var.clamp_min(1e-12).sqrt()
        norm = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64))
        p_in = norm.cdf((high - mean) / sd) - norm.cdf((low - mean) / sd)  # (N, S)
        return (1.0 - p_in if outside else p_in).clamp(0.0, 1.0)

    def prob(self, target: int, outcome: int, low: float, high: float, *, value: float | None = None, shift: float | None = None, outside: bool = False) -> torch.Tensor:
        """:meth:`prob_draws` averaged over the draws: (N,) float64, one probability per graph."""
        return self.prob_draws(target, outcome, low, high, value=value, shift=shift, outside=outside).mean(-1)
