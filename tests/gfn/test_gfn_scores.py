"""Scores: interventions, caching paths agree, priors and the external prior hook. Values against
independent references and score equivalence over every class at d = 4: test_scores_independent.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from theorycov.gfn import (
    BDeuScore,
    BGeScore,
    CallablePrior,
    DataError,
    DataTable,
    EdgeCountPrior,
    ErdosRenyiPrior,
    Reward,
    ShapeError,
    UniformPrior,
    make_linear_gaussian_er,
)
from theorycov.gfn.scores.base import LocalScore


def _graph(d: int, edges: list[tuple[int, int]]) -> torch.Tensor:
    g = torch.zeros(d, d, dtype=torch.bool)
    for i, j in edges:
        g[i, j] = True
    return g


def _graphs(d: int, *edge_lists: list[tuple[int, int]]) -> torch.Tensor:
    return torch.stack([_graph(d, e) for e in edge_lists])


@pytest.fixture(scope="module")
def gaussian() -> DataTable:
    table, _ = make_linear_gaussian_er(4, 1.5, 200, seed=3)
    return table


@pytest.fixture(scope="module")
def discrete() -> DataTable:
    rng = np.random.default_rng(1)
    n = 400
    a = rng.integers(0, 2, n)
    b = (a + (rng.random(n) < 0.2)) % 3
    c = (b + rng.integers(0, 2, n)) % 2
    e = rng.integers(0, 3, n)
    return DataTable(np.stack([a, b, c, e], 1), ("A", "B", "C", "E"), arities=(2, 3, 2, 3))


def test_bge_paths_agree(gaussian: DataTable) -> None:
    """Table gather, Schur-complement candidates and generic local scores give the same deltas."""
    table_score = BGeScore(gaussian)
    live = BGeScore(gaussian)
    live.table_max_d = 0
    g = _graphs(4, [], [(0, 1)], [(0, 1), (1, 2), (3, 2)], [(3, 0), (3, 1), (3, 2)])
    d_table = table_score.delta(g)
    d_live = live.delta(g)
    generic = LocalScore._delta_nodes(live, torch.arange(4).repeat(4), g.transpose(1, 2).reshape(-1, 4))
    d_generic = generic.view(4, 4, 4).transpose(1, 2)
    assert torch.allclose(d_table, d_live, atol=1e-9)
    assert torch.allclose(d_live, d_generic, atol=1e-9)
    # and deltas are differences of whole-graph scores
    nxt = g.clone()
    nxt[2, 0, 3] = True
    assert abs(float(live.log_score(nxt)[2] - live.log_score(g)[2] - d_live[2, 0, 3])) < 1e-9


def test_interventional_bge_equals_observational_on_row_subset() -> None:
    table, _ = make_linear_gaussian_er(5, 1.0, 300, seed=7)
    rng = np.random.default_rng(0)
    intervened = rng.random((table.n, table.d)) < 0.3
    inter = BGeScore(DataTable(table.values, table.names, intervened))
    subsets = [[], [1], [0, 2], [1, 3, 4], [0, 1, 2, 3, 4]]
    for j in range(table.d):
        obs = BGeScore(table.rows(~intervened[:, j]))  # the rows usable for node j
        for s in subsets:
            if j in s:
                continue
            parents = torch.zeros(1, table.d, dtype=torch.bool)
            parents[0, s] = True
            node = torch.tensor([j])
            a = inter.local_scores(node, parents)
            b = obs.local_scores(node, parents)
            assert abs(float(a - b)) < 1e-8, (j, s)
    # and it differs from ignoring the interventions
    assert abs(float(inter.log_score(torch.zeros(1, 5, 5, dtype=torch.bool)) - BGeScore(table).log_score(torch.zeros(1, 5, 5, dtype=torch.bool)))) > 1.0


def test_interventional_bdeu_equals_observational_on_row_subset(discrete: DataTable) -> None:
    rng = np.random.default_rng(2)
    intervened = rng.random((discrete.n, discrete.d)) < 0.25
    inter = BDeuScore(DataTable(discrete.values, discrete.names, intervened, discrete.arities))
    for j in range(discrete.d):
        obs = BDeuScore(discrete.rows(~intervened[:, j]))
        parents = torch.zeros(1, discrete.d, dtype=torch.bool)
        parents[0, (j + 1) % discrete.d] = True
        node = torch.tensor([j])
        assert abs(float(inter.local_scores(node, parents) - obs.local_scores(node, parents))) < 1e-8


def test_score_input_errors(gaussian: DataTable, discrete: DataTable) -> None:
    with pytest.raises(DataError):
        BGeScore(discrete)
    with pytest.raises(DataError):
        BDeuScore(gaussian)
    with pytest.raises(ShapeError):
        BGeScore(gaussian).log_score(torch.zeros(2, 3, 3, dtype=torch.bool))


def test_priors_and_external_prior_hook(gaussian: DataTable) -> None:
    g = _graphs(4, [], [(0, 1)], [(0, 1), (1, 2)])
    assert torch.equal(UniformPrior().log_prob(g), torch.zeros(3, dtype=torch.float64))
    beta = EdgeCountPrior(0.5).log_prob(g)
    assert torch.allclose(beta, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64) * np.log(0.5))
    er = ErdosRenyiPrior(4, 1.0)
    assert torch.allclose(er.delta(g)[0, 0, 1], er.log_prob(g)[1] - er.log_prob(g)[0])

    # a non-decomposable prior: only the empty graph and graphs with edge 0->1 are favoured
    def mixture(adj: torch.Tensor) -> torch.Tensor:
        return torch.where(adj[:, 0, 1] | (adj.flatten(1).sum(1) == 0), 0.0, -3.0).double()

    score = BGeScore(gaussian)
    reward = Reward(score, CallablePrior(mixture))
    src, dst = torch.tensor([0, 2, 3]), torch.tensor([1, 3, 0])
    nxt = g.clone()
    nxt[torch.arange(3), src, dst] = True
    expected = reward.log_reward(nxt) - reward.log_reward(g)
    assert torch.allclose(reward.delta_edges(g, src, dst), expected, atol=1e-10)
    assert not reward.prior.decomposable


def test_bge_block_deltas_match_generic_at_d30() -> None:
    """The parent-block Schur path (rows with 0 to 12 parents, padded to the largest set) against d + 1 local
    scores per row, and an empty batch."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((150, 30)) @ rng.standard_normal((30, 30))
    score = BGeScore(DataTable(x, tuple(f"v{i}" for i in range(30))))
    score.table_max_d = 0
    nodes = torch.from_numpy(rng.integers(0, 30, 64))
    parents = torch.from_numpy(rng.random((64, 30)) < rng.random((64, 1)) * 0.4)
    parents[torch.arange(64), nodes] = False
    parents[0] = False  # a row with no parents beside rows with many
    assert int(parents.sum(1).max()) >= 8
    fast = score._delta_nodes(nodes, parents)
    slow = LocalScore._delta_nodes(score, nodes, parents)
    assert torch.allclose(fast, slow, atol=1e-8)
    assert score._delta_nodes(nodes[:0], parents[:0]).shape == (0, 30)


@pytest.mark.parametrize("d", [40, 100])
def test_delta_cache_rows_equal_direct_computation(d: int) -> None:
    """The candidate-delta cache (exact keys at d = 40, verified hashes at d = 100) returns every row the direct
    computation gives, on first sight, on repeats inside a batch and on later hits; with every key forced to
    collide it still never hands one set another's row."""
    from theorycov.gfn.scores.cache import RowCache

    rng = np.random.default_rng(3)
    x = rng.standard_normal((120, d))
    score = BGeScore(DataTable(x, tuple(f"v{i}" for i in range(d))))
    nodes = torch.from_numpy(rng.integers(0, d, 48))
    parents = torch.from_numpy(rng.random((48, d)) < 0.05)
    parents[torch.arange(48), nodes] = False
    nodes, parents = torch.cat([nodes, nodes[:16]]), torch.cat([parents, parents[:16]])  # repeats in the batch
    direct = score._delta_nodes(nodes, parents)
    cache = RowCache(d, d, capacity=1000, recent=8)
    first = cache.rows(nodes, parents, score._delta_nodes)
    again = cache.rows(nodes, parents, score._delta_nodes)
    assert torch.allclose(first, direct, atol=1e-10) and torch.allclose(again, direct, atol=1e-10)
    assert cache.misses == 48 and cache.hits == 48
    small = RowCache(d, d, capacity=30, recent=4)  # the slab fills: dropped, refilled, never wrong
    for part in (slice(0, 20), slice(0, 64), slice(0, 64)):
        assert torch.allclose(small.rows(nodes[part], parents[part], score._delta_nodes), direct[part], atol=1e-10)
    if d > 57:
        clash = RowCache(d, d, capacity=1000)
        keys = clash.keys
        clash.keys = lambda n, p: (torch.zeros_like(keys(n, p)[0]), keys(n, p)[1])  # type: ignore[method-assign]
        for _ in range(2):
            assert torch.allclose(clash.rows(nodes, parents, score._delta_nodes), direct, atol=1e-10)
