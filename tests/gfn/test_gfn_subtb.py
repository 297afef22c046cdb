"""Subtrajectory balance on whole trajectories (gfn/subtb.py): its residuals are the modified DB residuals of the
trajectory's steps, its loss is the lambda-weighted sum over every stretch, and a run trained with it still reaches
the exact posterior at d = 3."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from theorycov.gfn import (
    BGeScore,
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    distribution_metrics,
    enumerate_dags,
    exact_posterior,
    exact_terminal_distribution,
    make_linear_gaussian_er,
)
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.losses import modified_db_residual
from theorycov.gfn.subtb import subtb_loss, trajectory_residuals


@pytest.fixture(scope="module")
def reward5() -> Reward:
    table, _ = make_linear_gaussian_er(5, 2.0, 100, seed=3)
    return Reward(BGeScore(table))


def test_residuals_are_the_db_residuals_of_the_trajectory_steps(reward5: Reward) -> None:
    tr = Trainer(TrainerConfig(progress=False), reward5)
    graphs = torch.zeros(2, 5, 5, dtype=torch.bool)
    graphs[0, 0, 1] = graphs[0, 1, 2] = graphs[0, 0, 3] = graphs[0, 3, 4] = True  # 4 edges
    graphs[1, 2, 0] = graphs[1, 4, 1] = True  # 2 edges
    with torch.no_grad():
        res, valid = trajectory_residuals(tr.policy, tr.env, graphs, torch.Generator().manual_seed(0))
    assert valid.sum(1).tolist() == [4, 2] and res.shape == (2, 4)
    assert bool((res[~valid] == 0).all())
    # rebuild each trajectory from its residuals' order: the step t adds the one edge of s_t+1 not in s_t, found by
    # replaying the same generator's edge order, then score every step alone with the DB residual
    from theorycov.gfn.sampling import random_edge_order

    order = random_edge_order(graphs.flatten(1), torch.Generator().manual_seed(0))
    for k in range(2):
        state = torch.zeros(1, 5, 5, dtype=torch.bool)
        for t in range(int(valid[k].sum())):
            a = int(order[k, t])
            nxt = state.clone()
            nxt[0, a // 5, a % 5] = True
            with torch.no_grad():
                lp = tr.policy.slot_log_probs(tr.env.states(torch.cat([state, nxt])))
            delta = reward5.log_reward(nxt) - reward5.log_reward(state)  # full re-scoring, not delta_edges
            want = modified_db_residual(lp[:1], lp[1:, -1], tr.env.slot[torch.tensor([a])], delta, nxt.flatten(1).sum(1))
            assert abs(float(res[k, t]) - float(want[0])) < 1e-3 * max(1.0, abs(float(want[0])))
            state = nxt


@pytest.mark.parametrize("huber", [None, 1.0])
def test_loss_is_the_weighted_mean_over_every_stretch(huber: float | None) -> None:
    gen = torch.Generator().manual_seed(1)
    res = torch.randn(3, 5, generator=gen, dtype=torch.float64) * 3
    valid = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    res = torch.where(valid, res, torch.zeros_like(res))
    lam = 0.8
    num = den = 0.0
    for k in range(3):
        m = int(valid[k].sum())
        for i in range(m):
            for j in range(i + 1, m + 1):
                x = res[k, i:j].sum()
                pen = float(x**2) if huber is None else float(F.huber_loss(x, torch.zeros_like(x), delta=huber))
                num, den = num + lam ** (j - i) * pen, den + lam ** (j - i)
    assert abs(float(subtb_loss(res, valid, lam, huber)) - num / den) < 1e-9


def test_config_rejects_bad_subtb_settings() -> None:
    with pytest.raises(ConfigError, match="subtb"):
        TrainerConfig(subtb_lambda=0.0)
    with pytest.raises(ConfigError, match="subtb"):
        TrainerConfig(subtb_weight=-1.0)


@pytest.mark.slow
def test_training_with_subtb_reaches_the_exact_posterior_d3() -> None:
    table, _ = make_linear_gaussian_er(3, 1.0, 100, seed=1)
    reward = Reward(BGeScore(table))
    dags = enumerate_dags(3)
    pool = dags[dags.flatten(1).any(1)]  # every non-empty DAG: SubTB holds for trajectories from any distribution
    calls: list[int] = []

    def hook(n: int, generator: torch.Generator) -> torch.Tensor:
        calls.append(n)
        return pool[torch.randint(pool.shape[0], (n,), generator=generator)]

    cfg = TrainerConfig(seed=0, num_iterations=1500, num_envs=32, batch_size=256, prefill=256, eps_decay_iters=500,
                        warmup_iters=50, progress=False, policy=PolicyConfig(hidden=64, num_layers=2),
                        subtb_weight=20.0, subtb_graphs=8)
    tr = Trainer(cfg, reward, trajectories=hook)
    tr.train()
    assert len(calls) == 1500 and set(calls) == {8}
    m = distribution_metrics(dags, exact_posterior(reward, dags), exact_terminal_distribution(tr.policy, dags))
    assert m["jsd"] < 0.01, m
