"""The guard against exact enumeration (d = 4): sampled posterior risk vs the exact value, and the
human bound's guarantee when a true theory is planted."""
from __future__ import annotations

import torch

from theorycov.corpus.types import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.guard import Guard, GuardConfig
from theorycov.coverage.prior import FloorPrior
from theorycov.gfn import BGeScore, Reward, enumerate_dags
from theorycov.gfn.data import make_linear_gaussian_er


def _problem(seed: int):  # noqa: ANN202
    data, true = make_linear_gaussian_er(4, 1.0, 60, seed=seed)
    x = torch.as_tensor(data.values)
    x = (x - x.mean(0)) / x.std(0)
    return data, true, x


def test_sampled_posterior_risk_matches_enumeration() -> None:
    data, true, x = _problem(11)
    dags = enumerate_dags(4)
    lr = Reward(BGeScore(data)).log_reward(dags)
    names = list(data.names)
    i, j = true.nonzero()[0].tolist()
    exact = Guard(names, x, None, dags, lr, lr, exact=True)
    query = (f"do({names[i]} = 2.0)", f"{names[j]} outside [q5, q95]")
    truth = exact.check(*query).estimates["posterior"]
    inside = 0
    for seed in range(10):  # 10 independent posterior samples of 3,000 graphs (weights = 1 each)
        post = torch.softmax(lr, 0)
        idx = torch.multinomial(post, 3000, replacement=True, generator=torch.Generator().manual_seed(seed))
        g = Guard(names, x, None, dags[idx], lr[idx], torch.zeros(3000, dtype=torch.float64))
        est = g.check(*query).estimates
        lo, hi = est["posterior_ci"]
        inside += int(lo <= truth <= hi)
        assert est["n_graphs"] <= 543
    assert inside >= 8, inside


def test_human_bound_covers_a_true_theory() -> None:
    """With a true theory planted, the human bound is at least that theory's harm probability in
    >= (1 - delta) of seeds (Ville: the true theory stays plausible)."""
    dags = enumerate_dags(4)
    ok, delta = 0, 0.1
    for seed in range(10):
        data, true, x = _problem(seed)
        names = list(data.names)
        edges = true.nonzero().tolist()
        if not edges:
            ok += 1
            continue
        theory = Hypothesis(tuple(Constraint(names[a], names[b]) for a, b in edges))
        decoy = Hypothesis((Constraint(names[edges[0][1]], names[edges[0][0]], path=True),))
        cs = ConstraintSet([theory, decoy], names)
        prior = FloorPrior(cs, torch.tensor([0.5, 0.5], dtype=torch.float64), lam=0.1, dags=dags)
        lr = Reward(BGeScore(data), prior).log_reward(dags)
        g = Guard(names, x, None, dags, lr, lr, constraints=cs, p_min=prior.p_min, exact=True, config=GuardConfig(delta=delta))
        a, b = edges[0]
        act, harm = g.parse(f"do({names[a]} = 2.5)", f"{names[b]} outside [q5, q95]")
        _, est = g.estimate(act, harm)
        theory_risk = est.theories[0].risk
        ok += int(est.human >= theory_risk - 1e-12 and est.theories[0].plausible)
    assert ok >= (1 - delta) * 10, ok
