"""Benchmark: Sachs et al. 2005 protein signalling (d = 11), BGe on the 853 observational cells.

Train for --minutes (default 10), draw 10,000 graphs, and compare them with the 17-edge consensus
network (bnlearn's sachs.bif, the reference of Deleu et al. 2022 §5.3): E-SHD, E-#edges, AUROC and
AUPRC of the sampled edge marginals. Data: log intensities, standardized; read from the cdt==0.6.0
wheel's CSV when that distribution is installed, else from ../shared/data/sachs/.
``--interventional`` uses all 7,466 cells with their intervention targets instead.

    .venv/bin/python bench/gfn_sachs.py
    .venv/bin/python bench/gfn_sachs.py --minutes 0.5 --no-record
"""
from __future__ import annotations

import argparse
import time

import torch

from gfn_common import machine, peak_rss_mb, report, table
from theorycov.gfn import (
    BGeScore,
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    auprc,
    auroc,
    edge_marginals_from_samples,
    expected_num_edges,
    expected_shd,
    load_sachs,
    sachs_consensus_adjacency,
    sample,
)
from theorycov.gfn.sachs import find_sachs_file


def greedy_ascent(tr: Trainer, reward: Reward) -> torch.Tensor:
    """Greedy edge additions from the empty graph while log R improves: a reference optimum (1, d, d)."""
    env = tr.env
    st = env.reset(1)
    while True:
        mask = env.action_mask(st)[:, :-1].view(st.adj.shape)
        gain = reward.delta_features(st.adj).masked_fill(~mask, float("-inf"))
        best = int(gain.flatten().argmax())
        if not float(gain.flatten()[best]) > 0:
            return st.adj
        st, _ = env.step(st, torch.tensor([best]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interventional", action="store_true", help="all 9 conditions with intervention targets")
    ap.add_argument("--num-envs", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--note", default="", help="free text added to the RESULTS.md entry")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-samples", type=int, default=10_000)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = machine()
    data = load_sachs(observational_only=not args.interventional)
    truth = sachs_consensus_adjacency()
    reward = Reward(BGeScore(data))

    def cfg(iters: int) -> TrainerConfig:
        return TrainerConfig(seed=args.seed, num_iterations=iters, num_envs=args.num_envs, batch_size=args.batch_size,
                             prefill=1000, lr=args.lr, lr_min=args.lr * 0.01, warmup_iters=200, eps_start=0.5,
                             eps_end=0.05, eps_decay_iters=max(1, iters // 4), progress=False, log_every=500,
                             policy=PolicyConfig(hidden=args.hidden))

    calib = Trainer(cfg(100_000), reward)
    calib.train(num_iterations=20)
    t0 = time.perf_counter()
    calib.train(num_iterations=200)
    rate = 200 / (time.perf_counter() - t0)
    tr = Trainer(cfg(max(1000, int(rate * args.minutes * 60))), reward)
    tr.train(max_seconds=args.minutes * 60)
    if tr.train_seconds < args.minutes * 60:  # schedule ended early (calibration ran on small graphs): go on at lr_min
        tr.train(num_iterations=10**9, max_seconds=args.minutes * 60 - tr.train_seconds)
    g = torch.Generator().manual_seed(7)
    t0 = time.perf_counter()
    samples = sample(tr.policy, args.num_samples, generator=g)
    t_samples = time.perf_counter() - t0
    marg = edge_marginals_from_samples(samples)
    log_r = reward.log_reward(samples)
    greedy = greedy_ascent(tr, reward)
    row = {
        "cells": data.n, "train_iterations": tr.iteration, "it_per_s": tr.iteration / tr.train_seconds,
        "train_minutes": tr.train_seconds / 60, "samples_10k_s": t_samples,
        "eshd": expected_shd(samples, truth), "e_edges": expected_num_edges(samples),
        "auroc": auroc(marg, truth), "auprc": auprc(marg, truth), "peak_rss_mb": peak_rss_mb(),
        "logR_mean": float(log_r.mean()), "logR_best_sample": float(log_r.max()),
        "logR_greedy": float(reward.log_reward(greedy)), "logR_consensus": float(reward.log_reward(truth[None])),
    }
    top = sorted(((float(marg[i, j]), data.names[i], data.names[j]) for i in range(11) for j in range(11) if i != j), reverse=True)[:20]
    top_txt = ", ".join(f"{a}->{b} {p:.2f}{'*' if truth[data.index(a), data.index(b)] else ''}" for p, a, b in top)
    figures: dict[str, object] = {**row, "top_edges": top_txt, "data_file": str(find_sachs_file()), "config": vars(args)}
    notes = (f"{args.note + '; ' if args.note else ''}data: {find_sachs_file()}; load at start: {load_before.split('load average ')[-1]}; "
             f"top-20 edge marginals (* = consensus edge): {top_txt}")
    print(table([row]))
    if not args.no_record:
        name = "gfn_sachs" if not args.interventional else "gfn_sachs_interventional"
        report(name, f"gfn_sachs: {'all 7,466 cells with interventions' if args.interventional else '853 observational cells'}, BGe, 17-edge consensus",
               table([row]), figures, notes)


if __name__ == "__main__":
    main()
