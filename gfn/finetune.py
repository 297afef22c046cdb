"""Trajectory-level fine-tuning of a trained sampler: the log-variance loss on its own trajectories.

The modified DB loss (gfn/losses.py) and SubTB (gfn/subtb.py) fit one step or a short stretch at a time; their errors
add up along a trajectory. At d = 20 after 4-5 CPU-minutes they leave log R(G) - log P_T(G) spread by ~20 nats over
the sampler's own graphs, measured exactly in an ordered environment (gfn/canonical.py, bench/RESULTS.md 2026-12-07),
and the samples' mean log R 11-16 nats below the posterior's. This loss fits the whole trajectory: for B on-policy
trajectories tau_b ending in G_b,

    r_b = log P_F(tau_b) - log P_B(tau_b | G_b) - log R(G_b),    loss = mean_b (r_b - mean(r))^2,

the variance of the log importance weights; it is zero exactly when P_T is proportional to R. It is trajectory
balance with log Z replaced by the batch's own estimate, the "log-variance" (VarGrad) loss (Richter et al. 2020;
for GFlowNets, Malkin et al. 2023, "GFlowNets and variational inference", ICLR, §3.2), whose gradient on on-policy
trajectories is that of the reverse KL divergence. In an ordered environment log P_B = 0 and r_b is exact; with the
uniform P_B it is -log m!, and the loss also asks every edge order to carry the same weight.

It is a fine-tuning stage, not a training loss: from an untrained policy on-policy trajectories at d = 20 see too
little of the posterior (a 90 s run from DB-trained weights of 1 CPU-minute barely moved, 63 -> 60 nats), whereas after
DB training it took the spread from 20-22 to 6-8 nats in 60 CPU-s (bench/RESULTS.md 2026-12-07).
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.policy import EdgePolicy

__all__ = ["log_variance_loss", "finetune"]


def trajectory_log_pf(policy: EdgePolicy, graphs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """log P_F(tau) of one backward trajectory of each graph (its P_B draw: random order, or the ordered environment's
    one), stop included: (K, d, d) bool DAGs inside the support (the empty graph's trajectory is the stop at s_0) ->
    (K,) float32 with grad. One forward pass over all prefixes (sum of the graphs' edge counts plus K states)."""
    env, d = policy.env, policy.env.d
    flat = graphs.flatten(1)
    K, dev = flat.shape[0], flat.device
    order = env.edge_orders(flat, generator)  # (K, d*d): the edges first
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(d * d, device=dev).expand(K, -1))
    m = flat.sum(1)
    T = int(m.max())
    t = torch.arange(T + 1, device=dev)
    valid_state = t[None, :] <= m[:, None]  # (K, T+1): s_0 .. s_m
    prefixes = flat[:, None, :] & (rank[:, None, :] < t[None, :, None])  # (K, T+1, d*d)
    logp = policy.slot_log_probs(env.states(prefixes[valid_state].reshape(-1, d, d)))  # (N, E + 1)
    pos = torch.full((K, T + 1), -1, dtype=torch.int64, device=dev)
    pos[valid_state] = torch.arange(int(valid_state.sum()), device=dev)
    step = t[None, :T] < m[:, None]  # (K, T): s_t -> s_t+1 adds the order's t-th edge
    act = torch.full((K, T + 1), env.num_slots - 1, dtype=torch.int64, device=dev)  # ... and s_m takes stop
    act[:, :T][step] = env.slot[order[:, :T][step]]
    lp = torch.zeros(K, T + 1, dtype=logp.dtype, device=dev)
    lp[valid_state] = logp[pos[valid_state], act[valid_state]]
    return lp.sum(1)


def log_variance_loss(policy: EdgePolicy, batch: int, generator: torch.Generator | None = None,
                      graphs: torch.Tensor | None = None, epsilon: float = 0.0, nll_weight: float = 0.0,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch`` trajectories from P_F and return (the loss, scalar with grad; the residuals r (B,) detached).

    epsilon: share of uniformly random valid actions in the trajectories' draws (the loss still scores P_F's own
    log-probabilities: exploration changes where the trajectories go, not the fixed point).
    graphs: optional (K, d, d) DAGs from elsewhere (e.g. the MCMC guide's chains) whose backward trajectories join the
    batch. The loss is zero at P_T proportional to R whatever distribution the trajectories come from, so off-policy
    graphs are valid data; they counter the mode-seeking of on-policy trajectories alone (the reverse KL's gradient),
    which at d = 20 left the fine-tuned samples 4-7 nats above the posterior's mean log R (bench/RESULTS.md 2026-12-07).
    nll_weight: adds nll_weight * mean(-log P_F(tau_G)) over ``graphs``, the forward KL(posterior || P_T) up to a constant
    when the graphs are posterior draws and the environment is ordered (one trajectory per DAG, so log P_F(tau_G) =
    log P_T(G) exactly); it pulls mass toward the graphs the reverse-KL gradient neglects.
    Each step runs the policy on the whole batch with its gradient kept (about the memory of one DB batch per step)."""
    env = policy.env
    state = env.reset(batch)
    log_pf = torch.zeros(batch, device=env.device)
    stop = env.num_slots - 1
    while not bool(state.done.all()):
        mask = env.slot_mask(state)
        logp = policy.slot_log_probs(state, mask)  # (B, E + 1)
        with torch.no_grad():
            probs = logp.detach().exp()
            if epsilon > 0:
                probs = (1 - epsilon) * probs + epsilon * mask / mask.sum(1, keepdim=True)
            slots = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        slots = torch.where(state.done, torch.full_like(slots, stop), slots)
        step = logp.gather(1, slots[:, None]).squeeze(1)
        log_pf = log_pf + torch.where(state.done, torch.zeros_like(step), step)
        state, _ = env.step(state, env.slot_actions(slots), with_delta=False)
    m = state.adj.flatten(1).sum(1)
    target = (env.reward.log_reward(state.adj) + env.log_pb_trajectory(m)).to(log_pf.dtype)  # log R + log P_B(tau | G)
    r = log_pf - target
    nll = None
    if graphs is not None:
        graphs = graphs.to(env.device)
        keep = torch.ones(graphs.shape[0], dtype=torch.bool, device=env.device)  # the empty graph too: its trajectory is the stop
        if env.allowed is not None:
            keep &= ~(graphs & ~env.allowed).flatten(1).any(1)
        if env.max_parents is not None:
            keep &= graphs.sum(1).max(1).values <= env.max_parents
        g = graphs[keep]
        if g.shape[0]:
            mg = g.flatten(1).sum(1)
            lpf_g = trajectory_log_pf(policy, g, generator)
            rg = lpf_g - (env.reward.log_reward(g) + env.log_pb_trajectory(mg)).to(log_pf.dtype)
            r = torch.cat([r, rg])
            nll = -lpf_g.mean() * nll_weight if nll_weight > 0 else None
    loss = ((r - r.mean()) ** 2).mean()
    return (loss if nll is None else loss + nll), r.detach()


def finetune(policy: EdgePolicy, iterations: int | None = None, max_cpu_seconds: float | None = None, lr: float = 3e-5,
             batch: int = 64, generator: torch.Generator | None = None, grad_clip: float = 0.0,
             graphs: Callable[[int, torch.Generator | None], torch.Tensor | None] | None = None, off_policy: int = 0,
             epsilon: float = 0.0, nll_weight: float = 0.0) -> dict[str, float]:
    """Adam steps of :func:`log_variance_loss` on ``policy`` in place, until ``iterations`` or ``max_cpu_seconds`` of this
    process's CPU time (whichever comes first; one of them is required). graphs: optional hook (n, generator) -> (k, d, d)
    DAGs or None (e.g. ``MCMCGuide.graphs``), asked for ``off_policy`` graphs a step (:func:`log_variance_loss`, which
    also takes ``nll_weight``).
    Returns {"iterations", "cpu_seconds", "first_sd", "last_sd"}: the residuals' standard deviation on the first and
    last batch (nats)."""
    if iterations is None and max_cpu_seconds is None:
        raise ConfigError("finetune needs iterations or max_cpu_seconds")
    if batch < 2 or lr <= 0 or not 0.0 <= epsilon < 1.0 or nll_weight < 0:
        raise ConfigError(f"finetune needs batch >= 2, lr > 0, epsilon in [0, 1) and nll_weight >= 0, got {batch}, {lr}, "
                          f"{epsilon} and {nll_weight}")
    frozen = [p for p in policy.parameters() if not p.requires_grad]  # an EMA copy is kept frozen by the trainer
    for p in frozen:
        p.requires_grad_(True)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    cpu0, it, first, last = time.process_time(), 0, float("nan"), float("nan")
    try:
        while (iterations is None or it < iterations) and (max_cpu_seconds is None or time.process_time() - cpu0 < max_cpu_seconds):
            extra = graphs(off_policy, generator) if graphs is not None and off_policy > 0 else None
            loss, r = log_variance_loss(policy, batch, generator, extra, epsilon, nll_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
            opt.step()
            sd = float(r.std())
            first = sd if it == 0 else first
            last, it = sd, it + 1
    finally:
        for p in frozen:
            p.requires_grad_(False)
    return {"iterations": it, "cpu_seconds": time.process_time() - cpu0, "first_sd": first, "last_sd": last}
