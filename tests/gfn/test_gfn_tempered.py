"""A tempered score is the inner score times the power, graph by graph and edge by edge."""
from __future__ import annotations

import pytest
import torch

from theorycov.gfn import BGeScore, enumerate_dags
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.scores.tempered import TemperedScore


def test_tempered_scales_scores_and_deltas() -> None:
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=0)
    inner = BGeScore(data)
    t = TemperedScore(BGeScore(data), 0.25)
    dags = enumerate_dags(4)
    assert torch.allclose(t.log_score(dags), 0.25 * inner.log_score(dags))
    assert torch.allclose(t.delta(dags[:50]).nan_to_num(), 0.25 * inner.delta(dags[:50]).nan_to_num())
    with pytest.raises(ConfigError, match="power"):
        TemperedScore(inner, 0.0)
