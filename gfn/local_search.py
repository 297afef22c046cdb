"""Local search on a trained DAG-GFlowNet's samples: back-and-forth moves with a Metropolis-Hastings correction
(Kim et al. 2024, "Local Search GFlowNets", ICLR, §3.2, Algorithm 1).

A move from a terminal graph x with m edges: draw k uniformly from {0, ..., min(backtrack, m)}, walk back k steps with
the backward policy (uniform over x's edges, as in the modified detailed balance, Deleu et al. 2022 §3.2) to a partial
graph s, then forward from s with P_F to the stop action, at most ``backtrack`` added edges (a forced stop after that),
giving x'. It is accepted with probability min(1, a):

    a = R(x') q(k' | x') P_B(tau_f^rev | x') P~F(tau_b^rev | s)  /  ( R(x) q(k | x) P_B(tau_b | x) P~F(tau_f | s) )

where tau_b: x -> s is the backward walk, tau_f: s -> x' the forward one (k' edges), ^rev the same path the other way,
q(k | x) = 1 / (min(backtrack, m) + 1), and P~F the truncated forward policy (the stop after ``backtrack`` added edges
has probability 1). With uniform P_B, P_B(tau_b | x) = (m - k)! / m! and P_B(tau_f^rev | x') = |s|! / m'!; in an
ordered environment (gfn/env.py) the walk back removes the k highest-ranked edges and both are 1. The
proposal is a pair of paths whose reverse is proposed by the reverse pair with the probabilities above, so the ratio is
the Metropolis-Hastings ratio of a kernel on (graph, path) pairs and R is invariant: however poor P_F is, the moves never
leave the posterior; a good P_F only makes them accepted more often. Kim et al. walk back a fixed number of steps, which
is right for their fixed-length objects; here trajectories have any length, and with a fixed k a forward walk that
stops early or adds more edges could not be reversed (an early version did that and was biased: the d = 4 test of
tests/gfn/test_gfn_local_search.py caught it), hence the random k and the truncation. Measured at d = 20
(bench/RESULTS.md, five seeds): 10 rounds on a GFlowNet's 10,000 samples (~17 CPU-s) take 1.1-2.5 nats off their
log R gap to the posterior, where 100 single-edge MC3 steps each (gfn.mcmc.refine) lost 1.3; neither moves the
sampler off a wrong parent set of a hub node.

Graphs stay inside the environment's support (candidate screen, in-degree cap): the forward walk samples P_F, which
masks everything else, so the chain targets R restricted to the GFlowNet's own support.
"""
from __future__ import annotations

import torch

from theorycov.gfn.device import rand
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.graphs import as_adjacency
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.rollout import Rollout
from theorycov.gfn.sampling import choose_from_probs, random_edge_order

__all__ = ["local_search", "local_search_step"]


@torch.no_grad()
def local_search_step(
    policy: EdgePolicy, x: torch.Tensor, log_r: torch.Tensor, backtrack: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One back-and-forth move per graph: x (B, d, d) bool with log R(x) (B,) float64 ->
    (next graphs (B, d, d) bool, their log R (B,) float64, accepted (B,) bool)."""
    env = policy.env
    B, d = x.shape[0], env.d
    dev = x.device
    ar = torch.arange(B, device=dev)
    flat = x.flatten(1)
    m = flat.sum(1)  # (B,) edges per graph
    kmax = m.clamp(max=backtrack)
    k = (rand((B,), generator, dev, torch.float64) * (kmax + 1).double()).long().clamp_(max=kmax)  # (B,) steps back
    K = int(k.max()) if B else 0
    # uniform P_B: a uniformly random order of x's edges; the first k are walked back (removed)
    order = random_edge_order(flat, generator)[:, :max(K, 1)]  # (B, K) flat edge indices; entry t is an edge where t < k
    if env.ordered:  # an ordered environment's one backward walk removes the k highest-ranked edges (gfn/env.py)
        pos = (m - k)[:, None] + torch.arange(max(K, 1), device=dev)[None, :]
        order = env.edge_orders(flat, generator).gather(1, pos.clamp(max=d * d - 1))  # ascending: re-added in a valid order
    walk = torch.arange(max(K, 1), device=dev)[None, :] < k[:, None]  # (B, K)
    s_flat = flat.clone()
    s_flat[ar[:, None].expand_as(order)[walk], order[walk]] = False
    start = env.states(s_flat.view(B, d, d))

    # forward from s with P_F to stop, at most ``backtrack`` edges: x' and log P~F(tau_f | s)
    roll = Rollout(policy, start)
    log_pf = torch.zeros(B, dtype=torch.float64, device=dev)
    added = torch.zeros(B, dtype=torch.int64, device=dev)
    while not bool(roll.done.all()):
        logp = torch.log_softmax(roll.slot_logits(), dim=1)  # (B, E + 1)
        slots = choose_from_probs(logp.exp(), roll.mask, 0.0, generator)
        fixed = roll.done | (added >= backtrack)  # done, or the truncation's stop, which has probability 1
        slots = torch.where(fixed, torch.full_like(slots, roll.stop), slots)
        log_pf += torch.where(fixed, 0.0, logp[ar, slots].double())
        added += (slots != roll.stop) & ~roll.done
        roll.step(slots)
    x_new = roll.adj.clone()
    m_new = x_new.flatten(1).sum(1)

    # the reverse forward path from s: the walked-back edges added again (in the walk's order: P_B is uniform, so any
    # order of the removed edges is a backward walk of the same probability), then stop (forced after ``backtrack``)
    back = Rollout(policy, start)
    log_pf_rev = torch.zeros(B, dtype=torch.float64, device=dev)
    for t in range(K + 1):
        logp = torch.log_softmax(back.slot_logits(), dim=1)
        adding = walk[:, t] if t < K else torch.zeros(B, dtype=torch.bool, device=dev)
        act = env.slot[order[:, min(t, K - 1)]] if K else torch.full((B,), back.stop, device=dev)
        slots = torch.where(adding & ~back.done, act, torch.full_like(act, back.stop))
        free = ~back.done & (adding | (k < backtrack))  # the stop after ``backtrack`` re-added edges is forced
        log_pf_rev += torch.where(free, logp[ar, slots].double(), 0.0)
        back.step(slots)

    log_r_new = env.reward.log_reward(x_new)
    log_pb_ratio = env.log_pb_trajectory(m_new) - env.log_pb_trajectory(m)  # log P_B(rev) - log P_B(tau_b): log m! - log m_new!, or 0 ordered
    log_q_ratio = torch.log((kmax + 1).double()) - torch.log((m_new.clamp(max=backtrack) + 1).double())
    log_a = (log_r_new - log_r) + log_q_ratio + log_pb_ratio + log_pf_rev - log_pf
    accept = torch.log(rand((B,), generator, dev, torch.float64)) < log_a
    out = torch.where(accept[:, None, None], x_new, x)
    return out, torch.where(accept, log_r_new, log_r), accept


@torch.no_grad()
def local_search(
    policy: EdgePolicy, graphs: torch.Tensor, rounds: int, backtrack: int, generator: torch.Generator | None = None,
    batch_size: int = 2048,
) -> tuple[torch.Tensor, list[float]]:
    """``rounds`` back-and-forth moves on every graph: (n, d, d) bool -> (refined graphs (n, d, d) bool, the share of
    moves accepted in each round). Every move leaves R invariant (module docstring), so refined samples of a GFlowNet
    are closer to the posterior than the GFlowNet's, never further in distribution."""
    if rounds < 0 or backtrack < 1:
        raise ConfigError(f"local search needs rounds >= 0 and backtrack >= 1, got {rounds} and {backtrack}")
    env = policy.env
    x = as_adjacency(graphs, env.d).to(env.device)
    out = x.clone()
    accepted = torch.zeros(rounds, dtype=torch.float64)
    for lo in range(0, x.shape[0], batch_size):
        chunk = x[lo:lo + batch_size]
        log_r = env.reward.log_reward(chunk)
        for r in range(rounds):
            chunk, log_r, acc = local_search_step(policy, chunk, log_r, backtrack, generator)
            accepted[r] += float(acc.sum())
        out[lo:lo + batch_size] = chunk
    return out, (accepted / max(1, x.shape[0])).tolist()

