"""Fixtures of the coverage tests: a known three-variable linear SEM, A -> B -> C."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

SEM = Callable[[int, "float | None", int], torch.Tensor]


def _chain_sem(n: int, do_a: float | None, seed: int) -> torch.Tensor:
    """(n, 3) rows of A -> B (+0.9) -> C (-0.8), noise sd 0.4; do_a fixes A (an intervention)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, generator=g, dtype=torch.float64) if do_a is None else torch.full((n,), do_a, dtype=torch.float64)
    b = 0.9 * a + 0.4 * torch.randn(n, generator=g, dtype=torch.float64)
    c = -0.8 * b + 0.4 * torch.randn(n, generator=g, dtype=torch.float64)
    return torch.stack([a, b, c], 1)


@pytest.fixture
def chain_sem() -> SEM:
    return _chain_sem
