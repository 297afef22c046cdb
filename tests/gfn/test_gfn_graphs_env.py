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


def _class_key(adj: torch.Tensor) -> tuple[bytes, bytes]:
    """(skeleton, v-structures) of one (d, d) DAG: equal keys <=> Markov equivalent (Verma & Pearl 1990)."""
    a = adj.to(torch.bool)
    skel = a | a.T
    # v-structure i -> k <- j with i, j non-adjacent, i < j
    v = a[:, None, :] & a[None, :, :] & ~skel[:, :, None]  # (i, j, k)
    v = torch.triu(v.permute(2, 0, 1).to(torch.int8), diagonal=1).bool()
    return bytes(torch.triu(skel, 1).flatten().tolist()), bytes(v.flatten().tolist())


def test_covered_reversal_walk_reaches_exactly_each_markov_equivalence_class() -> None:
    """At d = 4, from every DAG the covered-edge walk stays inside its Markov equivalence class (same skeleton
    and v-structures, acyclic, equal BGe score) and, with enough steps, visits all of it (Chickering 1995)."""
    from theorycov.gfn import BGeScore, enumerate_dags
    from theorycov.gfn.data import make_linear_gaussian_er
    from theorycov.gfn.graphs import covered_edges, equivalent_walk

    dags = enumerate_dags(4)
    classes: dict[tuple[bytes, bytes], set[bytes]] = {}
    for g in dags:
        classes.setdefault(_class_key(g), set()).add(bytes(g.flatten().tolist()))
    assert len(classes) == 185  # Markov equivalence classes of 4-node DAGs
    walks = equivalent_walk(dags, 600, torch.Generator().manual_seed(0)).reshape(601, dags.shape[0], 4, 4)
    assert bool(is_acyclic(walks.flatten(0, 1)).all())
    score = BGeScore(make_linear_gaussian_er(4, 1.0, 50, seed=1)[0].standardized())
    ll = score.log_score(walks.flatten(0, 1)).reshape(601, -1)
    assert torch.allclose(ll, ll[0:1].expand_as(ll), atol=1e-8)
    for n, g in enumerate(dags):
        seen = {bytes(w.flatten().tolist()) for w in walks[:, n]}
        assert seen == classes[_class_key(g)]
    two = torch.zeros(2, 4, 4, dtype=torch.bool)
    two[0, 0, 1] = two[0, 1, 2] = two[0, 0, 2] = True  # a triangle 0 -> 1 -> 2, 0 -> 2
    two[1, 0, 2] = two[1, 1, 2] = True  # a v-structure 0 -> 2 <- 1
    cov = covered_edges(two)
    assert cov[0].nonzero().tolist() == [[0, 1], [1, 2]]  # pa(2) - {0} = {1} is not pa(0): 0 -> 2 is not covered
    assert not bool(cov[1].any())
