"""The harm model's closed-form interventional moments against direct linear algebra and simulation."""
from __future__ import annotations

import numpy as np
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


def _nig_posterior(data: np.ndarray, j: int, pa: list[int], t: float, a0: float) -> tuple[np.ndarray, ...]:
    """Node j's Normal-Inverse-Gamma posterior on parents ``pa``, written out here with numpy (centred
    data, so the intercept is the mean residual): weights | s^2 ~ N(m, s^2 P^-1), s^2 ~ IG(a, b)."""
    xc = data[:, pa] - data[:, pa].mean(0)
    yc = data[:, j] - data[:, j].mean()
    prec = xc.T @ xc + t * np.eye(len(pa))
    mean = np.linalg.solve(prec, xc.T @ yc)
    return mean, prec, a0 + len(yc) / 2, t / 2 + 0.5 * (yc @ yc - (xc.T @ yc) @ mean)


def _sem_draws(model: HarmModel, adj: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drawn SEMs of one graph: direct weights B (S, d, d), intercepts c (S, d), noise variances v (S, d),
    from the draws themselves (never from the total-effect matrix under test)."""
    prep = model.prepare(adj)
    return model.weight_draws(adj)[0].numpy(), prep.intercept[0].numpy(), prep.noise_var[0].numpy()


def test_moments_match_direct_solve() -> None:
    """E and Var of an outcome under do(X_k = x), against the SEM's own linear system: with B_do (B with
    column k cleared), c_do and v_do (x and 0 at k), x = (I - B_do^T)^-1 (c_do + e), so
    E = (A c_do)_y and Var = sum_i A_yi^2 v_do,i with A = (I - B_do^T)^-1. One draw is also simulated."""
    data = _chain_data()
    d, S = 4, 4
    model = HarmModel(data, config=HarmModelConfig(n_draws=S, seed=3))
    adj = _adj([(0, 1), (1, 2), (0, 2), (3, 2)])
    prep = model.prepare(adj)
    B, c, v = _sem_draws(model, adj)
    rng = np.random.default_rng(0)
    for target, outcome, value in [(1, 2, 2.0), (0, 2, -1.0), (3, 2, 0.5), (2, 0, 1.0), (0, 1, 3.0)]:
        mean, var = prep.moments(target, outcome, value=value)
        for s in range(S):
            b_do = B[s].copy()
            b_do[:, target] = 0.0
            c_do, v_do = c[s].copy(), v[s].copy()
            c_do[target], v_do[target] = value, 0.0
            a = np.linalg.inv(np.eye(d) - b_do.T)
            assert float(mean[0, s]) == pytest.approx(float((a @ c_do)[outcome]), abs=1e-9)
            assert float(var[0, s]) == pytest.approx(float((a[outcome] ** 2 * v_do).sum()), abs=1e-9)
        # ancestral simulation of draw 0 under the intervention (topological order 0, 3, 1, 2)
        n = 200_000
        x = np.zeros((n, d))
        for j in (0, 3, 1, 2):
            x[:, j] = value if j == target else c[0, j] + x @ B[0, :, j] + rng.normal(0, np.sqrt(v[0, j]), n)
        sim_mean, sim_var = x[:, outcome].mean(), x[:, outcome].var()
        se = np.sqrt(float(var[0, 0]) / n)
        assert abs(sim_mean - float(mean[0, 0])) < 5 * se
        assert sim_var == pytest.approx(float(var[0, 0]), rel=0.02)


def test_draws_follow_the_nig_posterior() -> None:
    """The draws that _sem_draws reads: their mean and spread against the NIG posterior
    computed here (prior of the module docstring: t = alpha_mu (alpha_w - d - 1) / (alpha_mu + 1) = 1/2 at
    d = 4, shape (alpha_w - d + k + 1) / 2)."""
    data = _chain_data(n=300)
    d, S = 4, 6000
    model = HarmModel(data, config=HarmModelConfig(n_draws=S, seed=1))
    x = data.numpy()
    t, alpha_w = 0.5, d + 2.0
    for j, pa in [(2, [0, 1, 3]), (1, [0]), (0, [])]:
        m, prec, a, b = _nig_posterior(x, j, pa, t, (alpha_w - d + len(pa) + 1) / 2)
        adj = _adj([(i, j) for i in pa])
        B, c, v = _sem_draws(model, adj)
        var_mean = b / (a - 1)
        assert v[:, j].mean() == pytest.approx(var_mean, rel=4 * np.sqrt(1 / (a - 2)) / np.sqrt(S) + 1e-3)
        if pa:
            w = B[:, pa, j]  # (S, k)
            cov = var_mean * np.linalg.inv(prec)  # marginal covariance of the weights (Student-t)
            se = np.sqrt(np.diag(cov) / S)
            assert np.all(np.abs(w.mean(0) - m) < 5 * se), (w.mean(0), m, se)
            scale = float(np.diag(cov).max())
            np.testing.assert_allclose(np.cov(w.T).reshape(len(pa), len(pa)), cov, rtol=0.1, atol=0.1 * scale)
            # the intercept makes each drawn regression pass through the data means
            np.testing.assert_allclose(c[:, j] + w @ x[:, pa].mean(0), x[:, j].mean(), atol=1e-9)
        else:
            np.testing.assert_allclose(c[:, j], x[:, j].mean(), atol=1e-12)


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
    """A graph's parameter draws are a function of the graph: the same alone or in a batch."""
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


def test_graphs_sharing_a_parent_set_draw_independently() -> None:
    """Node 3 is a root in all 25 graphs (every DAG over nodes 0-2): each graph still gets its own draws of its
    noise variance, so the 25 x 8 pooled draws follow node 3's inverse-gamma posterior, whose 0.95-quantile they
    reach (a theory's upper credible risk is such a quantile; with draws shared by the parent set it was the
    largest of 8 draws)."""
    from scipy.stats import invgamma

    from theorycov.gfn import enumerate_dags

    data = _chain_data(n=500)
    model = HarmModel(data, config=HarmModelConfig(n_draws=8, seed=0))
    graphs = torch.zeros(25, 4, 4, dtype=torch.bool)
    graphs[:, :3, :3] = enumerate_dags(3)
    v = model.prepare(graphs).noise_var[:, :, 3]  # (25, 8)
    assert len(torch.unique(v)) == v.numel()
    _, _, a, b = _nig_posterior(data.numpy(), 3, [], model.t, model.prior.noise_shape(0))
    assert float(torch.quantile(v.flatten(), 0.95)) == pytest.approx(float(invgamma(a, scale=b).ppf(0.95)), rel=0.03)


def test_more_than_62_variables() -> None:
    """Parent sets are rows of bools, not 64-bit masks: at d = 70 (a chain x_i -> x_{i+1}, weight 0.6) the drawn
    SEM's mean under do(x_0 = 2) on x_3 is its own weights' product, and the posterior recovers 0.6^3 * 2."""
    d, n = 70, 3000
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(n, d, dtype=torch.float64)
    x[:, 0] = torch.randn(n, generator=g, dtype=torch.float64)
    for j in range(1, d):
        x[:, j] = 0.6 * x[:, j - 1] + 0.8 * torch.randn(n, generator=g, dtype=torch.float64)
    adj = torch.zeros(2, d, d, dtype=torch.bool)
    adj[0, torch.arange(d - 1), torch.arange(1, d)] = True
    adj[1, 0, 1] = True
    model = HarmModel(x, config=HarmModelConfig(n_draws=4))
    prep = model.prepare(adj)
    B = model.weight_draws(adj)  # (2, 4, d, d)
    mean, _ = prep.moments(0, 3, value=2.0)
    c = prep.intercept
    want = c[0, :, 3] + B[0, :, 2, 3] * (c[0, :, 2] + B[0, :, 1, 2] * (c[0, :, 1] + B[0, :, 0, 1] * 2.0))
    assert torch.allclose(mean[0], want, atol=1e-9)
    assert float(mean[0].mean()) == pytest.approx(0.6**3 * 2.0, abs=0.05)
    assert float(mean[1].mean()) == pytest.approx(float(x[:, 3].mean()), abs=1e-9)  # no path: x_3 is a root, at its sample mean
