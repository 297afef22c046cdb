"""Vectorized G |= h against a direct per-graph check, and the errors for unusable hypotheses."""
from __future__ import annotations

import itertools
import random

import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet, HypothesisError, transitive_closure

VARS = ["A", "B", "C", "D", "E", "F"]


def _random_dag(rng: random.Random, d: int, p: float) -> torch.Tensor:
    order = list(range(d))
    rng.shuffle(order)
    adj = torch.zeros(d, d, dtype=torch.bool)
    for a, b in itertools.combinations(range(d), 2):
        if rng.random() < p:
            adj[order[a], order[b]] = True
    return adj


def _reach(adj: torch.Tensor, i: int, j: int) -> bool:
    stack, seen = [i], set()
    while stack:
        u = stack.pop()
        for v in adj[u].nonzero().flatten().tolist():
            if v == j:
                return True
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return False


def _holds(adj: torch.Tensor, c: Constraint) -> bool:
    i, j = VARS.index(c.cause), VARS.index(c.effect)
    present = _reach(adj, i, j) if c.path else bool(adj[i, j])
    return not present if c.forbidden else present


def test_satisfies_matches_direct_check() -> None:
    rng = random.Random(0)
    hyps = []
    while len(hyps) < 40:
        cs = []
        for _ in range(rng.randint(1, 3)):
            a, b = rng.sample(VARS, 2)
            cs.append(Constraint(a, b, path=rng.random() < 0.4, forbidden=rng.random() < 0.3, sign=rng.choice([-1, 0, 1])))
        try:
            ConstraintSet([Hypothesis(tuple(cs))], VARS)
        except HypothesisError:
            continue
        hyps.append(Hypothesis(tuple(cs)))
    graphs = torch.stack([_random_dag(rng, 6, rng.choice([0.2, 0.5, 0.8])) for _ in range(300)])
    got = ConstraintSet(hyps, VARS).satisfies(graphs)
    want = torch.tensor([[all(_holds(g, c) for c in h.constraints) for h in hyps] for g in graphs])
    assert got.shape == (300, 40)
    assert torch.equal(got, want)
    assert 0 < int(got.sum()) < got.numel()  # both outcomes occur: the test can fail


def test_transitive_closure_of_chain() -> None:
    adj = torch.zeros(1, 5, 5, dtype=torch.bool)
    for i in range(4):
        adj[0, i, i + 1] = True
    reach = transitive_closure(adj)[0]
    assert torch.equal(reach, torch.ones(5, 5, dtype=torch.bool).triu(1))


def test_errors_name_the_problem() -> None:
    with pytest.raises(HypothesisError, match="'Zap', which is not a variable"):
        ConstraintSet([Hypothesis((Constraint("A", "Zap"),))], VARS)
    with pytest.raises(HypothesisError, match="cyclic"):
        ConstraintSet([Hypothesis((Constraint("A", "B"), Constraint("B", "C", path=True), Constraint("C", "A")))], VARS)
    with pytest.raises(HypothesisError, match="both requires and forbids"):
        ConstraintSet([Hypothesis((Constraint("A", "B"), Constraint("A", "C", path=True, forbidden=True), Constraint("B", "C")))], VARS)
    with pytest.raises(HypothesisError, match="itself"):
        ConstraintSet([Hypothesis((Constraint("A", "A"),))], VARS)


def test_satisfies_after_each_edge_matches_adding_the_edge() -> None:
    """Exhaustive at d = 4: the closed form for G + (i -> j) equals satisfies() on the modified graphs."""
    from theorycov.gfn import enumerate_dags

    names = ["A", "B", "C", "D"]
    hyps = [
        Hypothesis((Constraint("A", "C", path=True),)),
        Hypothesis((Constraint("A", "B"), Constraint("C", "D", forbidden=True))),
        Hypothesis((Constraint("D", "A", path=True, forbidden=True), Constraint("B", "C", path=True))),
        Hypothesis((Constraint("B", "D", path=True, forbidden=True),)),
    ]
    cs = ConstraintSet(hyps, names)
    dags = enumerate_dags(4)
    after = cs.satisfies_after_each_edge(dags)  # (543, 4, 4, 4)
    for i in range(4):
        for j in range(4):
            if i != j:
                g = dags.clone()
                g[:, i, j] = True
                assert torch.equal(after[:, i, j], cs.satisfies(g)), (i, j)


def test_required_edges_keep_every_theory_representable_inside_a_screen() -> None:
    """The union of the theories' required edges and required paths' direct edges; forbidden ones add nothing.
    Every theory without a forbidden part has a DAG that uses only those edges and satisfies it."""
    hyps = [Hypothesis(constraints=(Constraint("A", "B"), Constraint("C", "D", forbidden=True))),
            Hypothesis(constraints=(Constraint("B", "E", path=True),)),
            Hypothesis(constraints=(Constraint("F", "A", path=True, forbidden=True),))]
    cs = ConstraintSet(hyps, VARS)
    req = cs.required_edges()
    assert req.dtype == torch.bool and req.shape == (6, 6)
    assert {tuple(e) for e in req.nonzero().tolist()} == {(0, 1), (1, 4)}
    assert bool(cs.satisfies(req[None])[0, :2].all())  # the screen's own edges satisfy both positive theories
