"""gfn.local_search: back-and-forth moves keep the exact posterior at d = 4 whatever the policy (the
Metropolis-Hastings correction, Kim et al. 2024 §3.2), reach it from empty graphs, and respect the support."""
from __future__ import annotations

import pytest
import torch

from theorycov.coverage.mcmc import empirical_distribution
from theorycov.gfn import BGeScore, ConfigError, EdgeCountPrior, Reward, enumerate_dags, exact_posterior, jensen_shannon
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.env import DAGEnv
from theorycov.gfn.local_search import local_search
from theorycov.gfn.policy import EdgePolicy, PolicyConfig


def _policy(d: int, seed: int, noise: float, allowed: torch.Tensor | None = None, max_parents: int | None = None) -> EdgePolicy:
    data, _ = make_linear_gaussian_er(d, 1.0, 60, seed=seed)
    reward = Reward(BGeScore(data.standardized()), EdgeCountPrior(0.5))
    torch.manual_seed(seed)
    pol = EdgePolicy(DAGEnv(reward, max_parents=max_parents, allowed=allowed), PolicyConfig(hidden=16))
    with torch.no_grad():  # a policy far from P_T: random last layer on top of the reward-informed base
        pol.head.weight.normal_(0.0, noise)
        pol.head.bias.normal_(0.0, noise)
    return pol


@pytest.mark.parametrize("backtrack", [1, 3])
def test_moves_keep_the_exact_posterior_d4(backtrack: int) -> None:
    """Chains started at exact posterior draws stay there after moves proposed by a poor policy."""
    pol = _policy(4, seed=3, noise=2.0)
    dags = enumerate_dags(4)
    post = exact_posterior(pol.env.reward, dags)
    g = torch.Generator().manual_seed(0)
    start = dags[torch.multinomial(post, 20_000, replacement=True, generator=g)]
    out, acc = local_search(pol, start, rounds=3, backtrack=backtrack, generator=g)
    assert 0.01 < min(acc) and max(acc) < 0.95  # the moves do move, and are corrected
    assert jensen_shannon(post, empirical_distribution(out, dags)) < 0.002


def test_moves_reach_the_posterior_from_empty_graphs_d4() -> None:
    """Started from empty graphs, 30 rounds of the untrained policy's moves end at the exact posterior (JSD at the
    noise floor of 20,000 draws, ~0.0016). A fixed walk-back length, whose early-stopping forward walks cannot be
    reversed, left JSD 0.006 here."""
    pol = _policy(4, seed=5, noise=0.0)
    dags = enumerate_dags(4)
    post = exact_posterior(pol.env.reward, dags)
    g = torch.Generator().manual_seed(1)
    out, _ = local_search(pol, torch.zeros(20_000, 4, 4, dtype=torch.bool), rounds=30, backtrack=2, generator=g)
    assert jensen_shannon(post, empirical_distribution(out, dags)) < 0.003


def test_moves_respect_the_screen_and_the_in_degree_cap() -> None:
    allowed = torch.ones(5, 5, dtype=torch.bool)
    allowed[0, 1] = allowed[1, 0] = False
    pol = _policy(5, seed=2, noise=0.5, allowed=allowed, max_parents=2)
    g = torch.Generator().manual_seed(2)
    out, _ = local_search(pol, torch.zeros(500, 5, 5, dtype=torch.bool), rounds=10, backtrack=3, generator=g)
    assert not bool(out[:, 0, 1].any() or out[:, 1, 0].any())
    assert int(out.sum(1).max()) <= 2
    assert out.flatten(1).sum(1).float().mean() > 1.0  # it did build graphs


def test_bad_settings_are_refused() -> None:
    pol = _policy(3, seed=0, noise=0.0)
    with pytest.raises(ConfigError, match="backtrack >= 1"):
        local_search(pol, torch.zeros(2, 3, 3, dtype=torch.bool), rounds=1, backtrack=0)
