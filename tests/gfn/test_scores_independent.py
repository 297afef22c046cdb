"""BGe and BDeu against values computed here by other routes, and score equivalence over every Markov
equivalence class of the 543 DAGs on 4 nodes.

Independent routes (none reuses gfn/scores' algebra):
* BGe: the marginal likelihood of a Normal-Wishart model is, by the chain rule, the product of its
  sequential posterior predictives, each a multivariate Student-t (Geiger & Heckerman 2002, §3-4;
  Murphy 2007, "Conjugate Bayesian analysis of the Gaussian distribution", eq. 232, with Sigma^-1 = W
  ~ Wishart(alpha_w, T^-1), so Sigma ~ IW(alpha_w, T)). A DAG's score is then
  sum_j log p(D^{Pa_j + j}) - log p(D^{Pa_j}), the marginal of a subset Y of size l having alpha_w - d + l
  degrees of freedom and precision T_YY (Geiger & Heckerman 2002, Thm. 2; Kuipers et al. 2014, eq. 2).
  At d = 1 the same number also comes from numerical integration over (mu, w), and two one-row cases
  are worked by hand: p(x = 0) = 2 / pi and p(x = 1) = 1 / (2 pi).
* BDeu: the Dirichlet-multinomial marginal as a Polya urn, prod over rows of
  (alpha_jkr + N_jkr so far) / (alpha_jk + N_jk so far), counted row by row over every parent
  configuration (Heckerman, Geiger & Chickering 1995, eq. 28); plus one case worked by hand (1/16).
* Markov equivalence classes: skeleton + v-structures (Verma & Pearl 1990), computed in Python from a
  DAG list built here with itertools; 185 classes on 4 labelled nodes (Gillispie & Perlman 2001).
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_t

from theorycov.gfn import BDeuScore, BGeScore, DataTable, enumerate_dags

# ------------------------------------------------------------------------------------ references


def _bge_subset_logml(x: np.ndarray, alpha_mu: float, alpha_w: float, T: np.ndarray, nu: np.ndarray) -> float:
    """log p(x_1..x_N) under x ~ N(mu, W^-1), mu | W ~ N(nu, (alpha_mu W)^-1), W ~ Wishart(alpha_w, T^-1),
    as a sum of Student-t predictives: (N, l) data, (l, l) T, (l,) nu. An empty subset has log p = 0."""
    n, l = x.shape
    if l == 0:
        return 0.0
    kappa, dof, loc, scale = alpha_mu, alpha_w, nu.astype(float).copy(), T.astype(float).copy()
    total = 0.0
    for row in x:
        df = dof - l + 1
        total += float(multivariate_t(loc, scale * (kappa + 1) / (kappa * df), df=df).logpdf(row))
        diff = row - loc
        scale = scale + kappa / (kappa + 1) * np.outer(diff, diff)  # the rank-one posterior update
        loc = (kappa * loc + row) / (kappa + 1)
        kappa, dof = kappa + 1, dof + 1
    return total


def _bge_reference(x: np.ndarray, adj: np.ndarray, alpha_mu: float, alpha_w: float, nu: np.ndarray) -> float:
    """log P(D | G) of a DAG (d, d) from subset marginals; T = t I with BGe's documented t."""
    d = x.shape[1]
    t = alpha_mu * (alpha_w - d - 1) / (alpha_mu + 1)

    def logml(cols: list[int]) -> float:
        l = len(cols)
        return _bge_subset_logml(x[:, cols], alpha_mu, alpha_w - d + l, t * np.eye(l), nu[cols])

    total = 0.0
    for j in range(d):
        pa = [i for i in range(d) if adj[i, j]]
        total += logml(sorted(pa + [j])) - logml(pa)
    return total


def _bge_quadrature_d1(x: np.ndarray, alpha_mu: float, alpha_w: float, nu: float) -> float:
    """log p(x_1..x_N) at d = 1 by integrating likelihood x prior over mu and log w numerically.

    Wishart(alpha_w, 1/t) in one dimension is Gamma(shape alpha_w / 2, rate t / 2)."""
    t = alpha_mu * (alpha_w - 2) / (alpha_mu + 1)
    n = x.shape[0]

    def log_joint(mu: float, log_w: float) -> float:
        w = math.exp(log_w)
        loglik = 0.5 * n * (log_w - math.log(2 * math.pi)) - 0.5 * w * float(((x - mu) ** 2).sum())
        log_mu = 0.5 * (math.log(alpha_mu * w) - math.log(2 * math.pi)) - 0.5 * alpha_mu * w * (mu - nu) ** 2
        log_gamma = (alpha_w / 2) * math.log(t / 2) - math.lgamma(alpha_w / 2) + (alpha_w / 2) * log_w - 0.5 * t * w
        return loglik + log_mu + log_gamma  # the prior density of log w includes the Jacobian w

    # centre the integrand at the posterior mode region so exp() neither under- nor overflows
    grid = [(m, lw) for m in np.linspace(-3, 3, 61) for lw in np.linspace(-6, 4, 101)]
    peak = max(log_joint(m, lw) for m, lw in grid)
    val, _ = integrate.dblquad(lambda mu, lw: math.exp(log_joint(mu, lw) - peak), -12.0, 8.0, -15.0, 15.0,
                               epsabs=1e-13, epsrel=1e-10)  # fmt: skip
    return peak + math.log(val)


def _bdeu_reference(values: np.ndarray, arities: tuple[int, ...], adj: np.ndarray, ess: float) -> float:
    """log P(D | G) by the Polya urn: each row's value of j predicted from the earlier rows of its config."""
    n, d = values.shape
    total = 0.0
    for j in range(d):
        pa = [i for i in range(d) if adj[i, j]]
        q = math.prod(arities[i] for i in pa)
        a_kr = ess / (q * arities[j])
        n_kr: dict[tuple, int] = defaultdict(int)
        n_k: dict[tuple, int] = defaultdict(int)
        for row in values.tolist():
            k = tuple(row[i] for i in pa)
            total += math.log((a_kr + n_kr[k, row[j]]) / (a_kr * arities[j] + n_k[k]))
            n_kr[k, row[j]] += 1
            n_k[k] += 1
    return total


def _all_dags(d: int) -> list[np.ndarray]:
    """Every DAG on d labelled nodes, by brute force over edge subsets and Kahn's algorithm."""
    pairs = [(i, j) for i in range(d) for j in range(d) if i != j]
    out = []
    for bits in itertools.product([False, True], repeat=len(pairs)):
        adj = np.zeros((d, d), dtype=bool)
        for (i, j), b in zip(pairs, bits):
            adj[i, j] = b
        indeg, ready, seen = adj.sum(0).astype(int), [v for v in range(d) if not adj[:, v].any()], 0
        while ready:
            v = ready.pop()
            seen += 1
            for w in np.flatnonzero(adj[v]):
                indeg[w] -= 1
                if indeg[w] == 0:
                    ready.append(int(w))
        if seen == d:
            out.append(adj)
    return out


def _markov_class(adj: np.ndarray) -> tuple[frozenset, frozenset]:
    """(skeleton, v-structures): two DAGs are Markov equivalent iff these agree (Verma & Pearl 1990)."""
    d = adj.shape[0]
    skeleton = frozenset(frozenset((i, j)) for i in range(d) for j in range(d) if adj[i, j])
    vs = frozenset(
        (min(a, b), c, max(a, b))
        for c in range(d)
        for a, b in itertools.combinations(np.flatnonzero(adj[:, c]).tolist(), 2)
        if not adj[a, b] and not adj[b, a]
    )
    return skeleton, vs


def _graph(d: int, edges: list[tuple[int, int]]) -> np.ndarray:
    g = np.zeros((d, d), dtype=bool)
    for i, j in edges:
        g[i, j] = True
    return g


def _score(score, adjs: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    return score.log_score(torch.from_numpy(np.stack(adjs))).numpy()


def _gaussian(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) + 2 * np.eye(d)
    return rng.normal(size=(n, d)) @ mix + rng.normal(size=d)  # correlated, with a non-zero mean


def _discrete(n: int, arities: tuple[int, ...], seed: int) -> np.ndarray:
    """A chain-like dependent discrete table (column j depends on j - 1), n rows."""
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, arities[0], n)]
    for r in arities[1:]:
        noisy = rng.random(n) < 0.3
        cols.append(np.where(noisy, rng.integers(0, r, n), cols[-1] % r))
    return np.stack(cols, 1).astype(np.int64)


# ------------------------------------------------------------------------------------ BGe values

HYPER = [  # (alpha_mu, alpha_w offset from d, prior mean): the defaults and one set far from them
    (1.0, 2.0, None),
    (0.3, 5.5, "shifted"),
]


def test_bge_one_row_worked_by_hand() -> None:
    """d = 1, defaults (alpha_mu = 1, alpha_w = 3, so t = 1/2): one row's predictive is Student-t with
    3 degrees of freedom, location 0, squared scale t (alpha_mu + 1) / (alpha_mu alpha_w) = 1/3, whose
    density is Gamma(2) / (Gamma(3/2) sqrt(pi)) (1 + x^2)^-2: 2 / pi at x = 0 and 1 / (2 pi) at x = 1."""
    for x, expected in [(0.0, 2 / math.pi), (1.0, 1 / (2 * math.pi))]:
        got = BGeScore(DataTable(np.array([[x]]), ("X",))).log_score(torch.zeros(1, 1, 1, dtype=torch.bool))
        assert float(got[0]) == pytest.approx(math.log(expected), abs=1e-12)


@pytest.mark.parametrize("alpha_mu, w_off, mean", HYPER)
def test_bge_d1_matches_numerical_integration(alpha_mu: float, w_off: float, mean: str | None) -> None:
    x = _gaussian(7, 1, seed=11)
    nu = np.array([0.4]) if mean else np.zeros(1)
    score = BGeScore(DataTable(x, ("X",)), alpha_mu=alpha_mu, alpha_w=1 + w_off, mean_obs=nu if mean else None)
    got = float(score.log_score(torch.zeros(1, 1, 1, dtype=torch.bool))[0])
    quad = _bge_quadrature_d1(x[:, 0], alpha_mu, 1 + w_off, float(nu[0]))
    seq = _bge_reference(x, np.zeros((1, 1), bool), alpha_mu, 1 + w_off, nu)
    assert seq == pytest.approx(quad, abs=1e-6)  # the two references agree with each other
    assert got == pytest.approx(seq, abs=1e-9)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("alpha_mu, w_off, mean", HYPER)
def test_bge_every_dag_matches_sequential_predictive(d: int, alpha_mu: float, w_off: float, mean: str | None) -> None:
    """Every DAG at d = 2 (3 graphs) and d = 3 (25), both table and on-the-fly paths."""
    x = _gaussian(30, d, seed=d)
    nu = np.linspace(-0.5, 0.5, d) if mean else np.zeros(d)
    table = DataTable(x, tuple(f"X{j}" for j in range(d)))
    dags = _all_dags(d)
    expected = np.array([_bge_reference(x, g, alpha_mu, d + w_off, nu) for g in dags])
    for table_max_d in (12, 0):
        score = BGeScore(table, alpha_mu=alpha_mu, alpha_w=d + w_off, mean_obs=nu if mean else None)
        score.table_max_d = table_max_d
        np.testing.assert_allclose(_score(score, dags), expected, rtol=0, atol=1e-8)
    # the data matter: the chain and the empty graph differ by far more than the tolerance
    assert abs(expected[0] - expected[-1]) > 1.0


# ------------------------------------------------------------------------------------ BDeu values


def test_bdeu_worked_by_hand() -> None:
    """d = 1, binary, rows (0, 0, 1), ess = 1: alpha = 1/2 per level, so P = 1/2 * 3/4 * 1/6 = 1/16."""
    score = BDeuScore(DataTable(np.array([[0], [0], [1]]), ("A",), arities=(2,)), ess=1.0)
    assert float(score.log_score(torch.zeros(1, 1, 1, dtype=torch.bool))[0]) == pytest.approx(math.log(1 / 16), abs=1e-12)


@pytest.mark.parametrize(
    "arities, ess",
    [((3,), 1.0), ((2, 3), 1.0), ((3, 2), 4.5), ((2, 3, 4), 0.7)],  # d = 1, 2, 2, 3; configs left unobserved at d = 3
)
def test_bdeu_every_dag_matches_polya_urn(arities: tuple[int, ...], ess: float) -> None:
    d = len(arities)
    values = _discrete(25, arities, seed=d + int(ess * 10))
    score = BDeuScore(DataTable(values, tuple(f"V{j}" for j in range(d)), arities=arities), ess=ess)
    dags = _all_dags(d)
    expected = np.array([_bdeu_reference(values, arities, g, ess) for g in dags])
    np.testing.assert_allclose(_score(score, dags), expected, rtol=0, atol=1e-9)
    if d > 1:
        assert abs(expected[0] - expected[-1]) > 0.5


# ------------------------------------------------------------------------------------ equivalence at d = 4


@pytest.fixture(scope="module")
def classes_d4() -> tuple[list[np.ndarray], list[int]]:
    """The 543 DAGs on 4 nodes and each one's Markov equivalence class id (185 classes)."""
    dags = _all_dags(4)
    ids: dict[tuple, int] = {}
    labels = [ids.setdefault(_markov_class(g), len(ids)) for g in dags]
    return dags, labels


def test_own_enumeration_agrees_with_the_library(classes_d4: tuple[list[np.ndarray], list[int]]) -> None:
    dags, labels = classes_d4
    assert len(dags) == 543 and len(set(labels)) == 185
    mine = {g.tobytes() for g in dags}
    theirs = {g.numpy().tobytes() for g in enumerate_dags(4)}
    assert mine == theirs


def _assert_partition_is_markov_classes(scores: np.ndarray, labels: list[int]) -> None:
    """Equal within every class (score equivalence) and different across classes (the data discriminate)."""
    lab = np.array(labels)
    spread = max(float(np.ptp(scores[lab == c])) for c in set(labels))
    assert spread < 1e-8, spread
    means = np.array([scores[lab == c].mean() for c in sorted(set(labels))])
    gaps = np.diff(np.sort(means))
    assert gaps.min() > 1e-6, gaps.min()  # no two classes tie, so "equal" above is not trivially true


@pytest.mark.parametrize("alpha_mu, w_off, mean", HYPER)
def test_bge_score_equivalence_over_all_classes_d4(classes_d4: tuple[list[np.ndarray], list[int]], alpha_mu: float,
                                                   w_off: float, mean: str | None) -> None:  # fmt: skip
    dags, labels = classes_d4
    x = _gaussian(200, 4, seed=5)
    score = BGeScore(DataTable(x, ("A", "B", "C", "D")), alpha_mu=alpha_mu, alpha_w=4 + w_off,
                     mean_obs=np.array([0.3, -0.2, 0.1, 0.5]) if mean else None)  # fmt: skip
    _assert_partition_is_markov_classes(_score(score, dags), labels)


@pytest.mark.parametrize("ess", [1.0, 7.0])
def test_bdeu_score_equivalence_over_all_classes_d4(classes_d4: tuple[list[np.ndarray], list[int]], ess: float) -> None:
    dags, labels = classes_d4
    arities = (2, 3, 2, 4)
    values = _discrete(400, arities, seed=9)
    score = BDeuScore(DataTable(values, ("A", "B", "C", "D"), arities=arities), ess=ess)
    _assert_partition_is_markov_classes(_score(score, dags), labels)
