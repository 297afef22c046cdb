"""Edge orders for an ordered DAG environment (gfn/env.py, ``edge_rank``): one trajectory per DAG, so P_T is exact.

With the uniform backward policy of DAG-GFlowNet (Deleu et al. 2022 §3.3) a graph with m edges is reached by m!
trajectories and the balance losses ask the forward policy to weigh them all alike. At d = 20 it does not: along
uniformly random orders of its own samples its one-step residuals average 6.3 nats and log P_F(tau) - log P_B(tau | G)
spreads by ~20 nats over orders (bench/RESULTS.md 2026-12-07, "why the joint is diffuse"), so P_T can only be
estimated, with effective sample size 1. Any backward policy with full support on a state's parents keeps R the
fixed point ("GFlowNet Foundations", Bengio et al. 2023, §3), and so does a deterministic one whose support covers
every terminal state once: removing the highest-ranked edge of a fixed ranking of the edges. Then every DAG has
exactly one trajectory (its edges in ascending rank), the environment only lets an edge be added above the graph's
highest-ranked one, P_B = 1 along it, and

    log P_T(G) = sum_t log P_F(s_t+1 | s_t) + log P_F(stop | G)

exactly: importance weights R / P_T, their spread and a trajectory-level loss on them (gfn/finetune.py) need no
estimate over orders. The forward policy must instead decide early edges knowing that a skipped edge cannot come back,
which is easier when the strong edges come first: ``strength_rank`` ranks each unordered pair by the larger of its two
one-edge score gains at the empty graph, strongest first, and within a pair the stronger direction first.
"""
from __future__ import annotations

import torch

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.reward import Reward

__all__ = ["EDGE_ORDERS", "edge_rank", "index_rank", "strength_rank"]

#: the kinds ``TrainerConfig.edge_order`` accepts: "any" (the uniform backward policy: every order), or a fixed ranking
EDGE_ORDERS = ("any", "strength", "index")


def index_rank(d: int) -> torch.Tensor:
    """Edges ranked by their action index i * d + j: (d, d) int64."""
    return torch.arange(d * d, dtype=torch.int64).view(d, d)


@torch.no_grad()
def strength_rank(reward: Reward) -> torch.Tensor:
    """Edges ranked by the score gain of adding them to the empty graph, pair by pair (module docstring): (d, d) int64,
    rank 0 first. The diagonal gets the last ranks (it is never an action)."""
    d = reward.d
    src, dst = torch.meshgrid(torch.arange(d), torch.arange(d), indexing="ij")
    src, dst = src.flatten().to(reward.device), dst.flatten().to(reward.device)
    off = src != dst
    empty = torch.zeros(1, d, d, dtype=torch.bool, device=reward.device)
    gain = torch.full((d * d,), float("-inf"), dtype=torch.float64, device=reward.device)
    gain[off] = reward.delta_features_at(empty, src[off], dst[off])[0].to(torch.float64)
    rev = gain.view(d, d).T.flatten()
    pair = torch.maximum(gain, rev)
    # sort by the pair's strength, then the stronger direction, then the index (ties of equal gains stay deterministic)
    keys = torch.stack([-pair, -(gain >= rev).to(torch.float64), torch.arange(d * d, dtype=torch.float64, device=gain.device)], 1)
    order = sorted(range(d * d), key=lambda a: tuple(keys[a].tolist()))
    rank = torch.empty(d * d, dtype=torch.int64)
    rank[torch.tensor(order)] = torch.arange(d * d)
    return rank.view(d, d).to(reward.device)


def edge_rank(kind: str, reward: Reward) -> torch.Tensor | None:
    """The ``edge_rank`` of an environment for ``TrainerConfig.edge_order``: None for "any" (unordered)."""
    if kind not in EDGE_ORDERS:
        raise ConfigError(f"edge_order must be one of {EDGE_ORDERS}, got {kind!r}")
    if kind == "any":
        return None
    return index_rank(reward.d).to(reward.device) if kind == "index" else strength_rank(reward)
