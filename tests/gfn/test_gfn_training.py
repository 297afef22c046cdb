"""Exact posterior, training to the exact posterior on d = 3, backward estimates, resume, hooks."""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from theorycov.gfn import (
    BDeuScore,
    CheckpointError,
    DataTable,
    EdgeCountPrior,
    InvalidActionError,
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    Transitions,
    distribution_metrics,
    enumerate_dags,
    exact_posterior,
    exact_terminal_distribution,
    graph_codes,
    log_pt_backward,
    order_spread,
    sample,
)
from theorycov.gfn.errors import ConfigError


@pytest.fixture(scope="module")
def trained3(reward3: Reward) -> Trainer:
    cfg = TrainerConfig(seed=0, num_iterations=1500, num_envs=32, batch_size=256, prefill=256,
                        eps_decay_iters=500, warmup_iters=50, progress=False,
                        policy=PolicyConfig(hidden=64, num_layers=2))
    tr = Trainer(cfg, reward3)
    tr.train()
    return tr


def test_exact_posterior_of_two_binary_variables_worked_by_hand() -> None:
    """Rows (A, B) = (0, 0), (1, 1), BDeu with ess = 1, worked by the Polya urn:
    empty graph: (1/2 * 1/4) per node, 1/64; A -> B: 1/8 for A times 1/2 * 1/2 for B given each new
    configuration of A, 1/32; B -> A likewise. Uniform prior: P = (1/5, 2/5, 2/5); with the edge-count
    prior beta = 1/2 each graph with an edge loses half its weight: (1/3, 1/3, 1/3)."""
    table = DataTable(np.array([[0, 0], [1, 1]]), ("A", "B"), arities=(2, 2))
    dags = enumerate_dags(2)
    assert dags.shape[0] == 3
    n_edges = dags.flatten(1).sum(1).tolist()
    a_to_b = [bool(g[0, 1]) for g in dags]
    expected = {(0, False): 1 / 5, (1, True): 2 / 5, (1, False): 2 / 5}
    post = exact_posterior(Reward(BDeuScore(table, ess=1.0)), dags)
    for k in range(3):
        assert float(post[k]) == pytest.approx(expected[n_edges[k], a_to_b[k]], abs=1e-12)
    post = exact_posterior(Reward(BDeuScore(table, ess=1.0), EdgeCountPrior(0.5)), dags)
    assert torch.allclose(post, torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-12)


def test_exact_posterior_against_brute_force_d3(reward3: Reward) -> None:
    """All 25 DAGs on 3 nodes listed here with itertools and a cycle check, each scored alone with an
    edge-count prior and normalized with math.fsum: the library's exact posterior agrees graph by graph."""
    reward = Reward(reward3.score, EdgeCountPrior(0.3))
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    mine: dict[int, float] = {}
    for bits in itertools.product([0, 1], repeat=6):
        g = torch.zeros(1, 3, 3, dtype=torch.bool)
        for (i, j), b in zip(pairs, bits):
            g[0, i, j] = bool(b)
        power = g[0].to(torch.int64)
        if any(int(torch.linalg.matrix_power(power, k).trace()) for k in (2, 3)):
            continue  # a cycle through 2 or 3 nodes
        mine[int(graph_codes(g)[0])] = float(reward.log_reward(g)[0])
    assert len(mine) == 25
    top = max(mine.values())
    z = math.fsum(math.exp(v - top) for v in mine.values())
    dags = enumerate_dags(3)
    post = exact_posterior(reward, dags)
    for code, p in zip(graph_codes(dags).tolist(), post.tolist()):
        assert p == pytest.approx(math.exp(mine[code] - top) / z, rel=1e-10, abs=1e-15)
    assert max(post.tolist()) > 0.1 and min(post.tolist()) < 1e-3  # the prior and the data both shape it


def test_exact_terminal_distribution_of_untrained_policy_is_a_distribution(reward3: Reward) -> None:
    tr = Trainer(TrainerConfig(progress=False), reward3)
    dags = enumerate_dags(3)
    pt = exact_terminal_distribution(tr.policy, dags)
    assert abs(float(pt.sum()) - 1.0) < 1e-6
    # and it agrees with sampling frequencies
    samples = sample(tr.policy, 20000, generator=torch.Generator().manual_seed(0))
    idx = torch.searchsorted(graph_codes(dags), graph_codes(samples))
    freq = torch.bincount(idx, minlength=25).double() / 20000
    assert float((freq - pt).abs().max()) < 0.015


@pytest.mark.slow
def test_trained_policy_matches_exact_posterior_d3(reward3: Reward, trained3: Trainer) -> None:
    dags = enumerate_dags(3)
    post = exact_posterior(reward3, dags)
    pt = exact_terminal_distribution(trained3.policy, dags)
    m = distribution_metrics(dags, post, pt)
    assert m["jsd"] < 0.01, m
    assert m["edge_pearson"] > 0.95, m


@pytest.mark.slow
def test_backward_estimate_of_log_pt_matches_exact_d3(trained3: Trainer) -> None:
    dags = enumerate_dags(3)
    pt = exact_terminal_distribution(trained3.policy, dags)
    est = log_pt_backward(trained3.policy, dags, n_traj=1000, generator=torch.Generator().manual_seed(1))
    err = (est - pt.log()).abs()
    assert float(err.max()) < 0.05, err


@pytest.mark.slow
def test_order_spread_is_near_zero_at_the_fixed_point_and_not_away_from_it(trained3: Trainer) -> None:
    dags = enumerate_dags(3)
    m = dags.flatten(1).sum(1)
    trained = order_spread(trained3.policy, dags, n_traj=64, generator=torch.Generator().manual_seed(2))
    assert float(trained[m <= 1].abs().max()) == 0.0  # one edge order only
    off = Trainer(trained3.config, trained3.reward)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(3)
        for p in off.policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    away = order_spread(off.policy, dags, n_traj=64, generator=torch.Generator().manual_seed(2))
    post = exact_posterior(trained3.reward, dags)  # weighted by the posterior: the graphs a sampler meets
    assert float((post * trained).sum()) < 0.5 and float(trained.max()) < 1.0, trained  # 0.25 here (JSD < 0.01)
    assert float((post * away).sum()) > 2.0 and float(away[m >= 2].min()) > float(trained[m >= 2].min()), away
    with pytest.raises(ConfigError, match="n_traj >= 2"):
        order_spread(trained3.policy, dags, n_traj=1)


def test_sampling_from_a_partial_graph_keeps_it(reward3: Reward) -> None:
    tr = Trainer(TrainerConfig(progress=False), reward3)
    start = torch.zeros(3, 3, dtype=torch.bool)
    start[0, 2] = True
    out = sample(tr.policy, 200, start=start, generator=torch.Generator().manual_seed(0))
    assert bool(out[:, 0, 2].all())
    assert not bool(out[:, 2, 0].any())
    cyc = start.clone()
    cyc[2, 0] = True
    with pytest.raises(ValueError, match="cycle"):
        sample(tr.policy, 2, start=cyc)


@pytest.mark.parametrize("target_every", [0, 5])
def test_checkpoint_resume_reproduces_loss_trajectory(reward3: Reward, tmp_path: Path, target_every: int) -> None:
    cfg = TrainerConfig(seed=3, num_iterations=40, num_envs=8, batch_size=32, prefill=64, progress=False,
                        target_update_every=target_every, log_every=10, policy=PolicyConfig(hidden=32))
    full = Trainer(cfg, reward3)
    full.train()
    part = Trainer(cfg, reward3, run_dir=tmp_path / "run")
    part.train(num_iterations=17)
    part.save(tmp_path / "ck.pt")
    del part
    resumed = Trainer.load(tmp_path / "ck.pt", reward3, config=cfg)
    resumed.train()
    assert resumed.losses == full.losses  # bit for bit
    assert (tmp_path / "run" / "config.json").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()
    with pytest.raises(CheckpointError):
        Trainer.load(tmp_path / "ck.pt", reward3, config=TrainerConfig(seed=4))


def test_extra_transitions_hook_feeds_the_buffer(reward3: Reward) -> None:
    """Transitions from outside reach the buffer; invalid ones are refused."""
    calls: list[int] = []

    def hook(it: int, g: torch.Generator) -> Transitions:
        calls.append(it)
        adj = torch.zeros(1, 3, 3, dtype=torch.bool)
        act = torch.tensor([0 * 3 + 1])
        return Transitions(adj, act, reward3.delta_edges(adj, torch.tensor([0]), torch.tensor([1])))

    cfg = TrainerConfig(num_iterations=5, num_envs=4, batch_size=8, prefill=8, progress=False)
    tr = Trainer(cfg, reward3, extra_transitions=hook)
    tr.train()
    assert calls == [0, 1, 2, 3, 4]
    stored = tr.buffer.actions[: len(tr.buffer)]
    assert int((stored == 1).sum()) >= 5

    def bad(it: int, g: torch.Generator) -> Transitions:
        adj = torch.zeros(1, 3, 3, dtype=torch.bool)
        adj[0, 1, 0] = True
        return Transitions(adj, torch.tensor([0 * 3 + 1]), torch.zeros(1, dtype=torch.float64))

    with pytest.raises(InvalidActionError):
        Trainer(cfg, reward3, extra_transitions=bad).train()


def test_trajectory_balance_reduces_its_loss(reward3: Reward) -> None:
    cfg = TrainerConfig(loss="tb", num_iterations=300, num_envs=32, lr=1e-2, warmup_iters=10, progress=False,
                        policy=PolicyConfig(hidden=32), seed=1)
    tr = Trainer(cfg, Reward(reward3.score, EdgeCountPrior(0.5)))
    tr.train()
    first, last = sum(tr.losses[:20]) / 20, sum(tr.losses[-20:]) / 20
    assert last < 0.5 * first


def test_trajectory_transitions_build_the_graphs_with_exact_deltas(reward3: Reward) -> None:
    from theorycov.gfn import trajectory_transitions

    dags = enumerate_dags(3)
    tr = trajectory_transitions(reward3, dags, torch.Generator().manual_seed(0))
    assert len(tr) == int(dags.sum())
    nxt = tr.adj.clone()
    nxt[torch.arange(len(tr)), tr.actions // 3, tr.actions % 3] = True
    assert torch.allclose(reward3.log_reward(nxt) - reward3.log_reward(tr.adj), tr.delta_log_reward, atol=1e-9)
    # per graph, the deltas telescope to log R(G) - log R(empty)
    total = tr.delta_log_reward.sum()
    empty = reward3.log_reward(torch.zeros(1, 3, 3, dtype=torch.bool))
    assert abs(float(total - (reward3.log_reward(dags) - empty).sum())) < 1e-8


def test_averaged_policy_is_the_ema_of_the_weights_and_survives_a_checkpoint(reward3: Reward, tmp_path: Path) -> None:
    """With ema = 0.9, after each step avg = 0.9 avg + 0.1 theta (checked against a hand-kept copy); the
    sampler is the average; a resumed run continues the same average bit for bit; off by default."""
    cfg = TrainerConfig(seed=2, num_iterations=30, num_envs=8, batch_size=32, prefill=64, progress=False, ema=0.9,
                        policy=PolicyConfig(hidden=32))
    tr = Trainer(cfg, reward3)
    hand = [p.detach().clone() for p in tr.policy.parameters()]
    for _ in range(5):
        tr.step()
        hand = [0.9 * h + 0.1 * p.detach() for h, p in zip(hand, tr.policy.parameters())]
    assert tr.sampler is tr.average
    for h, a, p in zip(hand, tr.average.parameters(), tr.policy.parameters()):
        assert torch.allclose(h, a, atol=1e-6)
        assert not torch.equal(a, p)  # the average lags the weights
    assert not any(p.requires_grad for p in tr.average.parameters())
    tr.save(tmp_path / "ck.pt")
    resumed = Trainer.load(tmp_path / "ck.pt", reward3, config=cfg)
    tr.train()
    resumed.train()
    for a, b in zip(tr.average.parameters(), resumed.average.parameters()):
        assert torch.equal(a, b)
    g = sample(resumed.sampler, 50, generator=torch.Generator().manual_seed(0))
    assert g.shape == (50, 3, 3)
    plain = Trainer(TrainerConfig(progress=False), reward3)
    assert plain.average is None and plain.sampler is plain.policy
    with pytest.raises(Exception, match="ema must lie"):
        TrainerConfig(ema=1.0)
