"""Signed theories (coverage.signs) against values derived independently of the code under test: a closed
form at d = 2 (the weight's Student-t marginal), an independent posterior sampler over every DAG at d = 3
for a total-effect sign, and the human bound with planted true signed theories (test_guard_exact.py, signed variant)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.guard import Guard, GuardConfig
from theorycov.coverage.guard.harm import HarmModelConfig
from theorycov.coverage.signs import SignSpec, prior_sign_support
from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.gfn import BGeScore, DataTable, Reward, enumerate_dags


def _standardized(raw: np.ndarray) -> np.ndarray:
    return (raw - raw.mean(0)) / raw.std(0, ddof=1)


def _nig(x: np.ndarray, j: int, parents: list[int], t: float = 0.5, alpha_w: float | None = None) -> tuple[np.ndarray, np.ndarray, float, float, float, np.ndarray]:
    """The NIG posterior of node j on ``parents`` as DESIGN.md / the harm model's docstring state it, written
    out here: B | s^2 ~ N(0, s^2 / t I) prior, s^2 ~ InvGamma((alpha_w - d + k + 1) / 2, t / 2), centred data.
    Returns (mean (k,), precision (k, k), a, b, y mean, parent means (k,))."""
    n, d = x.shape
    alpha_w = d + 2.0 if alpha_w is None else alpha_w
    xc = x - x.mean(0)
    g = xc.T @ xc
    k = len(parents)
    prec = g[np.ix_(parents, parents)] + t * np.eye(k)
    mean = np.linalg.solve(prec, g[parents, j]) if k else np.zeros(0)
    a = (alpha_w - d + k + 1) / 2 + n / 2
    b = t / 2 + 0.5 * (g[j, j] - g[parents, j] @ mean)
    return mean, prec, a, b, float(x[:, j].mean()), x[:, parents].mean(0)


def test_direct_sign_against_the_student_t_closed_form() -> None:
    """d = 2, theory "A activates B" (direct): p(h|D) = P(A -> B | D) P(w > 0 | A -> B, D) with the weight's
    Student-t marginal (nu = 2a, scale sqrt(b / (a prec))), and the theory's risk P(B > q90 | do(A = 1), h)
    against 400,000 independent draws of (w, s^2) | w > 0."""
    rng = np.random.default_rng(3)
    a_raw = rng.normal(size=40)
    raw = np.c_[a_raw, 0.15 * a_raw + rng.normal(size=40)]  # a weak positive effect: the sign is uncertain
    x = _standardized(raw)
    names = ["A", "B"]
    dags = enumerate_dags(2)
    h = Hypothesis((Constraint("A", "B", sign=1),))
    cs = ConstraintSet([h], names)
    lr = Reward(BGeScore(DataTable(x, tuple(names)))).log_reward(dags)
    guard = Guard(names, torch.as_tensor(x), None, dags, lr, lr, constraints=cs, p_min=torch.tensor([1e-9], dtype=torch.float64),
                  exact=True, config=GuardConfig(theory_level=None, harm=HarmModelConfig(n_draws=4096)))
    mean, prec, a, b, ym, xm = _nig(x, 1, [0])
    scale = math.sqrt(b / (a * prec[0, 0]))
    p_sign = float(stats.t.cdf(mean[0] / scale, df=2 * a))
    assert 0.6 < p_sign < 0.99  # the sign is uncertain: a test where the sign probability matters
    edge = int((dags[:, 0, 1] & ~dags[:, 1, 0]).nonzero()[0])
    p_edge = float(torch.softmax(lr, 0)[edge])
    assert guard.table is not None
    assert float(guard.table.mass[0]) == pytest.approx(p_edge * p_sign, abs=0.01)
    assert float(guard.table.mass_structure[0]) == pytest.approx(p_edge, abs=1e-9)
    # the theory's risk over the draws consistent with its sign
    act, harm = guard.parse("do(A = 1)", "B > q90")
    _, est = guard.estimate(act, harm)
    thr = harm.interval(guard.quantiles)[0]
    s2 = stats.invgamma.rvs(a, scale=b, size=400_000, random_state=1)
    w = mean[0] + np.sqrt(s2 / prec[0, 0]) * np.random.default_rng(2).standard_normal(400_000)
    keep = w > 0
    mu_y = ym + w[keep] * (1.0 - xm[0])
    per_draw = 1 - stats.norm.cdf((thr - mu_y) / np.sqrt(s2[keep]))
    truth = float(np.mean(per_draw))
    assert est.theories[0].risk == pytest.approx(truth, abs=0.01)
    # the default reading: the theory's (1 - delta/2) = 0.95 quantile of the same per-draw risks (coverage.guard.credible)
    upper = Guard(names, torch.as_tensor(x), None, dags, lr, lr, constraints=cs, p_min=torch.tensor([1e-9], dtype=torch.float64),
                  exact=True, config=GuardConfig(harm=HarmModelConfig(n_draws=4096)))
    assert upper.estimate(act, harm)[1].theories[0].risk == pytest.approx(float(np.quantile(per_draw, 0.95)), abs=0.01)
    # and it differs from the unsigned risk of the same graph (the sign matters for the prediction)
    unsigned = float(guard.harm_probabilities(act, harm)[edge])
    assert abs(unsigned - truth) > 0.01


def test_total_effect_sign_against_an_independent_sampler_d3() -> None:
    """d = 3, theory "A inhibits C (directly or indirectly)": p(h|D) over all 25 DAGs against 4,000 draws per
    graph from the NIG posterior written out in this test, total effects by an explicit matrix inverse."""
    rng = np.random.default_rng(11)
    a_raw = rng.normal(size=50)
    b_raw = -0.5 * a_raw + rng.normal(size=50)
    c_raw = 0.4 * b_raw + rng.normal(size=50)  # A -> B -> C: total effect of A on C is -0.2
    x = _standardized(np.c_[a_raw, b_raw, c_raw])
    names = ["A", "B", "C"]
    dags = enumerate_dags(3)
    cs = ConstraintSet([Hypothesis((Constraint("A", "C", path=True, sign=-1),))], names)
    lr = Reward(BGeScore(DataTable(x, tuple(names)))).log_reward(dags)
    guard = Guard(names, torch.as_tensor(x), None, dags, lr, lr, constraints=cs, p_min=torch.tensor([1e-9], dtype=torch.float64),
                  exact=True, config=GuardConfig(harm=HarmModelConfig(n_draws=1024)))
    post = torch.softmax(guard.log_weight, 0).numpy()
    sat = cs.satisfies(guard.graphs)[:, 0].numpy()
    draws = np.random.default_rng(5)
    mass = 0.0
    for gi in np.flatnonzero(sat):
        adj = guard.graphs[gi].numpy()
        total = np.zeros((4000, 3, 3))
        bmat = np.zeros((4000, 3, 3))
        for j in range(3):
            pa = list(np.flatnonzero(adj[:, j]))
            if not pa:
                continue
            mean, prec, a, b, _, _ = _nig(x, j, pa)
            s2 = stats.invgamma.rvs(a, scale=b, size=4000, random_state=draws)
            z = draws.standard_normal((4000, len(pa))) @ np.linalg.cholesky(np.linalg.inv(prec)).T
            bmat[:, pa, j] = mean + z * np.sqrt(s2)[:, None]
        total = np.linalg.inv(np.eye(3)[None] - bmat)
        mass += post[gi] * float(np.mean(total[:, 0, 2] < 0))
    assert guard.table is not None
    assert float(guard.table.mass[0]) == pytest.approx(mass, abs=0.015)
    ratio = float(guard.table.mass[0]) / float(guard.table.mass_structure[0])
    assert 0.5 < ratio < 0.99  # the sign is neither certain nor irrelevant: the test can tell them apart


def test_prior_sign_support() -> None:
    """Under BGe's zero-mean prior a single sign is a fair coin (a direct weight, or a total effect through
    several paths, by the symmetry that flips the cause's out-edges); signs are not independent events in
    general (two direct signs fix the chain's total effect), which is why the support is drawn, not 2^-k."""
    names = ["A", "B", "C"]
    hyps = [Hypothesis((Constraint("A", "B", sign=1),)), Hypothesis((Constraint("A", "C", path=True, sign=-1),)),
            Hypothesis((Constraint("A", "B", sign=1), Constraint("B", "C", sign=1), Constraint("A", "C", path=True, sign=1)))]
    spec = SignSpec.of(hyps, names)
    adj = torch.zeros(1, 3, 3, dtype=torch.bool)
    adj[0, 0, 1] = adj[0, 1, 2] = True  # the chain A -> B -> C
    pi = prior_sign_support(spec, adj, t=0.5, noise_shape=[1.0, 1.5, 2.0, 2.5], n_draws=40_000, seed=0)[0]
    assert float(pi[0]) == pytest.approx(0.5, abs=0.01) and float(pi[1]) == pytest.approx(0.5, abs=0.01)
    assert float(pi[2]) == pytest.approx(0.25, abs=0.01)  # not 2^-3: T_AC = w_AB w_BC is positive when both are
    both = adj.clone()
    both[0, 0, 2] = True  # with a direct A -> C as well, the total effect's sign is a coin again given the two
    assert float(prior_sign_support(spec, both, t=0.5, noise_shape=[1.0, 1.5, 2.0, 2.5], n_draws=40_000, seed=1)[0, 2]) < 0.2
