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

import torch

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.policy import EdgePolicy

__all__ = ["log_variance_loss", "finetune"]


def log_variance_loss(policy: EdgePolicy, batch: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch`` trajectories from P_F and return (the loss, scalar with grad; the residuals r (B,) detached).

    Each step runs the policy on the whole batch with its gradient kept (about the memory of one DB batch per step)."""
    env = policy.env
    state = env.reset(batch)
    log_pf = torch.zeros(batch, device=env.device)
    stop = env.num_slots - 1
    while not bool(state.done.all()):
        mask = env.slot_mask(state)
        logp = policy.slot_log_probs(state, mask)  # (B, E + 1)
        with torch.no_grad():
            slots = torch.multinomial(logp.detach().exp(), 1, generator=generator).squeeze(1)
        slots = torch.where(state.done, torch.full_like(slots, stop), slots)
        step = logp.gather(1, slots[:, None]).squeeze(1)
        log_pf = log_pf + torch.where(state.done, torch.zeros_like(step), step)
        state, _ = env.step(state, env.slot_actions(slots), with_delta=False)
    m = state.adj.flatten(1).sum(1)
    target = (env.reward.log_reward(state.adj) + env.log_pb_trajectory(m)).to(log_pf.dtype)  # log R + log P_B(tau | G)
    r = log_pf - target
    return ((r - r.mean()) ** 2).mean(), r.detach()


def finetune(policy: EdgePolicy, iterations: int | None = None, max_cpu_seconds: float | None = None, lr: float = 3e-5,
             batch: int = 64, generator: torch.Generator | None = None, grad_clip: float = 0.0) -> dict[str, float]:
    """Adam steps of :func:`log_variance_loss` on ``policy`` in place, until ``iterations`` or ``max_cpu_seconds`` of this
    process's CPU time (whichever comes first; one of them is required). Returns {"iterations", "cpu_seconds",
    "first_sd", "last_sd"}: the residuals' standard deviation on the first and last batch (nats)."""
    if iterations is None and max_cpu_seconds is None:
        raise ConfigError("finetune needs iterations or max_cpu_seconds")
    if batch < 2 or lr <= 0:
        raise ConfigError(f"finetune needs batch >= 2 and lr > 0, got {batch} and {lr}")
    frozen = [p for p in policy.parameters() if not p.requires_grad]  # an EMA copy is kept frozen by the trainer
    for p in frozen:
        p.requires_grad_(True)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    cpu0, it, first, last = time.process_time(), 0, float("nan"), float("nan")
    try:
        while (iterations is None or it < iterations) and (max_cpu_seconds is None or time.process_time() - cpu0 < max_cpu_seconds):
            loss, r = log_variance_loss(policy, batch, generator)
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
