"""MC3 structure MCMC: move masks against brute force, stationarity and reversibility of StructureMCMC.step
itself at d = 3 (measured from its transitions, not rebuilt), and the chains' empirical distribution against
the exact posterior at d = 4 (JSD small, fixed seed)."""
from __future__ import annotations

import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.mcmc import StructureMCMC, empirical_distribution, move_masks, neighbourhood_sizes, visited
from theorycov.gfn import BGeScore, Reward, enumerate_dags, exact_posterior, is_acyclic, jensen_shannon
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.graphs import graph_codes


def _brute_moves(adj: torch.Tensor) -> set[tuple[int, int, int]]:
    d = adj.shape[0]
    out = set()
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            if not adj[i, j]:
                g = adj.clone()
                g[i, j] = True
                if bool(is_acyclic(g[None])[0]):
                    out.add((0, i, j))
            else:
                out.add((1, i, j))
                g = adj.clone()
                g[i, j], g[j, i] = False, True
                if bool(is_acyclic(g[None])[0]):
                    out.add((2, i, j))
    return out


def test_move_masks_match_brute_force() -> None:
    dags = enumerate_dags(4)
    idx = torch.randperm(dags.shape[0], generator=torch.Generator().manual_seed(0))[:120]
    sub = dags[idx]
    masks = move_masks(sub)
    for b in range(sub.shape[0]):
        got = {tuple(x) for x in masks[b].nonzero().tolist()}
        assert got == _brute_moves(sub[b])
    assert neighbourhood_sizes(sub).tolist() == [len(_brute_moves(g)) for g in sub]


def _reward(d: int, seed: int = 1, n: int = 60) -> Reward:
    data, _ = make_linear_gaussian_er(d, 1.0, n, seed=seed)
    return Reward(BGeScore(data))


def test_posterior_is_stationary_d3() -> None:
    """StructureMCMC's own step, from every one of the 25 DAGs on 3 nodes, leaves the exact posterior invariant
    and is reversible with respect to it: the one-step transition frequencies T[k, m] out of 20,000 chains
    per start graph satisfy P(k) T[k, m] = P(m) T[m, k] and sum_k P(k) T[k, m] = P(m) within sampling error.

    Few data rows keep the posterior flat, so that most moves are accepted often enough to be measured; a
    kernel without the Hastings factor |nbd(G)| / |nbd(G')| (5 against 6 here) would miss by 20%."""
    reward = _reward(3, n=12)
    dags = enumerate_dags(3)
    K, per = dags.shape[0], 20_000
    post = exact_posterior(reward, dags)
    mc = StructureMCMC(reward, num_chains=K * per, seed=0, start=dags.repeat_interleave(per, 0))
    mc.step()
    src = torch.arange(K).repeat_interleave(per)
    dst = torch.searchsorted(graph_codes(dags), graph_codes(mc.adj))  # dags are sorted by code
    assert bool((graph_codes(dags)[dst] == graph_codes(mc.adj)).all())  # every chain is still on a DAG
    T = torch.zeros(K, K, dtype=torch.float64)
    T.index_put_((src, dst), torch.ones(K * per, dtype=torch.float64), accumulate=True)
    T /= per  # (K, K) empirical one-step kernel
    var = T * (1 - T) / per  # binomial variance of each entry
    flow, flow_var = post[:, None] * T, post[:, None] ** 2 * var
    z_balance = (flow - flow.T) / (flow_var + flow_var.T).clamp_min(1e-30).sqrt()
    off = ~torch.eye(K, dtype=torch.bool) & ((flow > 0) | (flow.T > 0))
    assert int(off.sum()) > 100  # the moves between distinct graphs are many and are all checked
    assert float(z_balance[off].abs().max()) < 4.5, float(z_balance[off].abs().max())
    moved = post @ T  # (K,)
    z_stat = (moved - post) / (post[:, None] ** 2 * var).sum(0).sqrt()
    assert float(z_stat.abs().max()) < 4.5, float(z_stat.abs().max())
    assert 0.2 < float(1 - T.diagonal().mul(post).sum()) < 0.9  # chains do move, and not always


def test_chains_approach_exact_posterior_d4() -> None:
    reward = _reward(4, seed=3)
    dags = enumerate_dags(4)
    post = exact_posterior(reward, dags)
    names = list(reward.names)
    cs = ConstraintSet([Hypothesis((Constraint(names[0], names[1], path=True),))], names)
    mc = StructureMCMC(reward, num_chains=64, seed=0)
    res = mc.run(64 * 2500, burn_in=100, constraints=cs, track_visited=True)
    assert res.evaluations <= 64 * 2500 and res.samples.shape[0] == res.n_kept
    emp = empirical_distribution(res.samples, dags)
    assert abs(float(emp.sum()) - 1.0) < 1e-9
    jsd = jensen_shannon(post, emp)
    assert jsd < 0.01, jsd
    p = float((post * cs.satisfies(dags)[:, 0]).sum())
    assert abs(float(res.q[0]) - p) < 0.03, (res.q, p)
    assert res.first_hit[0] is not None
    assert visited(res, dags[int(torch.argmax(post))])  # the MAP graph was reached
    assert 0.0 < res.acceptance < 1.0
