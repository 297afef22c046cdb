"""gfn.order: an order's score is the log-sum of R over the DAGs consistent with it (d = 4, every DAG
enumerated), the chains sample orders in proportion to it (d = 3), drawn DAGs follow their orders."""
from __future__ import annotations

import itertools

import pytest
import torch

from theorycov.gfn import BGeScore, EdgeCountPrior, Reward, enumerate_dags
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.order import OrderChains
from theorycov.gfn.parentsets import ParentSetTable


def _reward(d: int, seed: int, n: int = 40) -> Reward:
    data, _ = make_linear_gaussian_er(d, 1.0, n, seed=seed)
    return Reward(BGeScore(data.standardized()), EdgeCountPrior(0.5))


def _brute_order_scores(reward: Reward, d: int) -> dict[tuple[int, ...], float]:
    """log sum_{G consistent with the order} R(G), for every order, from all DAGs on d nodes."""
    dags = enumerate_dags(d)
    log_r = reward.log_reward(dags)
    out = {}
    for order in itertools.permutations(range(d)):
        pos = torch.empty(d, dtype=torch.long)
        pos[list(order)] = torch.arange(d)
        ok = (pos[:, None] < pos[None, :]) | ~torch.ones(d, d, dtype=torch.bool)  # i -> j allowed iff i before j
        consistent = ~(dags & ~ok).flatten(1).any(1)
        out[order] = float(torch.logsumexp(log_r[consistent], 0))
    return out


def _cold_tv(chains: OrderChains, keys: list[tuple[int, ...]], target: torch.Tensor, steps: int = 400, burn: int = 50) -> float:
    """Total variation between the cold chains' order frequencies (after ``burn`` steps) and ``target``."""
    counts = torch.zeros(len(keys))
    index = {k: i for i, k in enumerate(keys)}
    for t in range(steps):
        chains.step()
        chains.swap(t % 2)
        if t >= burn:
            for o in chains.order[chains.cold].tolist():
                counts[index[tuple(o)]] += 1
    return 0.5 * float((counts / counts.sum() - target).abs().sum())


def test_order_score_is_the_log_sum_over_consistent_dags_d4() -> None:
    reward = _reward(4, seed=3)
    chains = OrderChains(ParentSetTable(reward, 3), num_chains=24, seed=0)
    chains.order = torch.tensor(list(itertools.permutations(range(4))))
    chains.node_scores = chains._node_scores(chains.order)
    brute = _brute_order_scores(reward, 4)
    want = torch.tensor([brute[tuple(o)] for o in chains.order.tolist()], dtype=torch.float64)
    assert torch.allclose(chains.log_score, want, atol=1e-8)


def test_a_parent_limit_drops_exactly_the_larger_sets_d4() -> None:
    """max_size 1: each node may have only 0 or 1 parent; the score of the order 0 < 1 < 2 < 3 is the sum
    over those DAGs alone (a product of per-node sums)."""
    reward = _reward(4, seed=5)
    chains = OrderChains(ParentSetTable(reward, 1), num_chains=1, seed=0)
    chains.order = torch.tensor([[0, 1, 2, 3]])
    chains.node_scores = chains._node_scores(chains.order)
    dags = enumerate_dags(4)
    upper = ~torch.tril(torch.ones(4, 4, dtype=torch.bool)).expand_as(dags) | ~dags
    keep = upper.flatten(1).all(1) & (dags.sum(1) <= 1).all(1)
    assert torch.allclose(chains.log_score[0], torch.logsumexp(reward.log_reward(dags[keep]), 0), atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("chains_n, temps", [(256, (1.0,)), (384, (1.0, 0.5, 0.25))])
def test_cold_chains_sample_orders_in_proportion_to_their_scores_d3(chains_n: int, temps: tuple[float, ...]) -> None:
    """Untempered, and over a ladder whose swaps must keep the cold level on the order posterior."""
    reward = _reward(3, seed=1, n=20)
    brute = _brute_order_scores(reward, 3)
    keys = list(brute)
    target = torch.softmax(torch.tensor([brute[k] for k in keys]), 0)
    chains = OrderChains(ParentSetTable(reward, 2), num_chains=chains_n, seed=2, temperatures=temps)
    tv = _cold_tv(chains, keys, target)
    assert tv < 0.02, tv
    assert 0.0 < chains.acceptance < 1.0
    if len(temps) > 1:
        assert 0 < chains.swaps_accepted < chains.swaps_proposed


def test_drawn_dags_follow_their_orders_and_best_takes_the_top_set() -> None:
    reward = _reward(6, seed=4, n=50)
    table = ParentSetTable(reward, 2)
    chains = OrderChains(table, num_chains=16, seed=1)
    for _ in range(20):
        chains.step()
    pos = OrderChains.positions(chains.order)  # (C, d)
    for best in (False, True):
        dags = chains.sample_dags(torch.Generator().manual_seed(0), best=best)
        before = pos[:, :, None] < pos[:, None, :]  # (C, i, j): i before j
        assert not bool((dags & ~before).any())
        assert bool((dags.sum(1) <= 2).all())
    best = chains.sample_dags(best=True)
    # the best DAG of an order scores its order's top set at every node: the sum of the per-node maxima
    log_r = reward.log_reward(best)
    nodes = torch.arange(6).repeat(16)
    top = table.feasible_logits(nodes, chains._forbidden(chains.order)).max(1).values.reshape(16, 6).sum(1)
    assert torch.allclose(log_r, top, atol=1e-6)


def test_proposals_are_permutations_and_insertion_moves_one_node() -> None:
    reward = _reward(7, seed=6, n=30)
    chains = OrderChains(ParentSetTable(reward, 1), num_chains=400, seed=3)
    new = chains._propose()
    assert torch.equal(new.sort(1).values, torch.arange(7).expand(400, 7))
    # an insertion or a transposition: deleting one node from both orders leaves the same sequence, or
    # exactly two positions differ
    for old, prop in zip(chains.order.tolist(), new.tolist()):
        diff = sum(x != y for x, y in zip(old, prop))
        moved = any([x for x in old if x != v] == [x for x in prop if x != v] for v in old)
        assert diff == 2 or moved


def test_a_ladder_must_start_at_one_and_divide_the_chains() -> None:
    from theorycov.gfn import ConfigError
    table = ParentSetTable(_reward(3, seed=1, n=20), 1)
    with pytest.raises(ConfigError, match="multiple of the ladder"):
        OrderChains(table, num_chains=5, temperatures=(1.0, 0.5))
    with pytest.raises(ConfigError, match="first is 1.0"):
        OrderChains(table, num_chains=4, temperatures=(0.5, 1.0))


def test_a_table_too_large_is_refused_before_it_is_built() -> None:
    """All sets of <= 10 parents over 11 nodes: 1,024 a node, 11,264 rows; a limit of 10,000 refuses with the fix."""
    from theorycov.gfn import ConfigError
    reward = _reward(11, seed=0, n=30)
    with pytest.raises(ConfigError, match="1,024 sets for one node .* lower max_size or screen the candidates"):
        ParentSetTable(reward, 10, max_sets=10_000)
    assert ParentSetTable(reward, 1, max_sets=10_000).P == 11
