"""The fitted run: saved and loaded it decides like the run in memory; the audit and the guard agree on
which theories the data refute; the harm model's likelihood power; run files cannot execute code."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from theorycov.coverage.guard.explain import CausalPath, EdgeExplanation, sign_contradictions
from theorycov.coverage.guard.harm import HarmModel, HarmModelConfig
from theorycov.coverage.posterior import FitConfig, fit_posterior
from theorycov.coverage.run import FittedRun, RunError
from theorycov.coverage.theories import TheorySet
from theorycov.db.schemas import Citation, Constraint, Hypothesis, Theory
from theorycov.gfn import PolicyConfig, TrainerConfig
from theorycov.gfn import DataTable
from theorycov.gfn.data import make_linear_gaussian_er, sample_erdos_renyi_dag, sample_linear_gaussian

CFG = FitConfig(
    minutes=None, n_samples=400, n_traj=4, audit_every=100, progress=False,
    trainer=TrainerConfig(num_iterations=150, num_envs=16, batch_size=64, prefill=64, warmup_iters=20, eps_decay_iters=100,
                          progress=False, policy=PolicyConfig(hidden=32)),
)  # fmt: skip


def _data() -> tuple[DataTable, np.ndarray]:
    """make_linear_gaussian_er(4, 1.0, 100, seed=5) with the weights it drew: (data, weights (d, d))."""
    rng = np.random.default_rng(5)
    adj = sample_erdos_renyi_dag(4, 1.0, rng)
    values, w = sample_linear_gaussian(adj, 100, rng)
    return DataTable(values, tuple(f"X{j}" for j in range(4))), w


def _theories(names: tuple[str, ...], w: np.ndarray) -> list[Theory]:
    (a, b), (c, e) = np.argwhere(w != 0)[:2].tolist()
    sign = 1 if w[a, b] > 0 else -1
    paper = Citation("A paper", ("Doe, J.", "Roe, R."), 2001)
    return [
        # true, with the true sign of a -> b
        Theory(7, Hypothesis((Constraint(names[a], names[b], sign=sign), Constraint(names[c], names[e]))), (paper,), 2.0),
        # false: a and b causally unrelated, against a strong true edge (refuted)
        Theory(8, Hypothesis((Constraint(names[a], names[b], path=True, forbidden=True), Constraint(names[b], names[a], path=True, forbidden=True))), (), 1.0),
        Theory(9, Hypothesis((Constraint(names[a], names[b]), Constraint(names[b], names[a], path=True))), (), 1.0),  # cyclic
        Theory(10, Hypothesis((Constraint(names[a], names[b], sign=-sign),)), (), 1.0),  # the true edge with the wrong sign
    ]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[FittedRun, Path]:
    data, w = _data()
    run = fit_posterior(data, _theories(data.names, w), config=CFG, domain="toy", aliases={"X0": ["x zero"]})
    return run, run.save(tmp_path_factory.mktemp("run") / "run-1")


def test_saved_run_decides_like_the_run_in_memory(fitted: tuple[FittedRun, Path]) -> None:
    run, folder = fitted
    back = FittedRun.load(folder)
    assert back.theories is not None and [t.id for t in back.theories.theories] == [7, 8, 10]
    assert [e.theory.id for e in back.theories.excluded] == [9] and "cyclic" in back.theories.excluded[0].reason
    assert back.theories.theories[0].citations[0].short() == "Doe et al. 2001" and back.theories.theories[0].weight == 2.0
    assert torch.equal(back.sample.graphs, run.sample.graphs) and torch.equal(back.prior_mass, run.prior_mass)
    assert back.config == run.config and back.likelihood_power == run.likelihood_power and back.aliases == {"X0": ["x zero"]}
    assert back.report is not None and run.report is not None and back.report.rows == run.report.rows
    names = run.data.names
    for action, harm in ((f"do({names[0]} = 2)", f"{names[1]} > q90"), ("inhibit x zero", f"{names[3]} outside [q5, q95]")):
        for bound in ("human", "posterior", "prop34"):
            mem, disk = run.guard().check(action, harm, bound=bound), back.guard().check(action, harm, bound=bound)
            assert mem.estimates == disk.estimates and mem.risk == disk.risk and mem.status == disk.status
            assert mem.deciding_theory_id == disk.deciding_theory_id
            if mem.deciding_theory_id is not None:  # the explanation never contradicts the theory it cites
                theory = next(t for t in run.theories.theories if t.id == mem.deciding_theory_id)
                assert sign_contradictions(mem.paths, theory.hypothesis.constraints) == []


def test_sign_contradictions_are_found() -> None:
    path = CausalPath((EdgeExplanation("A", "B", 0.5), EdgeExplanation("B", "C", -0.4)))
    assert sign_contradictions([path], [Constraint("A", "B", sign=1), Constraint("A", "C", path=True, sign=-1)]) == []
    found = sign_contradictions([path], [Constraint("A", "B", sign=-1), Constraint("A", "C", path=True, sign=1)])
    assert found == ["A inhibits B, but the edge shows +0.50", "A activates C (directly or indirectly), but the shown paths sum to -0.20"]


def test_audit_and_guard_agree_on_refuted_theories(fitted: tuple[FittedRun, Path]) -> None:
    run, _ = fitted
    assert run.report is not None
    guard = run.guard()
    assert guard.table is not None
    refuted_audit = [r.verdict == "refuted by the data" for r in run.report.rows]
    implausible_guard = (~guard.table.plausible).tolist()
    assert refuted_audit == implausible_guard
    # the planted false theories are refuted by both, the true one by neither; the wrong sign by its sign alone
    assert refuted_audit == [False, True, True]
    assert [r.refuted_by for r in run.report.rows] == ["", "structure", "signs"]
    assert run.report.rows[2].sign_support < 0.05 < run.report.rows[0].sign_support


def test_run_files_are_data_not_code(tmp_path: Path, fitted: tuple[FittedRun, Path]) -> None:
    """A crafted run.pt that would execute code on unpickling is refused, and nothing runs."""
    _, folder = fitted
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text((folder / "run.json").read_text())

    class Boom:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (tmp_path / "pwned",))

    (bad / "run.pt").write_bytes(pickle.dumps({"x": Boom()}))
    with pytest.raises(RunError, match="not a plain tensor file"):
        FittedRun.load(bad)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(RunError, match="holds no saved run"):
        FittedRun.load(tmp_path)


def test_theory_set_keeps_the_excluded_with_their_reason() -> None:
    names = ("A", "B", "C")
    ts = TheorySet.select([Hypothesis((Constraint("A", "B"),)), Hypothesis(()), Hypothesis((Constraint("A", "Z"),))], names)
    assert len(ts) == 1 and [e.reason for e in ts.excluded][0] == "it states no constraint on the graph"
    assert "not a variable of this domain" in ts.excluded[1].reason
    assert torch.equal(ts.weights, torch.tensor([1.0], dtype=torch.float64))


def test_harm_model_power_is_data_copies() -> None:
    """Likelihood power 2 gives exactly the parameter posterior of the data stacked twice; power 0.1 widens
    the weight posterior by about sqrt(10) without moving its mean much (prior shrinkage aside)."""
    data, _ = make_linear_gaussian_er(3, 1.0, 2000, seed=2)
    x = torch.as_tensor(data.values)
    x = (x - x.mean(0)) / x.std(0)  # the modelling scale, where the prior's t = 0.5 is small against the data
    twice = HarmModel(torch.cat([x, x]), config=HarmModelConfig())
    power2 = HarmModel(x, config=HarmModelConfig(power=2.0))
    for j, mask in ((1, 0b001), (2, 0b011), (0, 0)):
        a, b = twice.node_posterior(j, mask), power2.node_posterior(j, mask)
        assert torch.allclose(a.mean, b.mean) and torch.allclose(a.prec, b.prec) and a.a == pytest.approx(b.a) and a.b == pytest.approx(b.b)
    full, tempered = HarmModel(x).node_posterior(2, 0b011), HarmModel(x, config=HarmModelConfig(power=0.1)).node_posterior(2, 0b011)
    cov_full = torch.linalg.inv(full.prec) * full.b / (full.a - 1)
    cov_temp = torch.linalg.inv(tempered.prec) * tempered.b / (tempered.a - 1)
    ratio = (torch.diagonal(cov_temp) / torch.diagonal(cov_full)).sqrt()
    assert torch.all((ratio > 2.5) & (ratio < 4.0)), ratio
    assert torch.allclose(full.mean, tempered.mean, atol=0.05)
    with pytest.raises(ValueError, match="likelihood power must be > 0"):
        HarmModel(x, config=HarmModelConfig(power=0.0))
