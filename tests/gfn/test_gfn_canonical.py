"""An ordered environment (gfn/canonical.py): one trajectory per DAG, so P_T is the probability of that trajectory,
training still reaches the exact posterior, and the log-variance fine-tuning (gfn/finetune.py) moves P_T toward R."""
from __future__ import annotations

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
)
from theorycov.gfn.canonical import edge_rank, index_rank, strength_rank
from theorycov.gfn.env import DAGEnv
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.finetune import finetune, trajectory_log_pf
from theorycov.gfn.local_search import local_search
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.replay import Transitions, trajectory_transitions
from theorycov.gfn.sampling import log_pt_backward, trajectory_log_weights


def _noisy_policy(reward: Reward, seed: int = 0, noise: float = 1.0) -> EdgePolicy:
    env = DAGEnv(reward, edge_rank=strength_rank(reward))
    torch.manual_seed(seed)
    pol = EdgePolicy(env, PolicyConfig(hidden=16))
    with torch.no_grad():  # far from the posterior: a random last layer on top of the reward-informed base
        pol.head.weight.normal_(0.0, noise)
        pol.head.bias.normal_(0.0, noise)
    return pol


def _config(**kw: object) -> TrainerConfig:
    base: dict[str, object] = dict(seed=0, num_iterations=1500, num_envs=32, batch_size=256, prefill=256, eps_decay_iters=500,
                                   warmup_iters=50, progress=False, edge_order="strength", policy=PolicyConfig(hidden=64))
    return TrainerConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_strength_rank_puts_the_strongest_pair_first(reward3: Reward) -> None:
    rank = strength_rank(reward3)
    d = reward3.d
    off = ~torch.eye(d, dtype=torch.bool)
    assert sorted(rank[off].tolist()) == list(range(d * d - d))  # the edges take the first ranks, each once
    gain = reward3.delta_features_at(torch.zeros(1, d, d, dtype=torch.bool), *off.nonzero().T)[0]
    first = off.nonzero()[int(gain.argmax())]
    assert int(rank[first[0], first[1]]) == 0
    assert torch.equal(index_rank(3), torch.arange(9).view(3, 3))
    assert edge_rank("any", reward3) is None


def test_each_dag_has_one_trajectory_and_p_t_is_its_probability(reward3: Reward) -> None:
    """P_T from the exact forward recursion over every path equals the probability of the rank-order path alone, for a
    policy far from any fixed point: no other path to a DAG exists. Every DAG stays reachable."""
    pol = _noisy_policy(reward3)
    dags = enumerate_dags(3)
    exact = exact_terminal_distribution(pol, dags)
    one_path = trajectory_log_weights(pol, dags, 1)[:, 0].exp()
    assert float(exact.sum()) == pytest.approx(1.0, abs=1e-6)  # float32 log-probabilities
    assert bool((exact > 0).all())
    assert torch.allclose(exact, one_path, rtol=1e-5, atol=1e-12)
    est = log_pt_backward(pol, dags, n_traj=3)  # every "backward trajectory" is the same one: no estimate noise
    assert torch.allclose(est, exact.log(), atol=1e-5)
    some = dags[dags.flatten(1).any(1)]
    assert torch.allclose(trajectory_log_pf(pol, some).double(), exact[dags.flatten(1).any(1)].log(), atol=1e-5)  # batched, with grad


def test_the_mask_allows_only_edges_above_the_highest_ranked_one(reward3: Reward) -> None:
    env = DAGEnv(reward3, edge_rank=index_rank(3))
    adj = torch.zeros(1, 3, 3, dtype=torch.bool)
    adj[0, 1, 0] = True  # action 3
    mask = env.action_mask(env.states(adj))[0, :-1]
    assert mask.nonzero().flatten().tolist() == [5, 6, 7]  # 1 -> 2, 2 -> 0, 2 -> 1; 0 -> 1 and 0 -> 2 rank below 1 -> 0
    tr = trajectory_transitions(reward3, torch.tensor([[[0, 1, 1], [0, 0, 1], [0, 0, 0]]], dtype=torch.bool), rank=env.rank_action)
    assert tr.actions.tolist() == [1, 2, 5]  # ascending rank, not random


def test_trainer_drops_transitions_off_the_trajectory(reward3: Reward) -> None:
    tr = Trainer(_config(edge_order="index"), reward3)
    adj = torch.zeros(2, 3, 3, dtype=torch.bool)
    adj[:, 1, 2] = True  # action 5
    kept = tr._inside_candidates(Transitions(adj, torch.tensor([7, 1]), torch.zeros(2, dtype=torch.float64)))
    assert kept.actions.tolist() == [7]  # 0 -> 1 (action 1) ranks below 1 -> 2: no trajectory takes that step


def test_ordered_settings_are_validated(reward3: Reward) -> None:
    with pytest.raises(ConfigError, match="edge_order must be"):
        _config(edge_order="random")
    with pytest.raises(ConfigError, match="learn_backward"):
        _config(policy=PolicyConfig(learn_backward=True))
    with pytest.raises(ConfigError, match="distinct rank"):
        DAGEnv(reward3, edge_rank=torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(ConfigError, match="iterations or max_cpu_seconds"):
        finetune(_noisy_policy(reward3))
    with pytest.raises(ConfigError, match="finetune_epsilon"):
        _config(finetune_epsilon=1.0)
    with pytest.raises(ConfigError, match="finetune_source"):
        _config(finetune_source="chains")


def test_finetuning_from_the_starting_sampler_leaves_that_copy_alone(reward3: Reward) -> None:
    """finetune_source="start": the off-policy graphs come from a frozen copy of the sampler; the sampler itself moves."""
    tr = Trainer(_config(num_iterations=20, finetune_graphs=8, finetune_source="start", finetune_lr=1e-2), reward3)
    tr.train()
    before = [p.detach().clone() for p in tr.sampler.parameters()]
    out = tr.finetune(iterations=3)
    assert out["iterations"] == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.sampler.parameters()))
    assert all(not p.requires_grad for p in tr.sampler.parameters()) == (tr.average is not None)


def test_local_search_keeps_the_exact_posterior_in_an_ordered_environment(reward3: Reward) -> None:
    """The moves walk back the highest-ranked edges (P_B = 1) and stay R-invariant under a poor policy."""
    from theorycov.coverage.mcmc import empirical_distribution
    from theorycov.gfn import jensen_shannon

    pol = _noisy_policy(reward3, seed=3, noise=2.0)
    dags = enumerate_dags(3)
    post = exact_posterior(reward3, dags)
    g = torch.Generator().manual_seed(0)
    start = dags[torch.multinomial(post, 20_000, replacement=True, generator=g)]
    out, acc = local_search(pol, start, rounds=3, backtrack=2, generator=g)
    assert 0.01 < min(acc) < 0.95
    assert jensen_shannon(post, empirical_distribution(out, dags)) < 0.002


@pytest.mark.slow
def test_training_in_an_ordered_environment_reaches_the_exact_posterior_d3(reward3: Reward) -> None:
    dags = enumerate_dags(3)
    tr = Trainer(_config(), reward3)
    tr.train()
    m = distribution_metrics(dags, exact_posterior(reward3, dags), exact_terminal_distribution(tr.policy, dags))
    assert m["jsd"] < 0.01, m


@pytest.mark.slow
def test_finetuning_moves_a_poor_sampler_toward_the_posterior_d3(reward3: Reward) -> None:
    """From a short DB run, the log-variance loss on its own trajectories and on 16 off-policy graphs a step lowers the
    spread of log R - log P_T (exact here) and the distance to the exact posterior."""
    dags = enumerate_dags(3)
    post = exact_posterior(reward3, dags)
    pool = enumerate_dags(3)
    pool = pool[pool.flatten(1).any(1)]
    tr = Trainer(_config(num_iterations=60, finetune_lr=3e-3, finetune_batch=128, finetune_graphs=16), reward3,
                 trajectories=lambda n, g: pool[torch.randint(pool.shape[0], (n,), generator=g)])
    tr.train()
    before = distribution_metrics(dags, post, exact_terminal_distribution(tr.sampler, dags))["jsd"]
    out = tr.finetune(iterations=300)
    after = distribution_metrics(dags, post, exact_terminal_distribution(tr.sampler, dags))["jsd"]
    assert out["iterations"] == 300 and out["last_sd"] < out["first_sd"]
    assert after < 0.5 * before and after < 0.01, (before, after)


def test_the_forward_kl_term_adds_the_graphs_mean_negative_log_p_t(reward3: Reward) -> None:
    """log_variance_loss with nll_weight w is the loss without it plus w * mean(-log P_T(G)) over the given graphs (exact in
    an ordered environment, the empty graph included: its one trajectory is the stop at s_0)."""
    from theorycov.gfn.finetune import log_variance_loss
    pol = _noisy_policy(reward3, seed=3)
    dags = enumerate_dags(3)
    exact = exact_terminal_distribution(pol, dags)
    assert torch.allclose(trajectory_log_pf(pol, dags).double(), exact.log(), atol=1e-5)
    g = dags[[0, 3, 7, 7, 12]]
    base, _ = log_variance_loss(pol, 16, torch.Generator().manual_seed(1), g)
    with_nll, _ = log_variance_loss(pol, 16, torch.Generator().manual_seed(1), g, nll_weight=2.0)
    want = 2.0 * float(-trajectory_log_pf(pol, g).detach().mean())
    assert float(with_nll - base) == pytest.approx(want, rel=1e-4)
    with pytest.raises(ConfigError, match="nll_weight >= 0"):
        finetune(pol, iterations=1, nll_weight=-1.0)
    with pytest.raises(ConfigError, match="finetune_nll >= 0"):
        _config(finetune_nll=-0.5)
