"""coverage.guard.credible: a theory's upper credible risk against a brute-force expansion of its draws."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from theorycov.coverage.guard.credible import theory_quantile_risks


def _brute(draws: np.ndarray, w: np.ndarray, c: np.ndarray, level: float) -> float:
    """The level-quantile of the discrete law putting w_n / (consistent draws of n) on each consistent draw."""
    vals, mass = [], []
    for n in range(draws.shape[0]):
        k = c[n].sum()
        for s in range(draws.shape[1]):
            if c[n, s] and k:
                vals.append(draws[n, s])
                mass.append(w[n] / k)
    order = np.argsort(vals, kind="stable")
    cum = np.cumsum(np.asarray(mass)[order])
    return float(np.asarray(vals)[order][np.searchsorted(cum, level * cum[-1] - 1e-12 * cum[-1])])


@pytest.mark.parametrize("level", [0.1, 0.5, 0.9, 1.0])
def test_quantiles_match_the_expanded_law(level: float) -> None:
    g = torch.Generator().manual_seed(0)
    n, s, h = 7, 5, 3
    draws = torch.rand(n, s, generator=g, dtype=torch.float64)
    w = torch.rand(n, h, generator=g, dtype=torch.float64)
    w[2, 1] = 0.0  # a graph outside theory 1
    w = w / w.sum(0)
    c = torch.rand(n, s, h, generator=g) < 0.6
    c[:, :, 2] = True  # an unsigned theory: every draw counts
    got = theory_quantile_risks(draws, w, c, level)
    for k in range(h):
        assert float(got[k]) == pytest.approx(_brute(draws.numpy(), w[:, k].numpy(), c[:, :, k].numpy(), level))
    # level 1 is the largest draw with weight; the median of one graph's 5 equal draws is their middle one
    top = theory_quantile_risks(draws, w, c, 1.0)
    assert float(top[2]) == pytest.approx(float(draws.max()))
    one = torch.zeros(n, 1, dtype=torch.float64)
    one[4, 0] = 1.0
    assert float(theory_quantile_risks(draws, one, None, 0.5)[0]) == pytest.approx(float(draws[4].median()))


def test_a_theory_without_weight_gets_nan_and_bad_levels_are_refused() -> None:
    draws = torch.rand(3, 2, dtype=torch.float64)
    w = torch.zeros(3, 2, dtype=torch.float64)
    w[0, 0] = 1.0
    out = theory_quantile_risks(draws, w, None, 0.9)
    assert torch.isfinite(out[0]) and torch.isnan(out[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        theory_quantile_risks(draws, w, None, 1.5)
