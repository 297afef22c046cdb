"""Activity interventions (coverage.guard.activity): predicted directions from total effects, condition fixed
effects, least-squares total effects of a known chain."""
from __future__ import annotations

import numpy as np
import torch

from theorycov.coverage.guard.activity import agreement, centre_by_condition, least_squares_total_effects, posterior_total_effects, shift_signs


def test_chain_directions_and_least_squares() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    b = 0.8 * a + 0.5 * rng.normal(size=5000)
    c = -0.6 * b + 0.5 * rng.normal(size=5000)
    x = np.c_[a, b, c]
    adj = np.zeros((3, 3), dtype=bool)
    adj[0, 1] = adj[1, 2] = True
    t = least_squares_total_effects(x - x.mean(0), adj)
    assert abs(t[0, 2] - 0.8 * -0.6) < 0.03 and abs(t[0, 1] - 0.8) < 0.03
    # inhibiting A lowers B and raises C; the target itself is not a prediction; nothing is upstream of A
    assert shift_signs(t, 0, "inhibited").tolist() == [0.0, -1.0, 1.0]
    assert shift_signs(t, 2, "inhibited").tolist() == [0.0, 0.0, 0.0]
    assert shift_signs(t, 0, "activated").tolist() == [0.0, 1.0, -1.0]
    assert agreement(np.array([0.0, -1.0, 1.0]), np.array([3.0, -0.5, 0.1]), [0]) == (1, 1)


def test_fixed_effects_remove_condition_shifts() -> None:
    x = np.r_[np.zeros((10, 2)), np.full((10, 2), 5.0)] + np.random.default_rng(1).normal(size=(20, 2))
    labels = np.array(["a"] * 10 + ["b"] * 10)
    z = centre_by_condition(x, labels)
    assert np.allclose(z[labels == "a"].mean(0), 0) and np.allclose(z[labels == "b"].mean(0), 0) and np.allclose(z.std(0), 1)


def test_posterior_total_effects_weigh_graphs() -> None:
    total = torch.zeros(2, 3, 2, 2, dtype=torch.float64)
    total[0, :, 0, 1], total[1, :, 0, 1] = 1.0, -1.0
    lw = torch.log(torch.tensor([0.75, 0.25], dtype=torch.float64))
    assert abs(float(posterior_total_effects(total, lw)[0, 1]) - 0.5) < 1e-12
