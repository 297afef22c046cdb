"""The human-floor prior: exact normalization, the floor guarantee, the exact P0 sampler and its estimate."""
from __future__ import annotations

import math

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.prior import FloorPrior, HypothesisPriorMass, log_dag_count, sample_edge_prior_dags
from theorycov.gfn.exact import enumerate_dags
from theorycov.gfn.graphs import is_acyclic

VARS = ["A", "B", "C", "D"]



@pytest.mark.parametrize("d,count", [(1, 1), (2, 3), (3, 25), (4, 543), (5, 29281)])
def test_dag_counts(d: int, count: int) -> None:
    assert math.exp(log_dag_count(d)) == pytest.approx(count, rel=1e-9)


def test_weighted_count_matches_enumeration() -> None:
    dags = enumerate_dags(4)
    assert dags.shape[0] == 543
    beta = 0.3
    want = float((beta ** dags.flatten(1).sum(1).to(torch.float64)).sum())
    assert math.exp(log_dag_count(4, beta)) == pytest.approx(want, rel=1e-9)


def test_sampler_is_exact() -> None:
    """Frequencies of all 25 DAGs on 3 nodes against beta^|E| / Z (chi-square style bound)."""
    beta, n = 0.5, 40000
    dags = enumerate_dags(3)
    samples = sample_edge_prior_dags(3, beta, n, seed=1)
    assert bool(is_acyclic(samples).all())
    codes = lambda a: (a.flatten(1).to(torch.int64) * (2 ** torch.arange(9))).sum(1)  # noqa: E731
    freq = (codes(samples)[:, None] == codes(dags)[None]).to(torch.float64).mean(0)
    want = beta ** dags.flatten(1).sum(1).to(torch.float64)
    want /= want.sum()
    assert float(freq.sum()) == pytest.approx(1.0)
    # every DAG within 4.5 standard errors of its exact probability
    se = (want * (1 - want) / n).sqrt()
    assert bool(((freq - want).abs() < 4.5 * se).all()), (freq - want).abs().max()


def _hyps() -> list[Hypothesis]:
    return [
        Hypothesis((Constraint("A", "B", sign=1),)),
        Hypothesis((Constraint("A", "B"), Constraint("B", "C"), Constraint("C", "D"))),
        Hypothesis((Constraint("D", "A", path=True), Constraint("B", "C", forbidden=True))),
    ]


def test_floor_prior_normalized_with_floor() -> None:
    dags = enumerate_dags(4)
    cs = ConstraintSet(_hyps(), VARS)
    w = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    prior = FloorPrior(cs, w, beta=0.5, lam=0.2, dags=dags)
    p = prior.log_prob(dags).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-9)
    sat = cs.satisfies(dags)
    p_h = (p[:, None] * sat).sum(0)
    assert bool((p_h >= prior.p_min - 1e-12).all())
    # The three-edge chain is rare under P0 but gets at least 0.2 * 0.3 = 0.06 under the floor prior.
    assert float(prior.mass.mass[1]) < 0.01 and float(p_h[1]) >= 0.06 - 1e-12


def test_monte_carlo_prior_mass_within_interval() -> None:
    dags = enumerate_dags(4)
    cs = ConstraintSet(_hyps(), VARS)
    exact = HypothesisPriorMass.compute(cs, 0.5, dags=dags)
    mc = HypothesisPriorMass.compute(cs, 0.5, n_samples=20000, seed=3)
    assert not mc.exact and mc.n_samples == 20000
    assert bool(((mc.low <= exact.mass) & (exact.mass <= mc.high)).all())


def test_floor_prior_delta_is_the_log_prob_difference() -> None:
    """The policy's prior feature: log P(G + i->j) - log P(G) for every candidate, 0 on present edges."""
    names = ["A", "B", "C", "D"]
    hyps = [Hypothesis((Constraint("A", "D", path=True, forbidden=True), Constraint("D", "A", path=True, forbidden=True))),
            Hypothesis((Constraint("B", "C"),))]
    dags = enumerate_dags(4)
    prior = FloorPrior(ConstraintSet(hyps, names), torch.tensor([0.5, 0.5], dtype=torch.float64), beta=0.5, lam=0.3, dags=dags)
    delta = prior.delta(dags)
    for i in range(4):
        for j in range(4):
            if i != j:
                g = dags.clone()
                g[:, i, j] = True
                ref = (prior.log_prob(g) - prior.log_prob(dags)) * (~dags[:, i, j]).to(torch.float64)
                assert torch.allclose(delta[:, i, j], ref, atol=1e-10), (i, j)
