"""Validation against interventional outcomes on a known SEM: the exact guard gets every sign right
and flags the real harm; a wrong dose choice is refused."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from theorycov.coverage.guard.guard import Guard
from theorycov.coverage.guard.validation import Condition, validate_interventions
from theorycov.gfn import BGeScore, DataTable, Reward, enumerate_dags




def test_exact_guard_predicts_a_known_intervention(chain_sem: Callable[..., torch.Tensor]) -> None:
    obs = chain_sem(2000, None, 0)
    table = DataTable(obs.numpy(), ("A", "B", "C"))
    dags = enumerate_dags(3)
    lr = Reward(BGeScore(table)).log_reward(dags)
    # the data cannot orient the chain; keep the DAGs in which A is a root (what an experimenter knows)
    keep = ~dags[:, :, 0].any(1)
    guard = Guard(["A", "B", "C"], obs, None, dags[keep], lr[keep], lr[keep], exact=True)
    cells = chain_sem(500, 3.0, 1)  # do(A = 3): B up by 2.7, C down by 2.2 (far outside the band)
    rep = validate_interventions(guard, [Condition("boost", "A", "activated", cells)], dose="condition")
    m = rep.metrics["posterior"]
    assert m["sign_agreement"] == 1.0 and m["n_shifted"] == 2
    assert m["real_harms"] == 2 and m["missed_harms"] == 0
    assert {p.outcome: p.smd > 0 for p in rep.pairs} == {"B": True, "C": False}
    with pytest.raises(ValueError, match="dose"):
        validate_interventions(guard, [], dose="guess")
