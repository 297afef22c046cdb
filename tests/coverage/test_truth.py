"""The ground-truth pipeline of bench/guard_networks.py on a 5-node sub-network of ecoli70, exactly.

Every DAG on 5 nodes is enumerated (no training), so the guard's posterior is exact and what is left to
check is the pipeline itself: planted theories, the query grid, the mapping to the modelling scale, the
scores against the known SEM.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from theorycov.coverage.guard.guard import Guard, GuardConfig
from theorycov.coverage.guard.harm import HarmModelConfig
from theorycov.coverage.guard.truth import Scale, plant_theories, query_grid, score_queries, summarize
from theorycov.coverage.posterior import FitConfig, fit_posterior
from theorycov.db.schemas import Theory
from theorycov.gfn import DataTable, TrainerConfig
from theorycov.gfn.networks import LinearGaussianNetwork

pytestmark = pytest.mark.slow  # every DAG on 5 nodes through the harm model: ~10 s on an idle core

NODES = ["ygcE", "asnA", "icdA", "aceB", "atpD"]  # ygcE -> asnA -> icdA -> aceB, ygcE -> icdA, ygcE -> atpD


@pytest.fixture(scope="module")
def small(shared_data: Path):  # noqa: ANN201
    net = LinearGaussianNetwork.from_json(shared_data / "networks" / "ecoli70.json").induced(NODES)
    rng = np.random.default_rng(0)
    anchors = ["ygcE", "asnA", "icdA"]
    theories = plant_theories(net, anchors, rng)
    queries = query_grid(net, anchors, rng)
    x = net.sample(1000, seed=1)
    scale = Scale(net.names, x.mean(0), x.std(0))
    z = (x - scale.mean) / scale.std
    # the real pipeline; at d = 5 the guard reads the exact posterior over every DAG, so a few training
    # iterations are enough (the sampler's quality does not enter)
    cfg = FitConfig(minutes=None, progress=False, n_samples=64, n_traj=2, trainer=TrainerConfig(num_iterations=20, prefill=64, progress=False))
    run = fit_posterior(DataTable(z, net.names), [Theory(i, t.hypothesis) for i, t in enumerate(theories)], config=cfg)
    assert run.sample.exact and [t.id for t in run.theories.theories] == list(range(len(theories)))
    guard = Guard.from_run(run, config=GuardConfig(alpha=0.1, delta=0.1, harm=HarmModelConfig(n_draws=8)))
    return net, theories, queries, scale, guard


def test_planted_theories_are_what_they_claim(small) -> None:  # noqa: ANN001
    net, theories, _, _, _ = small
    assert [t.kind for t in theories] == ["true_cone", "true_cone_parents", "reversed"] + [
        "true_cone", "true_cone_parents", "wrong_sign", "true_cone", "true_cone_parents", "absent_path"]
    cone_ygce = {(c.cause, c.effect, c.sign) for c in theories[0].hypothesis.constraints}
    # every arc out of ygcE's causal cone, with its coefficient's sign (atpD's coefficient on ygcE is -0.7252)
    assert ("ygcE", "atpD", -1) in cone_ygce and ("icdA", "aceB", 1) in cone_ygce and len(cone_ygce) == 5
    assert {(c.cause, c.effect) for c in theories[2].hypothesis.constraints} == {(e, c) for c, e, _ in cone_ygce}
    cone_asna = {(c.cause, c.effect, c.sign) for c in theories[3].hypothesis.constraints}
    assert {(c.cause, c.effect) for c in theories[3].hypothesis.constraints} == {("asnA", "icdA"), ("icdA", "aceB")}
    # the parents variant adds the arcs into asnA's cone from outside: ygcE -> asnA and ygcE -> icdA
    assert {(c.cause, c.effect) for c in theories[4].hypothesis.constraints} == {
        ("asnA", "icdA"), ("icdA", "aceB"), ("ygcE", "asnA"), ("ygcE", "icdA")}
    assert {(c.cause, c.effect, -c.sign) for c in theories[5].hypothesis.constraints} == cone_asna
    (path,) = theories[8].hypothesis.constraints
    assert path.path and path.cause == "icdA" and not net.reachability()[net.index("icdA"), net.index(path.effect)]


def test_query_grid_and_its_exact_risks(small) -> None:  # noqa: ANN001
    net, _, queries, _, _ = small
    # (levels x harms) x outcomes: ygcE 3 of its 4 descendants (no other node), asnA 2 + 2, icdA 1 + 2
    assert len(queries) == 4 * 3 + 4 * 4 + 4 * 3
    for q in queries:
        if not q.descendant:  # do(X) leaves a non-descendant's law alone: both harms have probability 0.1
            assert q.true_risk(net) == pytest.approx(0.1, abs=1e-9)
    strong = [q for q in queries if q.target == "icdA" and q.outcome == "aceB" and q.harm == "outside_q5_q95"]
    assert min(q.true_risk(net) for q in strong) > 0.3  # aceB = 1.05 icdA + noise: pushing icdA to q5/q95 moves aceB out


def test_exact_guard_against_the_known_sem(small) -> None:  # noqa: ANN001
    net, theories, queries, scale, guard = small
    scores = score_queries(guard, net, queries, scale, alpha=0.1, theories=theories)
    s = summarize(scores, threshold=0.2)
    plausible = guard.table.plausible.numpy()
    kinds = [t.kind for t in theories]
    assert all(plausible[i] for i, k in enumerate(kinds) if k.startswith("true"))  # n = 1000: no true theory refuted
    assert not plausible[kinds.index("reversed")]  # ...and the reversed chain is
    assert not plausible[kinds.index("wrong_sign")]  # signed theories: flipped signs are refuted too
    # the exact posterior's MAP graph is the true one's equivalence class here; the theory that also fixes the
    # parents of the anchor's cone predicts better than the one that fixes the causal paths alone
    assert s["map_brier"] < 1e-3
    assert s["own_true_cone_parents_brier"] < s["own_true_cone_brier"]
    # the human bound allows no harmful query, and covers the truth on most queries (not all: a theory's
    # risk is a posterior mean, and the data's sampling error moves it either side of the truth)
    assert s["human_false_allow"] == 0.0 and 0.8 <= s["human_guarantee_rate"] <= s["human_guarantee_rate_within_2sd"]
    assert np.all(scores["human"] >= scores["own_true_cone_parents"] - 1e-12)  # plausible, so inside the max
