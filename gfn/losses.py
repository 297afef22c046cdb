"""GFlowNet losses: the modified detailed balance of DAG-GFlowNet, and trajectory balance.

Modified detailed balance (Deleu et al. 2022 §3.2, eq. 9; all states terminal, Bengio et al. 2023
"GFlowNet Foundations" §4 on detailed balance): for every transition G -> G',

    log R(G') + log P_B(G | G') + log P_F(stop | G) = log R(G) + log P_F(G' | G) + log P_F(stop | G'),

with the uniform backward policy P_B(G | G') = 1 / |E(G')| (§3.3), or a learned one (policy.py,
``PolicyConfig.learn_backward``): the equation holds for any P_B with full support on G's parents. The loss is the Huber penalty of
the difference. It is local, so it holds for transitions drawn from any distribution with full
support: replayed and injected (off-policy) transitions are valid training data.

Trajectory balance (Malkin et al. 2022, eq. 14): log Z + sum_t log P_F(s_t+1 | s_t) + log P_F(stop | G)
= log R(G) + sum_t log P_B(s_t | s_t+1); with uniform P_B the backward sum is -log |E(G)|!.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["modified_db_residual", "modified_db_loss", "trajectory_balance_loss"]


def modified_db_residual(
    log_pf_s: torch.Tensor,
    log_pf_next_stop: torch.Tensor,
    actions: torch.Tensor,
    delta_log_reward: torch.Tensor,
    num_edges_next: torch.Tensor,
    log_pb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Residual of eq. 9 per transition.

    log_pf_s: (M, A) log P_F(. | G); log_pf_next_stop: (M,) log P_F(stop | G') (from the target
    network when one is used); actions: (M,) edge actions G -> G'; delta_log_reward: (M,)
    log R(G') - log R(G); num_edges_next: (M,) |E(G')| >= 1; log_pb: (M,) log P_B(G | G') of a learned backward
    policy (None: the uniform 1 / |E(G')|). Returns (M,) float32.
    """
    log_pf_edge = log_pf_s.gather(1, actions[:, None]).squeeze(1)  # (M,)
    log_pf_stop = log_pf_s[:, -1]  # (M,)
    if log_pb is None:
        log_pb = -torch.log(num_edges_next.to(log_pf_s.dtype))  # uniform backward policy
    return delta_log_reward.to(log_pf_s.dtype) + log_pb + log_pf_stop - log_pf_edge - log_pf_next_stop


def modified_db_loss(
    log_pf_s: torch.Tensor,
    log_pf_next_stop: torch.Tensor,
    actions: torch.Tensor,
    delta_log_reward: torch.Tensor,
    num_edges_next: torch.Tensor,
    huber_delta: float = 1.0,
    log_pb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Huber penalty of :func:`modified_db_residual` (scalar)."""
    res = modified_db_residual(log_pf_s, log_pf_next_stop, actions, delta_log_reward, num_edges_next, log_pb)
    return F.huber_loss(res, torch.zeros_like(res), delta=huber_delta)


def trajectory_balance_loss(
    log_z: torch.Tensor, sum_log_pf: torch.Tensor, log_reward: torch.Tensor, num_edges: torch.Tensor,
    log_pb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared TB residual: log_z scalar, sum_log_pf (B,) including the stop step, log_reward (B,), num_edges (B,);
    log_pb (B,): log P_B(tau | G) (default: the uniform edge order's -log |E|!; 0 in an ordered environment)."""
    if log_pb is None:
        log_pb = -torch.lgamma(num_edges.to(torch.float64) + 1.0)  # log 1/|E|! for a uniform edge order
    res = log_z + sum_log_pf - (log_reward + log_pb).to(sum_log_pf.dtype)
    return (res**2).mean()
