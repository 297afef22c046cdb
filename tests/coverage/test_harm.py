"""The harm model's closed-form interventional moments against direct linear algebra and simulation."""
from __future__ import annotations

import pytest
import torch

from theorycov.coverage.guard.harm import HarmModel, HarmModelConfig, HarmModelError


def _chain_data(n: int = 4000, seed: int = 0) -> torch.Tensor:
    """x0 -> x1 -> x2 with weights 0.8 and -1.5, plus x3 independent; columns 0..3."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    x1 = 0.8 * x0 + 0.5 * torch.randn(n, generator=g, dtype=torch.float64) + 1.0
    x2 = -1.5 * x1 + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    x3 = torch.randn(n, generator=g, dtype=torch.float64)
    return torch.stack([x0, x1, x2, x3], 1)


def _adj(edges: list[tuple[int, int]], d: int = 4) -> torch.Tensor:
    a = torch.zeros(1, d, d, dtype=torch.bool)
    for i, j in edges:
        a[0, i, j] = True
    return a


def test_moments_match_direct_solve() -> None:
    data = _chain_data()
    model = HarmModel(data, config=HarmModelConfig(n_draws=4, seed=3))
    adj = _adj([(0, 1), (1, 2), (0, 2), (3, 2)])
    prep = model.prepare(adj)
    for target, outcome, value in [(1, 2, 2.0), (0, 2, -1.0), (3, 2, 0.5), (2, 0, 1.0)]:
        mean, var = prep.moments(target, outcome, value=value)
        for s in range(4):
            b = torch.linalg.inv(prep.total[0, s]) * -1 + torch.eye(4, dtype=torch.float64)  # recover B
            b_do = b.clone()
            b_do[:, target] = 0.0
            c = prep.intercept[0, s].clone()
            v = prep.noise_var[0, s].clone()
            c[target], v[target] = value, 0.0
            a = torch.linalg.inv(torch.eye(4, dtype=torch.float64) - b_do.T)  # x = a (c + e)
            m_direct = (a @ c)[outcome]
            v_direct = (a[outcome] ** 2 * v).sum()
            assert float(mean[0, s]) == pytest.approx(float(m_direct), abs=1e-9)
            assert float(var[0, s]) == pytest.approx(float(v_direct), abs=1e-9)


def test_posterior_recovers_weights_and_do_effect() -> None:
    data = _chain_data(n=20000)
    model = HarmModel(data, config=HarmModelConfig(n_draws=32))
    prep = model.prepare(_adj([(0, 1), (1, 2)]))
    assert float(prep.weight_mean[0, 0, 1]) == pytest.approx(0.8, abs=0.02)
    assert float(prep.weight_mean[0, 1, 2]) == pytest.approx(-1.5, abs=0.02)
    # do(x1 = 2): x2 ~ N(-3, 0.09); the interventional mean is -1.5 * 2.
    mean, var = prep.moments(1, 2, value=2.0)
    assert float(mean.mean()) == pytest.approx(-3.0, abs=0.05)
    assert float(var.mean()) == pytest.approx(0.09, rel=0.1)
    # P(x2 < -3) is one half under do(x1 = 2); a graph without x1 -> x2 ignores the action and gives the
    # marginal: x2 ~ N(-1.5, 1.5^2 (0.64 + 0.25) + 0.09), P = Phi(-1.5 / sqrt(2.0925)) = 0.150.
    p = prep.prob(1, 2, float("-inf"), -3.0, value=2.0)
    assert float(p[0]) == pytest.approx(0.5, abs=0.05)
    wrong = model.prepare(_adj([(0, 1)])).prob(1, 2, float("-inf"), -3.0, value=2.0)
    assert float(wrong[0]) == pytest.approx(0.150, abs=0.02)


def test_shift_keeps_variance_and_moves_mean() -> None:
    data = _chain_data(n=20000)
    prep = HarmModel(data, config=HarmModelConfig(n_draws=8)).prepare(_adj([(0, 1), (1, 2)]))
    m0, v0 = prep.moments(0, 2, shift=0.0)
    m1, v1 = prep.moments(0, 2, shift=1.0)
    assert torch.allclose(v0, v1)
    assert float((m1 - m0).mean()) == pytest.approx(0.8 * -1.5, abs=0.05)
    # Observational mean of x2 matches the data.
    assert float(m0.mean()) == pytest.approx(float(data[:, 2].mean()), abs=0.02)


def test_interventional_rows_are_left_out() -> None:
    data = _chain_data(n=6000)
    intervened = torch.zeros_like(data, dtype=torch.bool)
    intervened[:3000, 1] = True
    data = data.clone()
    data[:3000, 1] = 5.0  # clamped by the intervention: must not bias x1's mechanism
    model = HarmModel(data, intervened)
    post = model.node_posterior(1, 0b0001)
    assert float(post.mean[0]) == pytest.approx(0.8, abs=0.05)


def test_rejects_cycles_and_bad_shapes() -> None:
    data = _chain_data(n=100)
    model = HarmModel(data)
    with pytest.raises(HarmModelError, match="cycle"):
        model.prepare(_adj([(0, 1), (1, 0)]))
    with pytest.raises(HarmModelError, match=r"\(N, 4, 4\)"):
        model.prepare(torch.zeros(2, 3, 3, dtype=torch.bool))
    with pytest.raises(HarmModelError, match="exactly one"):
        model.prepare(_adj([(0, 1)])).moments(0, 1)


def test_draws_do_not_depend_on_the_batch() -> None:
    """A graph's parameter draws are a function of (node, parent set): the same alone or in a batch."""
    data = _chain_data(n=500)
    model = HarmModel(data, config=HarmModelConfig(n_draws=6, seed=2))
    graphs = torch.cat([_adj([(0, 1), (1, 2)]), _adj([(0, 2), (3, 2)]), _adj([(1, 0), (2, 1), (3, 1)])])
    together = model.prepare(graphs)
    for i in range(3):
        alone = model.prepare(graphs[i : i + 1])
        assert torch.equal(alone.total[0], together.total[i])
        assert torch.equal(alone.noise_var[0], together.noise_var[i])
    other_seed = HarmModel(data, config=HarmModelConfig(n_draws=6, seed=3)).prepare(graphs[:1])
    assert not torch.equal(other_seed.noise_var[0], together.noise_var[0])
