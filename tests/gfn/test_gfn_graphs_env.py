"""Graphs and environment: DAG counts, masks never admit a cycle, closures, input errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from theorycov.gfn import (
    BGeScore,
    CyclicGraphError,
    DAGEnv,
    InvalidActionError,
    Reward,
    ShapeError,
    enumerate_dags,
    is_acyclic,
    make_linear_gaussian_er,
    transitive_closure,
)


@pytest.fixture(scope="module")
def env6() -> DAGEnv:
    table, _ = make_linear_gaussian_er(6, 1.0, 50, seed=0)
    return DAGEnv(Reward(BGeScore(table)))


@pytest.mark.parametrize(("d", "count"), [(1, 1), (2, 3), (3, 25), (4, 543), (5, 29281)])
def test_dag_counts(d: int, count: int) -> None:
    dags = enumerate_dags(d)
    assert dags.shape == (count, d, d)
    assert bool(is_acyclic(dags).all())
    assert torch.unique(dags.flatten(1), dim=0).shape[0] == count  # no duplicates


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 40), use_max=st.booleans())
def test_masks_never_admit_a_cycle(env6: DAGEnv, seed: int, steps: int, use_max: bool) -> None:
    """Random valid actions from the mask, 8 graphs at once: every state stays a DAG, closures stay exact."""
    env = DAGEnv(env6.reward, max_parents=2 if use_max else None)
    g = torch.Generator().manual_seed(seed)
    state = env.reset(8)
    for _ in range(steps):
        mask = env.action_mask(state)
        mask[:, -1] = False  # keep adding edges while any is allowed
        stuck = ~mask.any(1)
        mask[stuck, -1] = True
        scores = torch.rand(mask.shape, generator=g).masked_fill(~mask, -1.0)
        state, _ = env.step(state, scores.argmax(1), check=True)
        assert bool(is_acyclic(state.adj).all())
        assert torch.equal(state.closure, transitive_closure(state.adj))
        if use_max:
            assert int(state.adj.sum(1).max()) <= 2
    # every edge the mask forbids (and that is absent) would close a cycle or break the cap
    mask = env.edge_mask(state.adj, state.closure)
    forbidden = (~mask & ~state.adj).nonzero()
    for b, i, j in forbidden[:50].tolist():
        g2 = state.adj[b].clone()
        g2[i, j] = True
        closes_cycle = not bool(is_acyclic(g2)[0])
        over_cap = use_max and int(g2[:, j].sum()) > 2
        assert closes_cycle or over_cap


def test_step_features_match_fresh_computation(env6: DAGEnv) -> None:
    g = torch.Generator().manual_seed(0)
    state = env6.reset(4)
    for _ in range(6):
        mask = env6.action_mask(state)
        mask[:, -1] = False
        acts = torch.rand(mask.shape, generator=g).masked_fill(~mask, -1.0).argmax(1)
        before = env6.reward.log_reward(state.adj)
        state, delta = env6.step(state, acts)
        assert torch.allclose(env6.reward.log_reward(state.adj) - before, delta, atol=1e-9)
    fresh = env6.features(state.adj)
    assert torch.allclose(state.features, fresh, atol=1e-3)


def test_env_input_errors(env6: DAGEnv) -> None:
    cyc = torch.zeros(6, 6, dtype=torch.bool)
    cyc[0, 1] = cyc[1, 2] = cyc[2, 0] = True
    with pytest.raises(CyclicGraphError, match="cycle"):
        env6.from_adjacency(cyc)
    with pytest.raises(ShapeError):
        env6.from_adjacency(torch.zeros(5, 5, dtype=torch.bool))
    state = env6.reset(1)
    state, _ = env6.step(state, torch.tensor([0 * 6 + 1]))
    with pytest.raises(InvalidActionError):
        env6.step(state, torch.tensor([1 * 6 + 0]), check=True)  # 1 -> 0 closes a cycle
    with pytest.raises(InvalidActionError):
        env6.step(state, torch.tensor([0 * 6 + 1]), check=True)  # duplicate edge
