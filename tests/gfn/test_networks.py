"""Expert linear-Gaussian networks: loading, sampling, and exact do() against independent values."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm

from theorycov.gfn.errors import CyclicGraphError, DataError, UnknownVariableError
from theorycov.gfn.graphs import is_acyclic
from theorycov.gfn.networks import LinearGaussianNetwork


def _three_node() -> LinearGaussianNetwork:
    """a -> b -> c and a -> c with hand-chosen coefficients."""
    adj = np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=bool)
    w = np.array([[0.0, 1.5, -0.7], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    return LinearGaussianNetwork(("a", "b", "c"), adj, w, np.array([1.0, -0.5, 0.3]), np.array([0.4, 0.25, 0.9]))


@pytest.mark.parametrize("name, d, edges", [("ecoli70", 46, 70), ("arth150", 107, 150)])
def test_expert_networks_load_as_dags(shared_data: Path, name: str, d: int, edges: int) -> None:
    net = LinearGaussianNetwork.from_json(shared_data / "networks" / f"{name}.json")
    assert net.d == d and net.n_edges == edges
    assert bool(is_acyclic(torch.from_numpy(net.adjacency.copy()))[0])
    assert np.array_equal(net.weights != 0, net.adjacency)  # every fitted arc has a nonzero coefficient
    # the order is topological: every arc goes forward in it
    pos = np.empty(d, dtype=int)
    pos[list(net.order)] = np.arange(d)
    i, j = np.nonzero(net.adjacency)
    assert np.all(pos[i] < pos[j])


def test_ecoli70_coefficients_are_the_files(shared_data: Path) -> None:
    path = shared_data / "networks" / "ecoli70.json"
    net = LinearGaussianNetwork.from_json(path)
    raw = json.loads(path.read_text())["cpds"]
    atpd, ygce, suca = net.index("atpD"), net.index("ygcE"), net.index("sucA")
    assert net.weights[ygce, atpd] == raw["atpD"]["coefficients"]["ygcE"][0] == -0.7252
    assert net.weights[suca, atpd] == 0.2603
    assert net.intercepts[atpd] == -0.0403 and net.noise_var[atpd] == 0.4131


def test_closed_form_do_matches_hand_algebra() -> None:
    net = _three_node()
    g = net.interventional({"b": 2.0})
    # under do(b = 2): a keeps its law, c = 0.3 - 0.7 a + 2 * 2 + e_c
    assert g.mean == pytest.approx([1.0, 2.0, 0.3 - 0.7 * 1.0 + 4.0])
    assert np.diag(g.cov) == pytest.approx([0.4, 0.0, 0.49 * 0.4 + 0.9])
    assert g.cov[0, 2] == pytest.approx(-0.7 * 0.4)
    # observational: b = -0.5 + 1.5 a + e_b, c = 0.3 - 0.7 a + 2 b + e_c; total effect of a on c = -0.7 + 3 = 2.3
    obs = net.observational()
    assert obs.mean == pytest.approx([1.0, 1.0, 0.3 - 0.7 + 2.0 * 1.0])
    assert obs.cov[2, 2] == pytest.approx(2.3**2 * 0.4 + 4.0 * 0.25 + 0.9)
    assert net.total_effects()[0, 2] == pytest.approx(2.3)


def test_interval_probability_matches_monte_carlo_of_the_mutilated_sem() -> None:
    net = _three_node()
    rng = np.random.default_rng(1)
    n = 400_000
    a = 1.0 + rng.standard_normal(n) * np.sqrt(0.4)
    c = 0.3 - 0.7 * a + 2.0 * (-1.0) + rng.standard_normal(n) * np.sqrt(0.9)  # do(b = -1)
    lo, hi = -2.5, -1.0
    mc = np.mean((c > lo) & (c < hi))
    exact = net.prob_between("b", -1.0, "c", lo, hi)
    assert exact == pytest.approx(mc, abs=4 * np.sqrt(mc * (1 - mc) / n))
    assert 0.2 < exact < 0.8  # an informative interval, not a trivial 0 or 1


def test_sampling_matches_the_exact_moments_and_quantiles(shared_data: Path) -> None:
    net = LinearGaussianNetwork.from_json(shared_data / "networks" / "ecoli70.json")
    x = net.sample(100_000, seed=3)
    obs = net.observational()
    se = obs.std / np.sqrt(x.shape[0])
    assert np.all(np.abs(x.mean(0) - obs.mean) < 5 * se)
    assert np.corrcoef(x.T)[np.triu_indices(net.d, 1)] == pytest.approx(
        (obs.cov / np.outer(obs.std, obs.std))[np.triu_indices(net.d, 1)], abs=0.02)
    q05, q95 = net.quantiles([0.05, 0.95])
    below = (x < q05).mean(0)
    above = (x > q95).mean(0)
    assert np.all(np.abs(below - 0.05) < 0.006) and np.all(np.abs(above - 0.05) < 0.006)
    assert np.array_equal(net.sample(50, seed=3), net.sample(50, seed=3))  # a seed fixes the rows
    assert not np.allclose(net.sample(50, seed=3), net.sample(50, seed=4))


def test_do_leaves_non_descendants_alone_and_moves_descendants(shared_data: Path) -> None:
    net = LinearGaussianNetwork.from_json(shared_data / "networks" / "ecoli70.json")
    k = net.index("sucA")
    obs = net.observational()
    high = net.quantiles(0.95)[k]
    g = net.interventional({k: high})
    desc = net.descendants(k)
    other = ~desc
    other[k] = False
    assert desc.sum() > 5
    assert np.allclose(g.mean[other], obs.mean[other]) and np.allclose(np.diag(g.cov)[other], np.diag(obs.cov)[other])
    # each descendant's mean moves by its total effect times the shift of sucA
    t = net.total_effects()
    assert g.mean[desc] == pytest.approx(obs.mean[desc] + t[k, desc] * (high - obs.mean[k]))
    means, var = net.do_moments(k, np.array([high, 0.0]))
    assert means[0] == pytest.approx(g.mean) and var == pytest.approx(np.diag(g.cov))
    assert means[1] == pytest.approx(net.interventional({k: 0.0}).mean)
    # a 95%-quantile interval holds 90% of the observational law, and P is computed per marginal
    q05, q95 = net.quantiles([0.05, 0.95])
    y = net.index("atpG")
    assert obs.prob_between(y, q05[y], q95[y]) == pytest.approx(0.9)
    sd = np.sqrt(g.cov[y, y])
    assert g.prob_between(y, q05[y], q95[y]) == pytest.approx(norm.cdf((q95[y] - g.mean[y]) / sd) - norm.cdf((q05[y] - g.mean[y]) / sd))


def test_bad_networks_fail_loudly() -> None:
    net = _three_node()
    cyc = net.adjacency.copy()
    cyc[2, 0] = True
    with pytest.raises(CyclicGraphError):
        LinearGaussianNetwork(net.names, cyc, net.weights, net.intercepts, net.noise_var)
    w = net.weights.copy()
    w[1, 0] = 0.3  # off the arcs
    with pytest.raises(DataError, match="off the arcs"):
        LinearGaussianNetwork(net.names, net.adjacency, w, net.intercepts, net.noise_var)
    with pytest.raises(UnknownVariableError, match="known: a, b, c"):
        net.index("z")
    sub = net.induced(["a", "c"])
    assert sub.names == ("a", "c") and sub.n_edges == 1 and sub.weights[0, 1] == -0.7
