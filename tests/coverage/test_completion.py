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
