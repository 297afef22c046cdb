"""Metrics against hand-computed values; data tables, generators and the Sachs loader."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from theorycov.gfn import (
    DataError,
    DataTable,
    ShapeError,
    UnknownVariableError,
    auprc,
    auroc,
    expected_num_edges,
    expected_shd,
    is_acyclic,
    jensen_shannon,
    kl_divergence,
    load_sachs,
    make_linear_gaussian_er,
    sachs_consensus_adjacency,
)


def test_divergences() -> None:
    p = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.0, 0.5, 0.5])
    assert jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(p, q) == pytest.approx(0.5 * math.log(2), rel=1e-9)
    assert kl_divergence(p, q) == math.inf
    assert kl_divergence(torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])) == pytest.approx(
        0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-9
    )


def test_shd_auroc_auprc() -> None:
    truth = torch.zeros(3, 3, dtype=torch.bool)
    truth[0, 1] = truth[1, 2] = True
    rev = torch.zeros(3, 3, dtype=torch.bool)
    rev[1, 0] = rev[1, 2] = True  # one reversed edge
    extra = truth.clone()
    extra[0, 2] = True  # one extra edge
    samples = torch.stack([truth, rev, extra, torch.zeros(3, 3, dtype=torch.bool)])
    assert expected_shd(samples, truth) == pytest.approx((0 + 1 + 1 + 2) / 4)
    assert expected_num_edges(samples) == pytest.approx((2 + 2 + 3 + 0) / 4)
    assert auroc(truth.double(), truth) == pytest.approx(1.0)
    assert auroc(1.0 - truth.double(), truth) == pytest.approx(0.0)
    assert auprc(truth.double(), truth) == pytest.approx(1.0)
    scores = torch.tensor([[0, 0.9, 0.8], [0.1, 0, 0.7], [0.2, 0.3, 0]])  # 0->1 first, then 0->2 (false), then 1->2
    assert auprc(scores, truth) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    with pytest.raises(ShapeError):
        auroc(scores, torch.zeros(3, 3, dtype=torch.bool))


def test_data_table_validation() -> None:
    with pytest.raises(ShapeError):
        DataTable(np.zeros((3, 2)), ("a",))
    with pytest.raises(DataError):
        DataTable(np.array([[np.nan, 1.0]]), ("a", "b"))
    with pytest.raises(DataError):
        DataTable(np.array([[0, 3]]), ("a", "b"), arities=(2, 2))
    t = DataTable(np.zeros((2, 2)), ("a", "b"))
    assert t.index("b") == 1
    with pytest.raises(UnknownVariableError, match="known variables: a, b"):
        t.index("c")


def test_linear_gaussian_generator_is_seeded() -> None:
    t1, g1 = make_linear_gaussian_er(10, 2.0, 50, seed=4)
    t2, g2 = make_linear_gaussian_er(10, 2.0, 50, seed=4)
    t3, g3 = make_linear_gaussian_er(10, 2.0, 50, seed=5)
    assert np.array_equal(t1.values, t2.values) and torch.equal(g1, g2)
    assert not np.array_equal(t1.values, t3.values)
    assert bool(is_acyclic(g1)[0])


def test_sachs_loader(shared_data: Path) -> None:
    full = load_sachs(shared_data / "sachs" / "sachs2005_labeled.csv")
    assert (full.n, full.d) == (7466, 11)
    # row blocks and targets: aktinhib rows 1755..2665 intervene on Akt only
    assert full.intervened[1755:2666, full.index("Akt")].all()
    assert full.intervened[1755:2666].sum() == 911
    assert not full.intervened[:1755].any()
    assert full.intervened.sum() == 911 + 723 + 810 + 799 + 913 + 707
    assert np.allclose(full.values.mean(0), 0.0, atol=1e-9) and np.allclose(full.values.std(0), 1.0)
    obs = load_sachs(shared_data / "sachs" / "sachs2005_labeled.csv", observational_only=True)
    assert obs.n == 853 and not obs.intervened.any()
    raw = np.loadtxt(shared_data / "sachs" / "sachs2005_observational.csv", delimiter=",", skiprows=1)
    logged = np.log(raw)
    assert np.allclose(obs.values, (logged - logged.mean(0)) / logged.std(0))
    cons = sachs_consensus_adjacency()
    assert int(cons.sum()) == 17 and bool(is_acyclic(cons)[0])
