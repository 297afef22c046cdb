"""MC3 structure MCMC: move masks against brute force, exact stationarity of the kernel at d = 3, and the
chains' empirical distribution against the exact posterior at d = 4 (JSD small, fixed seed)."""
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


def _reward(d: int, seed: int = 1) -> Reward:
    data, _ = make_linear_gaussian_er(d, 1.0, 60, seed=seed)
    return Reward(BGeScore(data))


def test_posterior_is_stationary_d3() -> None:
    """The exact MC3 kernel over all 25 DAGs on 3 nodes leaves P(G|D) invariant (detailed balance)."""
    reward = _reward(3)
    dags = enumerate_dags(3)
    K = dags.shape[0]
    post = exact_posterior(reward, dags)
    log_r = reward.log_reward(dags)
    nbd = neighbourhood_sizes(dags).to(torch.float64)
    codes = graph_codes(dags).tolist()
    where = {c: k for k, c in enumerate(codes)}
    T = torch.zeros(K, K, dtype=torch.float64)
    masks = move_masks(dags)
    for k in range(K):
        for kind, i, j in masks[k].nonzero().tolist():
            g = dags[k].clone()
            g[i, j] = kind == 0
            if kind == 2:
                g[j, i] = True
            m = where[int(graph_codes(g[None])[0])]
            acc = torch.clamp(torch.exp(log_r[m] - log_r[k]) * nbd[k] / nbd[m], max=1.0)
            T[k, m] += acc / nbd[k]
        T[k, k] = 1.0 - T[k].sum()
    assert torch.allclose(post @ T, post, atol=1e-12)
    flow = post[:, None] * T
    assert torch.allclose(flow, flow.T, atol=1e-12)  # reversible


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
