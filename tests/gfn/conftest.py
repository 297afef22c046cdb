"""Fixtures shared by the GFlowNet tests."""
from __future__ import annotations

import pytest

from theorycov.gfn import BGeScore, Reward, make_linear_gaussian_er


@pytest.fixture(scope="module")
def reward3() -> Reward:
    """BGe on 100 rows of a 3-node linear-Gaussian ER graph (25 DAGs): small enough for exact checks."""
    table, _ = make_linear_gaussian_er(3, 1.0, 100, seed=1)
    return Reward(BGeScore(table))
