"""Constrained hill-climbing finds the best completion that exhaustive search over all DAGs finds."""
from __future__ import annotations


import pytest
import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.completion import best_completion
from theorycov.coverage.constraints import ConstraintSet, HypothesisError
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.exact import enumerate_dags
from theorycov.gfn.reward import Reward
from theorycov.gfn.scores.bge import BGeScore



@pytest.mark.parametrize("seed", [0, 1, 2])
def test_completion_is_the_constrained_argmax(seed: int) -> None:
    data, true = make_linear_gaussian_er(4, 1.0, 100, seed=seed)
    reward = Reward(BGeScore(data))
    names = list(data.names)
    dags = enumerate_dags(4)
    lr = reward.log_reward(dags)
    # One hypothesis agreeing with the truth (if it has an edge), one contradicting it, one path, one forbidden.
    i, j = (true.nonzero()[0].tolist() if bool(true.any()) else (0, 1))
    hyps = [
        Hypothesis((Constraint(names[i], names[j]),)),
        Hypothesis((Constraint(names[j], names[i]),)),
        Hypothesis((Constraint(names[0], names[3], path=True),)),
        Hypothesis((Constraint(names[i], names[j], forbidden=True), Constraint(names[1], names[2]))),
    ]
    cs = ConstraintSet(hyps, names)
    sat = cs.satisfies(dags)
    for row in range(len(hyps)):
        want = float(lr[sat[:, row]].max())
        got = best_completion(reward, cs, row, restarts=6, seed=seed)
        assert bool(cs.satisfies(got.adj[None])[0, row])
        assert got.log_reward == pytest.approx(float(reward.log_reward(got.adj[None])[0]))
        assert got.log_reward == pytest.approx(want, abs=1e-6), f"hypothesis {row}"


def test_start_graph_must_satisfy() -> None:
    data, _ = make_linear_gaussian_er(3, 1.0, 50, seed=0)
    cs = ConstraintSet([Hypothesis((Constraint("X0", "X1"),))], list(data.names))
    with pytest.raises(HypothesisError, match="does not satisfy"):
        best_completion(Reward(BGeScore(data)), cs, 0, start=torch.zeros(3, 3, dtype=torch.bool))


def test_neighbours_rescored_by_changed_nodes_above_the_table() -> None:
    """Above the dense table (d = 15 > 12) the climb rescores only the nodes a move changes, under a
    non-decomposable FloorPrior: the same log R as whole graphs, and the completion is a constrained local optimum."""
    from theorycov.coverage.completion import _neighbour_log_rewards, _neighbours
    from theorycov.coverage.prior import FloorPrior, HypothesisPriorMass
    from theorycov.gfn.graphs import is_acyclic

    data, true = make_linear_gaussian_er(15, 2.0, 200, seed=3)
    names = list(data.names)
    i, j = true.nonzero()[0].tolist()
    hyps = [Hypothesis((Constraint(names[i], names[j]),)), Hypothesis((Constraint(names[0], names[14], path=True),))]
    cs = ConstraintSet(hyps, names)
    w = torch.full((2,), 0.5, dtype=torch.float64)
    reward = Reward(BGeScore(data), FloorPrior(cs, w, lam=0.1, mass=HypothesisPriorMass.compute(cs, 1.0, n_samples=500, seed=0)))
    assert reward.score.table is None
    cur = true.clone()
    nb = _neighbours(cur)
    nb = nb[is_acyclic(nb)]
    fast = _neighbour_log_rewards(reward, reward.score.node_scores(cur[None])[0], cur, nb)
    assert torch.allclose(fast, reward.log_reward(nb), rtol=0, atol=1e-8)
    for row in range(2):
        got = best_completion(reward, cs, row, restarts=2, seed=0)
        assert got.log_reward == pytest.approx(float(reward.log_reward(got.adj[None])[0]), abs=1e-8)
        nb = _neighbours(got.adj)
        nb = nb[is_acyclic(nb) & cs.satisfies(nb)[:, row]]
        assert float(reward.log_reward(nb).max()) <= got.log_reward + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_dag_neighbours_are_the_acyclic_neighbours_in_order(seed: int) -> None:
    """The closure-decided moves equal the batched acyclicity filter: same graphs, same order."""
    from theorycov.coverage.completion import _neighbours
    from theorycov.gfn.graphs import is_acyclic

    _, true = make_linear_gaussian_er(12, 3.0, 10, seed=seed)
    nb = _neighbours(true)
    assert torch.equal(_neighbours(true, dag=True), nb[is_acyclic(nb)])
    # and their reachability, from the graph's own closure, is each neighbour's strict closure
    from theorycov.coverage.completion import _dag_neighbours
    from theorycov.coverage.constraints import transitive_closure

    dag_nb, reach = _dag_neighbours(true)
    assert torch.equal(reach, transitive_closure(dag_nb))
    # a candidate screen: the moves whose new edge it allows, as filtering afterwards would keep
    from theorycov.coverage.completion import _inside

    allowed = torch.rand(12, 12, generator=torch.Generator().manual_seed(seed)) < 0.5
    allowed |= true
    inside, r_in = _dag_neighbours(true, allowed)
    keep = _inside(dag_nb, allowed)
    assert torch.equal(inside, dag_nb[keep]) and torch.equal(r_in, reach[keep])
    data, _ = make_linear_gaussian_er(3, 1.0, 50, seed=0)
    cs = ConstraintSet([Hypothesis((Constraint("X0", "X1"),))], list(data.names))
    cyc = torch.tensor([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=torch.bool)
    with pytest.raises(HypothesisError, match="directed cycle"):
        best_completion(Reward(BGeScore(data)), cs, 0, start=cyc)
