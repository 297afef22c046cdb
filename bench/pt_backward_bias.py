"""How far the backward-trajectory estimate of log P_T (gfn.sampling.log_pt_backward, uniform P_B over edge
orders) and the importance estimate of log Z built on it are from the exact values, at d = 4.

    .venv/bin/python bench/pt_backward_bias.py [--iterations 10] [--n-traj 8]

A diagnostic (prints only). The policy is a DAG-GFlowNet after ``--iterations`` training iterations on a d = 4
linear-Gaussian instance; every DAG is enumerated, so P_T and Z are exact. Each drawn graph's log P_T is
estimated from ``--n-traj`` random edge orders, as the running audit (8) and fit_posterior (FitConfig.n_traj)
do, and log Z = log mean R/P_T over the draws, as the reach check and the audit's "reached" rule at d > 5 do.
"""
from __future__ import annotations

import argparse
import itertools
import math

import torch

from theorycov.gfn import BGeScore, Reward, Trainer, TrainerConfig, enumerate_dags, exact_terminal_distribution
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.graphs import graph_codes
from theorycov.gfn.sampling import log_pt_backward, sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--n-traj", type=int, default=8)
    ap.add_argument("--draws", type=int, default=4096)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data, _ = make_linear_gaussian_er(4, 1.0, 50, seed=1)
    reward = Reward(BGeScore(data))
    dags = enumerate_dags(4)
    trainer = Trainer(TrainerConfig(seed=0, num_iterations=args.iterations, progress=False, prefill=64), reward)
    trainer.train()
    pt = exact_terminal_distribution(trainer.policy, dags)
    codes = {c: i for i, c in enumerate(graph_codes(dags).tolist())}
    g = sample(trainer.policy, args.draws, generator=torch.Generator().manual_seed(1))
    gi = torch.tensor([codes[c] for c in graph_codes(g).tolist()])
    lr = reward.log_reward(g)
    lpt = log_pt_backward(trainer.policy, g, n_traj=args.n_traj, generator=torch.Generator().manual_seed(2))
    err = lpt - pt[gi].log()
    print(f"log P_T of {args.draws} draws, {args.n_traj} orders each: error mean {float(err.mean()):+.2f}, "
          f"mean |error| {float(err.abs().mean()):.2f}, min {float(err.min()):+.2f} nats")
    true_z = float(torch.logsumexp(reward.log_reward(dags), 0))
    is_z = float(torch.logsumexp(lr - lpt, 0)) - math.log(args.draws)
    exact_pt_z = float(torch.logsumexp(lr - pt[gi].log(), 0)) - math.log(args.draws)
    print(f"log Z: exact {true_z:.2f}; IS with estimated P_T {is_z:.2f} ({is_z - true_z:+.2f}); IS with exact P_T {exact_pt_z:.2f}")
    full = dags[int(torch.argmax(dags.flatten(1).sum(1)))]  # a complete DAG: 6 edges, 720 orders
    lps = []
    for perm in itertools.permutations(full.nonzero().tolist()):
        st, lp = trainer.policy.env.reset(1), 0.0
        with torch.no_grad():
            for i, j in perm:
                lp += float(trainer.policy.log_probs(st)[0, i * 4 + j])
                st, _ = trainer.policy.env.step(st, torch.tensor([i * 4 + j]), with_delta=False)
            lp += float(trainer.policy.log_probs(st)[0, 16])
        lps.append(lp)
    t = torch.tensor(lps, dtype=torch.float64)
    print(f"a complete DAG's 720 edge orders: log P_F(order) max {float(t.max()):.1f}, median {float(t.median()):.1f}; "
          f"log P_T exact {float(pt[codes[int(graph_codes(full[None])[0])]].log()):.2f}")
    for n in (8, 64, 720, 5000):
        est = float(log_pt_backward(trainer.policy, full[None], n_traj=n, generator=torch.Generator().manual_seed(5))[0])
        print(f"  estimate from {n} random orders: {est:.2f}")


if __name__ == "__main__":
    main()
