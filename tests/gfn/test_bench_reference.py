"""bench/reference.py's graph sample: uniform over the whole recorded run, each graph with its chain."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "reference.py"


@pytest.fixture(scope="module")
def reference():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("bench_reference", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def _encode(t: int, chain: int) -> torch.Tensor:
    """(4, 4) bool whose 16 bits spell 2 * t + chain."""
    v = 2 * t + chain
    return torch.tensor([(v >> b) & 1 for b in range(16)], dtype=torch.bool).view(4, 4)


def _decode(g: torch.Tensor) -> int:
    return int(sum(int(b) << i for i, b in enumerate(g.flatten().tolist())))


def test_reservoir_is_uniform_over_the_run_and_keeps_chains(reference) -> None:  # noqa: ANN001
    T, keep, C = 1000, 100, 2  # 1,000 recordings of 2 chains, 50 slots
    hits = torch.zeros(T)
    for seed in range(40):
        res = reference.GraphReservoir(keep, C, 4, seed)
        for t in range(T):
            res.add(torch.stack([_encode(t, c) for c in range(C)]))
        ids = [_decode(g) for g in res.graphs()]
        chains = res.chains().tolist()
        assert len(ids) == keep and [v % 2 for v in ids] == chains  # each graph carries its own chain
        assert len({v // 2 for v in ids}) == keep // C  # distinct recordings, both chains of each
        for v in ids[::2]:
            hits[v // 2] += 1
    # inclusion probability slots / T = 0.05 for every recording: the first tenth of the run is not favoured
    first, last = hits[: T // 10].mean() / 40, hits[-T // 10:].mean() / 40
    assert abs(float(first) - 0.05) < 0.012 and abs(float(last) - 0.05) < 0.012


def test_reservoir_shorter_than_its_slots(reference) -> None:  # noqa: ANN001
    res = reference.GraphReservoir(10, 2, 4, 0)
    for t in range(3):
        res.add(torch.stack([_encode(t, c) for c in range(2)]))
    assert [_decode(g) for g in res.graphs()] == [0, 1, 2, 3, 4, 5] and res.chains().tolist() == [0, 1] * 3
