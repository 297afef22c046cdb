"""BGe's Normal-Wishart prior and the per-node sufficient statistics, in one place.

The BGe score (:mod:`theorycov.gfn.scores.bge`) and the guard's conjugate harm model
(:mod:`theorycov.coverage.guard.harm`) must agree on what the data say about a graph, so both read the
prior and the statistics from here rather than re-deriving them (Geiger & Heckerman 2002, §4; Kuipers,
Moffa & Heckerman 2014, eq. 2; DAG-GFlowNet's parameterization, Deleu et al. 2022 §5.1):

- prior mean 0 with pseudo-count alpha_mu, Wishart degrees of freedom alpha_w (default d + 2, must exceed
  d - 1), precision scale T = t I with t = alpha_mu (alpha_w - d - 1) / (alpha_mu + 1);
- node j is fitted on the rows where it was not intervened on (perfect interventions cut its mechanism;
  Cooper & Yoo 1999): their count n_j, their means and their centred Gram matrix. Rows differ between
  nodes only through the intervention mask, so each distinct mask is computed once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theorycov.gfn.errors import DataError

__all__ = ["BGePrior", "NodeStatistics", "node_statistics"]


@dataclass(frozen=True)
class BGePrior:
    """BGe's Normal-Wishart hyper-parameters for d variables (alpha_w None: d + 2)."""

    d: int
    alpha_mu: float = 1.0
    alpha_w: float | None = None

    def __post_init__(self) -> None:
        alpha_w = float(self.d + 2) if self.alpha_w is None else float(self.alpha_w)
        if alpha_w <= self.d - 1:
            raise DataError(f"alpha_w must exceed d - 1 = {self.d - 1}, got {alpha_w}")
        object.__setattr__(self, "alpha_w", alpha_w)
        object.__setattr__(self, "alpha_mu", float(self.alpha_mu))

    @property
    def t(self) -> float:
        """The prior precision scale T = t I (1 when alpha_w <= d + 1, where the formula degenerates)."""
        aw = float(self.alpha_w)  # type: ignore[arg-type]
        return self.alpha_mu * (aw - self.d - 1) / (self.alpha_mu + 1) if aw > self.d + 1 else 1.0

    def noise_shape(self, k: int) -> float:
        """Prior inverse-gamma shape of a node's noise variance with k parents: (alpha_w - d + k + 1) / 2."""
        return (float(self.alpha_w) - self.d + k + 1) / 2.0  # type: ignore[arg-type]


@dataclass(frozen=True)
class NodeStatistics:
    """Per node j: rows (d, n) bool it is fitted on, n_rows (d,), means (d, d) (row j: the column means of
    those rows) and centred Gram matrices grams (d, d, d) (grams[j] = Xc^T Xc over those rows)."""

    rows: np.ndarray
    n_rows: np.ndarray
    means: np.ndarray
    grams: np.ndarray


def node_statistics(values: np.ndarray, intervened: np.ndarray | None = None) -> NodeStatistics:
    """Statistics of (n, d) data with an (n, d) bool perfect-intervention mask (None: observational)."""
    x = np.asarray(values, dtype=np.float64)
    n, d = x.shape
    mask = np.zeros((n, d), dtype=bool) if intervened is None else np.asarray(intervened, dtype=bool)
    rows, n_rows = np.empty((d, n), dtype=bool), np.empty(d)
    means, grams = np.zeros((d, d)), np.zeros((d, d, d))
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    for j in range(d):
        keep = ~mask[:, j]
        key = np.packbits(keep).tobytes()
        if key not in cache:
            sub = x[keep]
            mean = sub.mean(0) if len(sub) else np.zeros(d)
            xc = sub - mean
            cache[key] = (mean, xc.T @ xc)
        rows[j], n_rows[j] = keep, keep.sum()
        means[j], grams[j] = cache[key]
    return NodeStatistics(rows, n_rows, means, grams)
