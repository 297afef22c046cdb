"""A tempered (power) likelihood: log P_eta(D | G) = eta * log P(D | G), 0 < eta <= 1.

The generalized-Bayes answer to a misspecified likelihood (Grünwald & van Ommen 2017, "Inconsistency of
Bayesian inference for misspecified linear models, and a proposal for repairing it"; Holmes & Walker
2017). Real data such as the Sachs cells are neither linear nor Gaussian, so the exact BGe posterior over
853 cells piles all its mass on one graph, hundreds of nats ahead of the rest; eta < 1 acts like
eta * n effective rows. The choice of eta is the user's and is recorded with every run.
"""
from __future__ import annotations

import torch

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.scores.base import LocalScore

__all__ = ["TemperedScore"]


class TemperedScore(LocalScore):
    """``power`` times the local scores of ``inner`` (so every delta and cache scales with it)."""

    def __init__(self, inner: LocalScore, power: float) -> None:
        if not 0.0 < power <= 1.0:
            raise ConfigError(f"likelihood power must be in (0, 1], got {power}")
        super().__init__(inner.d, inner.names)
        self.inner, self.power = inner, float(power)
        self.device = inner.device

    def to(self, device: str | torch.device) -> LocalScore:
        self.inner.to(device)
        return super().to(device)

    def local_scores(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        return self.power * self.inner.local_scores(nodes, parents)
