"""The amortized marginalizer learns the guard's posterior risk on held-out queries."""
from __future__ import annotations

import pytest
import torch

from theorycov.coverage.guard.amortized import AmortizedConfig, AmortizedRisk
from theorycov.coverage.guard.guard import Guard
from theorycov.gfn import BGeScore, Reward, enumerate_dags
from theorycov.gfn.data import make_linear_gaussian_er


@pytest.mark.slow
def test_amortized_error_is_small_and_measured() -> None:
    data, _ = make_linear_gaussian_er(4, 1.0, 200, seed=3)
    x = torch.as_tensor(data.values)
    x = (x - x.mean(0)) / x.std(0)
    dags = enumerate_dags(4)
    lr = Reward(BGeScore(data)).log_reward(dags)
    guard = Guard(list(data.names), x, None, dags, lr, lr, exact=True)
    model = AmortizedRisk(guard, AmortizedConfig(steps=1500))
    model.fit(guard, n_train=1200)
    report = model.evaluate(guard, n_test=150)
    assert report["abs_err_mean"] < 0.03, report
    # an untrained network is far worse: the test can fail
    untrained = AmortizedRisk(guard, AmortizedConfig(seed=1)).evaluate(guard, n_test=150)
    assert untrained["abs_err_mean"] > 2 * report["abs_err_mean"]
