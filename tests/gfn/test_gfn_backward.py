"""A learned backward policy (PolicyConfig.learn_backward): it starts as the uniform P_B, its backward trajectories give
an unbiased estimate of P_T whatever its weights, and training with it still reaches the exact posterior at d = 3."""
from __future__ import annotations

import math

import pytest
import torch

from theorycov.gfn import (
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    distribution_metrics,
    enumerate_dags,
    exact_posterior,
    exact_terminal_distribution,
    log_pt_backward,
)
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.replay import Transitions
from theorycov.gfn.sampling import backward_orders


def _config(learn: bool, **kw: object) -> TrainerConfig:
    base: dict[str, object] = dict(seed=0, num_iterations=1500, num_envs=32, batch_size=256, prefill=256, eps_decay_iters=500,
                                   warmup_iters=50, progress=False, policy=PolicyConfig(hidden=64, num_layers=2, learn_backward=learn))
    return TrainerConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_untrained_backward_head_is_the_uniform_backward_policy(reward3: Reward) -> None:
    learned, uniform = Trainer(_config(True), reward3), Trainer(_config(False), reward3)
    dags = enumerate_dags(3)
    dags = dags[dags.flatten(1).any(1)]
    log_pb = learned.policy.slot_log_pb(learned.env.states(dags))  # (24, 9) slot space = action space here
    m = dags.flatten(1).sum(1, keepdim=True).float()
    expect = torch.where(dags.flatten(1), -torch.log(m).expand(-1, 9), torch.full((dags.shape[0], 9), float("-inf")))
    assert torch.allclose(log_pb, expect)
    # the same forward weights (the head is built after them) and the same loss on a batch of transitions
    for a, b in zip(uniform.policy.parameters(), [p for n, p in learned.policy.named_parameters() if not n.startswith("back_head")]):
        assert torch.equal(a, b)
    empty = torch.zeros(3, 3, 3, dtype=torch.bool)
    batch = Transitions(empty, torch.tensor([1, 3, 5]), reward3.log_reward(torch.stack([
        torch.tensor([[0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=torch.bool),
        torch.tensor([[0, 0, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.bool),
        torch.tensor([[0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.bool)])) - reward3.log_reward(empty))
    assert torch.allclose(learned.db_loss(batch), uniform.db_loss(batch))


def test_backward_estimate_of_p_t_is_unbiased_for_any_backward_weights(reward3: Reward) -> None:
    tr = Trainer(_config(True), reward3)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(5)  # an arbitrary forward and backward policy: far from uniform and from each other
        for p in tr.policy.parameters():
            p.add_(torch.randn_like(p) * 0.15)
    dags = enumerate_dags(3)
    order, log_pb = backward_orders(tr.policy, dags, torch.Generator().manual_seed(0))
    m = dags.flatten(1).sum(1)
    for g in range(dags.shape[0]):  # each order lists exactly the graph's edges, once
        assert sorted(order[g, : int(m[g])].tolist()) == dags[g].flatten().nonzero().flatten().tolist()
    assert float(log_pb[m <= 1].abs().max()) == 0.0 and bool((log_pb <= 0).all())  # one edge: one way back
    # log P_B of each drawn order, recomputed step by step: prod_k P_B(remove e_k | {e_1 .. e_k})
    for g in range(dags.shape[0]):  # (no_grad: a check, not a loss)
        prefix, again = torch.zeros(1, 9, dtype=torch.bool), 0.0
        for e in order[g, : int(m[g])].tolist():
            prefix = prefix.clone()
            prefix[0, e] = True
            with torch.no_grad():
                again += float(tr.policy.slot_log_pb(tr.env.states(prefix.view(1, 3, 3)))[0, e])
        assert abs(again - float(log_pb[g])) < 1e-5
    exact = exact_terminal_distribution(tr.policy, dags)
    est = log_pt_backward(tr.policy, dags, n_traj=20_000, generator=torch.Generator().manual_seed(1))
    err = (est - exact.log()).abs()
    assert float(err.max()) < 0.03, err


def test_backward_floor_mixes_in_the_uniform_policy(reward3: Reward) -> None:
    pol = PolicyConfig(hidden=64, num_layers=2, learn_backward=True, backward_floor=0.5)
    tr = Trainer(_config(True, policy=pol), reward3)
    with torch.no_grad():
        tr.policy.back_head.bias.copy_(torch.linspace(-20, 20, 9))  # type: ignore[union-attr]  # a near-deterministic head
        dags = enumerate_dags(3)
        dags = dags[dags.flatten(1).sum(1) >= 2]
        pb = tr.policy.slot_log_pb(tr.env.states(dags)).exp()
    m = dags.flatten(1).sum(1, keepdim=True)
    assert torch.allclose(pb.sum(1), torch.ones(dags.shape[0]), atol=1e-6)
    assert bool((pb[dags.flatten(1)] >= (0.5 / m.expand(-1, 9))[dags.flatten(1)] - 1e-6).all())
    assert float(pb[~dags.flatten(1)].abs().max()) == 0.0


def test_tb_with_a_learned_backward_policy_is_rejected() -> None:
    with pytest.raises(ConfigError, match="learn_backward needs loss='db'"):
        _config(True, loss="tb")


@pytest.mark.slow
def test_training_with_a_learned_backward_policy_reaches_the_exact_posterior_d3(reward3: Reward) -> None:
    dags = enumerate_dags(3)
    pool = dags[dags.flatten(1).any(1)]

    def hook(n: int, generator: torch.Generator) -> torch.Tensor:
        return pool[torch.randint(pool.shape[0], (n,), generator=generator)]

    tr = Trainer(_config(True, subtb_weight=1.0, subtb_graphs=8, num_iterations=3000), reward3, trajectories=hook)
    tr.train()
    m = distribution_metrics(dags, exact_posterior(reward3, dags), exact_terminal_distribution(tr.policy, dags))
    assert m["jsd"] < 0.01, m
    # the backward policy moved off uniform, and the P_T estimate from its trajectories is still exact
    full = pool[pool.flatten(1).sum(1) == 2]
    with torch.no_grad():
        pb = tr.policy.slot_log_pb(tr.env.states(full)).exp()
    assert float((pb[full.flatten(1)] - 0.5).abs().max()) > 1e-3
    est = log_pt_backward(tr.policy, dags, n_traj=500, generator=torch.Generator().manual_seed(1))
    assert float((est - exact_terminal_distribution(tr.policy, dags).log()).abs().max()) < 0.05
    assert math.isfinite(float(tr.losses[-1]))
