"""gfn.occam: the single-edge neighbourhood and Occam's window, against brute force over every DAG at d = 4."""
from __future__ import annotations

import torch

from theorycov.gfn import BGeScore, Reward, enumerate_dags
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.occam import OccamConfig, edge_neighbours, occam_window
from theorycov.gfn.scores.priors import EdgeCountPrior


def _one_move(a: torch.Tensor, b: torch.Tensor) -> bool:
    """b is a with one edge added, removed or reversed."""
    diff = a ^ b
    if int(diff.sum()) == 1:
        return True
    return int(diff.sum()) == 2 and bool(((a & ~b) == (b & ~a).T).all()) and int((a & ~b).sum()) == 1


def _reward(d: int = 4) -> Reward:
    return Reward(BGeScore(make_linear_gaussian_er(d, 1.0, 60, seed=3)[0].standardized()), EdgeCountPrior(0.5))


def test_edge_neighbours_are_exactly_the_one_move_dags_with_exact_log_reward() -> None:
    dags = enumerate_dags(4)
    reward = _reward()
    lr_all = reward.log_reward(dags)
    key = {bytes(g.flatten().tolist()): i for i, g in enumerate(dags)}
    from theorycov.gfn.occam import _moves

    for n in range(0, dags.shape[0], 7):
        g = dags[n]
        new, lr = _moves(g, float(lr_all[n]), reward, None, None)
        got = {bytes(x.flatten().tolist()) for x in new}
        want = {bytes(h.flatten().tolist()) for h in dags if _one_move(g, h)}
        assert got == want and len(got) == new.shape[0]
        idx = torch.tensor([key[bytes(x.flatten().tolist())] for x in new])
        assert torch.allclose(lr, lr_all[idx], atol=1e-9)


def test_edge_neighbours_respect_the_mask_and_the_in_degree_cap() -> None:
    g = torch.zeros(4, 4, dtype=torch.bool)
    g[0, 2] = g[1, 2] = True
    allowed = torch.ones(4, 4, dtype=torch.bool)
    allowed[3, 2] = False  # 3 -> 2 never
    kind, src, dst = edge_neighbours(g, allowed, max_parents=2)
    moves = set(zip(kind.tolist(), src.tolist(), dst.tolist()))
    assert (0, 3, 2) not in moves  # masked, and 2 is full anyway
    assert not any(k == 0 and j == 2 for k, _, j in moves)  # node 2 holds its cap of 2 parents
    assert (2, 0, 2) in moves and (1, 1, 2) in moves
    assert (0, 2, 0) not in moves  # 0 -> 2 exists: the reverse is a reversal, never an addition


def test_occam_window_holds_every_dag_within_the_window_that_moves_reach() -> None:
    dags = enumerate_dags(4)
    reward = _reward()
    lr_all = reward.log_reward(dags)
    start = lr_all.argsort()[:1]  # the worst DAG: the window has to climb
    g, lr = occam_window(dags[start], lr_all[start], reward, OccamConfig(window=float("inf"), rounds=20, frontier=10_000))
    assert g.shape[0] == dags.shape[0] - 1  # every other DAG: single-edge moves connect the DAG space
    w = 3.0
    best = int(lr_all.argmax())
    g, lr = occam_window(dags[best : best + 1], lr_all[best : best + 1], reward, OccamConfig(window=w, rounds=1, frontier=1))
    want = {bytes(h.flatten().tolist()) for h, l in zip(dags, lr_all) if _one_move(dags[best], h) and float(l) >= float(lr_all[best]) - w}
    assert {bytes(x.flatten().tolist()) for x in g} == want
    assert bool((lr[:-1] >= lr[1:]).all())  # best first
