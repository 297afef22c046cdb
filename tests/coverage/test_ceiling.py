"""The test-tuned sign ceiling: exact on a known SEM, and bounded where outcomes contradict each other."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from theorycov.coverage.guard.ceiling import graph_sign_agreement, sign_pairs, tuned_sign_ceiling
from theorycov.coverage.guard.validation import Condition

NAMES = ["A", "B", "C"]




def test_true_graph_gets_every_sign_and_the_climb_finds_it(chain_sem: Callable[..., torch.Tensor]) -> None:
    obs = chain_sem(2000, None, 0)
    pairs = sign_pairs(obs, [Condition("low", "A", "inhibited", chain_sem(400, -2.0, 1))], NAMES)
    assert pairs.target.tolist() == [0, 0] and pairs.observed.tolist() == [-1.0, 1.0]  # B down, C up
    cov = torch.cov(((obs - obs.mean(0)) / obs.std(0)).T)
    chain = torch.tensor([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.bool)
    assert graph_sign_agreement(chain, cov, pairs) == 2
    assert graph_sign_agreement(torch.zeros(3, 3, dtype=torch.bool), cov, pairs) == 0  # no effect is no sign
    res = tuned_sign_ceiling(obs, pairs, restarts=2)
    assert res.correct == 2 and res.agreement == 1.0


def test_contradictory_outcomes_cap_the_ceiling(chain_sem: Callable[..., torch.Tensor]) -> None:
    # the same reagent direction on A, once B went down and once up: no graph can get both right
    obs = chain_sem(2000, None, 0)
    down = chain_sem(400, -2.0, 1)
    up = down.clone()
    up[:, 1] = -down[:, 1]
    pairs = sign_pairs(obs, [Condition("x", "A", "inhibited", down), Condition("y", "A", "inhibited", up)], NAMES, smd_min=0.2)
    b_pairs = int((pairs.outcome == 1).sum())
    assert b_pairs == 2
    res = tuned_sign_ceiling(obs, pairs, restarts=3)
    assert res.correct == res.pairs - 1  # everything but one of the two contradictory B pairs


def test_bad_dose_is_refused(chain_sem: Callable[..., torch.Tensor]) -> None:
    with pytest.raises(ValueError, match="dose"):
        sign_pairs(chain_sem(10, None, 0), [], NAMES, dose="guess")
