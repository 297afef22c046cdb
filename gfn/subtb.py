"""Subtrajectory balance on whole trajectories to given graphs (Madan et al. 2023, "Learning GFlowNets from
partial episodes for improved convergence and stability", ICML, §3, eq. 7, the lambda-weighted SubTB), in the form
the modified detailed balance takes when every state is terminal (Deleu et al. 2022 §3.2).

Why: the modified DB loss (gfn/losses.py) is local, a one-step consistency like TD(0): what a graph deep in a
trajectory is worth reaches the early steps' probabilities only through a chain of per-step fits, one step per
update. At d = 20 the chains of the MCMC guide (gfn/warmstart.py) had the right edge marginals (Pearson 0.997
against the reference after ~2 CPU-min on tuning seed 8) while the GFlowNet trained on their transitions stayed at
0.90 in every run, all three runs wrong the same way (an orientation 9 -> 10 at 0.72-0.84 where the posterior has
0.18): a bias of the learned flows, not noise. SubTB constrains the sum of the per-step residuals along every
stretch of a trajectory, so compounding one-step errors are penalized directly. Measured (bench/RESULTS.md
2026-12-07, 5 CPU-min): weight 0.1 and lambda 0.5 took seed 8 to 0.946 and the worst of four tuning runs from 0.899 to
0.946; lambda 0.9 (long stretches weighted) made the sampler far worse (0.62), so short stretches are what helps.

For a trajectory s_0 = empty -> s_1 -> ... -> s_m = G adding G's edges in a uniformly random order (the uniform
backward policy's trajectory, so the data are on-policy for the optimal sampler when G is a posterior draw), the
modified DB residual of step t is

    r_t = log R(s_t+1) - log R(s_t) - log |E(s_t+1)| + log P_F(stop | s_t) - log P_F(s_t+1 | s_t) - log P_F(stop | s_t+1)

(with a learned backward policy, ``PolicyConfig.learn_backward``, -log |E(s_t+1)| is log P_B(s_t | s_t+1); in an
ordered environment, gfn/env.py, the one trajectory of G in rank order, and log P_B = 0),
and the stretch i..j (0 <= i < j <= m) balances when sum_{t=i}^{j-1} r_t = 0 (the modified DB equation multiplied
along it). The loss is sum_{i<j} lambda^(j-i) (C_j - C_i)^2 / sum_{i<j} lambda^(j-i), C the cumulative residual,
over all trajectories of the batch. It is zero exactly where every one-step residual is, so its fixed point is R's. As in the trainer's DB loss, the square
is a Huber penalty by default (``huber_delta``).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from theorycov.gfn.env import DAGEnv
from theorycov.gfn.policy import EdgePolicy

__all__ = ["subtb_loss", "subtb_on_graphs", "trajectory_residuals"]


def trajectory_residuals(policy: EdgePolicy, env: DAGEnv, graphs: torch.Tensor,
                         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One-step modified DB residuals along a random edge order of each graph.

    graphs: (K, d, d) bool DAGs inside the environment's support (candidates, in-degree cap). Returns
    (residuals (K, T) float32 with grad, valid (K, T) bool), T = the most edges of a graph, step t of graph k
    valid when t < m_k."""
    d, dev = env.d, graphs.device
    flat = graphs.flatten(1)
    K = flat.shape[0]
    order = env.edge_orders(flat, generator)  # (K, d*d): the edges first (random, or the ordered env's one order)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(d * d, device=dev).expand(K, -1))
    m = flat.sum(1)  # (K,)
    T = int(m.max())
    t = torch.arange(T + 1, device=dev)
    valid_state = t[None, :] <= m[:, None]  # (K, T+1)
    valid = valid_state[:, 1:]  # step t (s_t -> s_t+1) exists when t < m_k
    prefixes = flat[:, None, :] & (rank[:, None, :] < t[None, :, None])  # (K, T+1, d*d): s_t
    pos = torch.full((K, T + 1), -1, dtype=torch.int64, device=dev)
    pos[valid_state] = torch.arange(int(valid_state.sum()), device=dev)
    # (N, E + 1), and (N, E) or None without a learned backward policy
    logp, pb = policy.slot_log_probs_and_pb(env.states(prefixes[valid_state].reshape(-1, d, d)))
    stop = torch.zeros(K, T + 1, dtype=logp.dtype, device=dev)
    stop[valid_state] = logp[:, -1]
    act = order[:, :T][valid]  # (S,) flat edge indices of the steps
    edge_lp = torch.zeros(K, T, dtype=logp.dtype, device=dev)
    edge_lp[valid] = logp[pos[:, :T][valid], env.slot[act]]
    delta = torch.zeros(K, T, dtype=torch.float64, device=dev)
    delta[valid] = env.reward.delta_edges(prefixes[:, :T][valid].reshape(-1, d, d), act // d, act % d)
    if pb is None:
        log_pb = -torch.log((t[1:] * 1.0).to(logp.dtype))[None, :]  # uniform: |E(s_t+1)| = t + 1
    else:  # log P_B(s_t | s_t+1): removing step t's edge from s_t+1
        log_pb = torch.zeros(K, T, dtype=logp.dtype, device=dev)
        log_pb[valid] = pb[pos[:, 1:][valid], env.slot[act]]
    res = delta.to(logp.dtype) + log_pb + stop[:, :-1] - edge_lp - stop[:, 1:]
    return torch.where(valid, res, torch.zeros_like(res)), valid


def subtb_loss(residuals: torch.Tensor, valid: torch.Tensor, lam: float, huber_delta: float | None = 1.0) -> torch.Tensor:
    """The lambda-weighted subtrajectory balance loss (scalar) of one-step residuals (K, T) (invalid steps 0).

    With ``huber_delta`` the square is the Huber penalty, as in the trainer's DB loss: an untrained policy's
    stretches are off by hundreds of nats, and their squares would swamp the DB term's bounded gradients."""
    K, T = residuals.shape
    dev = residuals.device
    C = torch.cat([torch.zeros(K, 1, dtype=residuals.dtype, device=dev), residuals.cumsum(1)], 1)  # (K, T+1)
    m = valid.sum(1)  # (K,)
    idx = torch.arange(T + 1, device=dev)
    span = (idx[None, :] - idx[:, None]).to(residuals.dtype)  # (T+1, T+1): j - i
    pair = (span > 0)[None] & (idx[None, None, :] <= m[:, None, None])  # (K, i, j): i < j <= m_k
    w = torch.where(pair, lam ** span.clamp(min=0)[None], torch.zeros((), dtype=residuals.dtype, device=dev))
    diff = C[:, None, :] - C[:, :, None]  # (K, i, j): C_j - C_i
    pen = diff.square() if huber_delta is None else F.huber_loss(diff, torch.zeros_like(diff), reduction="none", delta=huber_delta)
    return (w * pen).sum() / w.sum().clamp(min=1e-12)


def subtb_on_graphs(policy: EdgePolicy, env: DAGEnv, graphs: torch.Tensor, lam: float, huber_delta: float | None,
                    generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """The loss on the graphs (K, d, d) inside the environment's support (candidates, in-degree cap; empty graphs have
    no step): (scalar with grad, 0 when none is left; steps evaluated, one reward delta each)."""
    graphs = graphs.to(env.reward.device)
    keep = graphs.flatten(1).any(1)
    if env.allowed is not None:
        keep &= ~(graphs & ~env.allowed).flatten(1).any(1)
    if env.max_parents is not None:
        keep &= graphs.sum(1).max(1).values <= env.max_parents
    if not bool(keep.any()):
        return torch.zeros((), device=graphs.device), 0
    res, valid = trajectory_residuals(policy, env, graphs[keep], generator)
    return subtb_loss(res, valid, lam, huber_delta), int(valid.sum())
