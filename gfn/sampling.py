"""Sampling graphs from a trained policy, and estimating log P_T(G) by backward trajectories.

* :func:`choose_actions` draws one action per state from P_F mixed with the uniform distribution over
  valid actions (epsilon-uniform exploration, Deleu et al. 2022 §3.4), by the inverse CDF.
* :func:`sample` runs up to ``batch_size`` graphs at a time to the stop action, from empty graphs or from
  a given partial graph (the coverage issue completes human hypotheses this way), stepped in place in
  slot space (gfn/rollout.py); finished graphs leave the batch and new ones join, so every step but
  those of the last samples runs a full batch.
* :func:`log_pt_backward` estimates log P_T(G) = log E_{tau ~ P_B(.|G)} [P_F(tau) / P_B(tau | G)]
  (Bengio et al. 2023 "GFlowNet Foundations" §3; DESIGN.md "GFlowNet mass"): with uniform P_B a
  backward trajectory is a uniformly random order of G's edges and P_B(tau | G) = 1 / |E|!; with a learned P_B
  (policy.py) the trajectories are drawn from it, the proposal the flows were fitted to.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from theorycov.gfn.device import rand
from theorycov.gfn.env import GraphState
from theorycov.gfn.errors import ConfigError, ShapeError
from theorycov.gfn.graphs import as_adjacency
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.rollout import Rollout

__all__ = ["choose_actions", "sample", "log_pt_backward", "order_spread", "trajectory_log_weights", "backward_orders",
           "random_edge_order", "ranked_edge_order", "highest_rank"]


def choose_actions(
    log_probs: torch.Tensor, mask: torch.Tensor, epsilon: float, generator: torch.Generator | None
) -> torch.Tensor:
    """One action per row from (1 - eps) P_F + eps Uniform(valid actions): (B, A), (B, A) bool -> (B,) int64.

    Inverse-CDF draw (one uniform per row): cheaper than Gumbel-max, which needs B*A uniforms and two logs.
    """
    return choose_from_probs(log_probs.exp(), mask, epsilon, generator)


def choose_from_probs(
    probs: torch.Tensor, mask: torch.Tensor, epsilon: float, generator: torch.Generator | None
) -> torch.Tensor:
    """:func:`choose_actions` from probabilities (B, A) instead of log-probabilities."""
    if epsilon > 0.0:
        uniform = mask.to(probs.dtype)
        uniform = uniform / uniform.sum(1, keepdim=True)
        probs = (1.0 - epsilon) * probs + epsilon * uniform
    cdf = probs.cumsum(1)  # (B, A)
    u = rand((probs.shape[0], 1), generator, probs.device, probs.dtype) * cdf[:, -1:]
    actions = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=probs.shape[1] - 1)
    # guard against rounding picking a zero-probability action at the very end of the CDF
    bad = ~mask.gather(1, actions[:, None]).squeeze(1)
    if bool(bad.any()):
        actions[bad] = torch.argmax(probs[bad], dim=1)
    return actions


@torch.no_grad()
def sample(
    policy: EdgePolicy,
    n: int,
    start: torch.Tensor | None = None,
    batch_size: int = 2048,
    generator: torch.Generator | None = None,
    epsilon: float = 0.0,
) -> torch.Tensor:
    """n graphs from P_T: (n, d, d) bool.

    start: None (empty graphs), one partial DAG (d, d) used for every sample, or (n, d, d) one per
    sample; edges are only ever added, so every sample contains its start graph.
    """
    env = policy.env
    d = env.d
    starts: torch.Tensor | None = None
    if start is not None:
        starts = as_adjacency(start, d).to(env.device)
        if starts.shape[0] not in (1, n):
            raise ShapeError(f"start must be (d, d), (1, d, d) or ({n}, d, d), got {tuple(start.shape)}")
        env.from_adjacency(starts[:1] if starts.shape[0] == 1 else starts)  # validates (acyclic, max parents)
    out = torch.zeros(n, d, d, dtype=torch.bool, device=env.device)
    if n == 0:
        return out
    if starts is None or starts.shape[0] == 1:  # every sample starts from the same graph: one template row
        s0 = env.reset(1) if starts is None else env.from_adjacency(starts, validate=False)
        template = Rollout(policy, s0)

        def fresh(lo: int, hi: int) -> tuple[Rollout, int]:
            return template, hi - lo
    else:
        def fresh(lo: int, hi: int) -> tuple[Rollout, int]:
            return Rollout(policy, env.from_adjacency(starts[lo:hi], validate=False)), 1  # type: ignore[index]

    _run_to_stop(policy, out, fresh, batch_size, generator, epsilon)
    return out


def _run_to_stop(
    policy: EdgePolicy, out: torch.Tensor, fresh: Callable[[int, int], tuple[Rollout, int]], batch_size: int,
    generator: torch.Generator | None, epsilon: float,
) -> None:
    """Fill ``out`` (n, d, d) with graphs stepped to stop, in place (gfn/rollout.py), at most ``batch_size`` at a
    time: finished graphs leave and new ones join, so the batch stays full until the last samples (one tail, not
    one per chunk). Masks, logits and the draw are in slot space (gfn/env.py), which gives the same distribution
    as action space (actions outside the candidates have probability 0 in both). ``fresh(lo, hi)``: the starting
    rollout of samples lo..hi-1 and how many times to repeat it."""
    n = out.shape[0]
    first = min(n, batch_size)
    head, rep = fresh(0, first)
    roll = head.repeated(rep)
    ids = torch.arange(first, device=out.device)  # sample index of each row
    started = first
    while roll.batch_size > 0:
        # softmax, not exp: its fused exponential is 3x faster here than exp_ on logits with -inf entries
        slots = choose_from_probs(torch.softmax(roll.slot_logits(), dim=1), roll.mask, epsilon, generator)
        roll.step(torch.where(roll.done, torch.full_like(slots, roll.stop), slots))
        finished = roll.done
        n_fin = int(finished.sum())
        # compact only when a good share has stopped: copying the batch every step costs more
        # than carrying a few finished graphs (they keep taking stop and do not change)
        if n_fin == finished.numel() or n_fin >= max(1, finished.numel() // 8):
            out[ids[finished]] = roll.adj[finished]
            keep = ~finished
            ids = ids[keep]
            roll.keep(keep)
            k = min(n - started, batch_size - roll.batch_size)
            if k > 0:
                more, rep = fresh(started, started + k)
                roll.extend(more, rep)
                ids = torch.cat([ids, torch.arange(started, started + k, device=out.device)])
                started += k


def ranked_edge_order(flat: torch.Tensor, rank_action: torch.Tensor) -> torch.Tensor:
    """Each graph's edges in ascending rank, the one trajectory of an ordered environment (gfn/env.py):
    flat (B, d*d) bool, rank_action (d*d,) int64 -> (B, d*d) int64 flat indices, the edges first."""
    keys = torch.where(flat, rank_action[None, :], torch.full_like(rank_action[None, :], 2 * flat.shape[1] + 1))
    return torch.argsort(keys, dim=1)


def highest_rank(flat: torch.Tensor, rank_action: torch.Tensor) -> torch.Tensor:
    """Rank of each graph's highest-ranked edge: flat (B, d*d) bool, rank_action (d*d,) int64 -> (B,) int64, -1 if empty."""
    return torch.where(flat, rank_action[None, :], torch.full_like(rank_action[None, :], -1)).max(1).values


def random_edge_order(flat: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A uniformly random order of each graph's edges, i.e. a backward trajectory of the uniform P_B:
    flat (B, d*d) bool -> (B, d*d) int64 flat indices whose first m_b entries are graph b's edges (then its non-edges)."""
    keys = rand(tuple(flat.shape), generator, flat.device)
    keys = torch.where(flat, keys, torch.full_like(keys, 2.0))  # non-edges sort last
    return torch.argsort(keys, dim=1)


@torch.no_grad()
def backward_orders(policy: EdgePolicy, adj: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward trajectories of P_B from graphs (N, d, d) bool: (edge orders (N, T) int64, log P_B(tau | G) (N,) float64).

    Entry t < m_n of row n is the flat index of the edge that trajectory n adds at step t (T = the most edges,
    at least 1; later entries are unused). With the uniform P_B an order is uniformly random and log P_B = -log m!;
    with a learned one (``PolicyConfig.learn_backward``) the edges are removed one at a time, each drawn from P_B at
    the current graph (Gumbel-max), so the orders are those the learned flows prefer."""
    env = policy.env
    flat = adj.flatten(1)
    N, dev = flat.shape[0], flat.device
    m = flat.sum(1)
    T = max(int(m.max()) if N else 0, 1)
    if policy.back_head is None:  # uniform, or the ordered environment's one trajectory (gfn/env.py)
        return env.edge_orders(flat, generator)[:, :T], env.log_pb_trajectory(m)
    cur = flat.clone()
    order = torch.zeros(N, T, dtype=torch.int64, device=dev)
    log_pb = torch.zeros(N, dtype=torch.float64, device=dev)
    for k in range(T):  # removal k takes away the edge that the forward trajectory adds at step m - 1 - k
        idx = (m > k).nonzero().flatten()
        if idx.numel() == 0:
            break
        pb = policy.slot_log_pb(env.states(cur[idx].view(-1, env.d, env.d))).to(torch.float64)  # (L, E)
        gumbel = -torch.log(-torch.log(rand(tuple(pb.shape), generator, dev, torch.float64).clamp_min(1e-300)))
        slot = (pb + gumbel).argmax(1)
        log_pb[idx] += pb.gather(1, slot[:, None]).squeeze(1)
        edge = env.edges[slot]
        cur[idx, edge] = False
        order[idx, m[idx] - 1 - k] = edge
    return order, log_pb


@torch.no_grad()
def log_pt_backward(
    policy: EdgePolicy, adj: torch.Tensor, n_traj: int = 256, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Importance-sampling estimate of log P_T(G) from n_traj backward trajectories of P_B (uniform or learned,
    :func:`backward_orders`): (B, d, d) -> (B,) float64.

    Exact when n_traj covers every edge order; unbiased for P_T (not log P_T) in general.
    """
    return torch.logsumexp(trajectory_log_weights(policy, adj, n_traj, generator), dim=1) - math.log(n_traj)


@torch.no_grad()
def order_spread(policy: EdgePolicy, adj: torch.Tensor, n_traj: int = 8, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard deviation over n_traj >= 2 backward trajectories of log P_F(tau) - log P_B(tau | G): (B, d, d) -> (B,) float64.

    At the optimum of the balance losses every trajectory to G carries the same weight P_T(G), so the spread is 0; how far
    it is from 0 says how far the flows are from their fixed point and how noisy :func:`log_pt_backward` and the
    importance weights built on it are (at d = 20 the trained sampler read ~20 nats: bench/RESULTS.md 2026-12-07)."""
    if n_traj < 2:
        raise ConfigError(f"order_spread needs n_traj >= 2, got {n_traj}")
    return trajectory_log_weights(policy, adj, n_traj, generator).std(dim=1)


@torch.no_grad()
def trajectory_log_weights(
    policy: EdgePolicy, adj: torch.Tensor, n_traj: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """log P_F(tau) - log P_B(tau | G) of n_traj backward trajectories of P_B per graph, stop included:
    (B, d, d) -> (B, n_traj) float64; their mean of exponentials is P_T(G)."""
    env = policy.env
    d = env.d
    adj = as_adjacency(adj, d).to(env.device)
    env.from_adjacency(adj)  # validates
    B = adj.shape[0]
    m = adj.flatten(1).sum(1)  # (B,) edges per graph
    rep = adj.repeat_interleave(n_traj, dim=0)  # (B*T, d, d)
    m_rep = m.repeat_interleave(n_traj)
    dev = adj.device
    order, log_pb = backward_orders(policy, rep, generator)  # (B*T, max edges), (B*T,)
    state = env.reset(rep.shape[0])
    log_pf = torch.zeros(rep.shape[0], dtype=torch.float64, device=dev)
    max_m = int(m.max()) if B else 0
    rows = torch.arange(rep.shape[0], device=dev)
    for t in range(max_m + 1):  # one step per edge position, all trajectories at once
        logp = policy.log_probs(state).to(torch.float64)
        adding = t < m_rep
        stopping = t == m_rep
        act = torch.where(adding, order[:, min(t, order.shape[1] - 1)], torch.full_like(m_rep, d * d))
        log_pf += torch.where(adding | stopping, logp[rows, act], torch.zeros((), dtype=torch.float64, device=dev))
        if t == max_m:
            break
        act = torch.where(adding, act, torch.full_like(act, d * d))
        state, _ = env.step(state, act, with_delta=False)
        # graphs that took stop stay as they are; reopen them so later log-probs are well defined
        state = GraphState(state.adj, state.closure, state.features, torch.zeros_like(state.done))
    return (log_pf - log_pb).view(B, n_traj)
