"""Benchmark: speed and quality at d = 20 (ER2, n = 100, BGe).

1. iterations/s at replay batch 32 (8 parallel graphs, DAG-GFlowNet's defaults) and at batch 128
   (32 parallel graphs); an iteration = one environment step of every parallel graph (each adds
   one transition to the buffer) + one gradient update on the batch;
2. a training run of --minutes (default 10) at --train-batch, then 10,000 samples: their wall time,
   E-SHD and E-#edges against the true graph, AUROC / AUPRC of the sampled edge marginals;
3. peak RSS of the whole process.
Data columns are standardized unless --raw: BGe with T = t I is not scale invariant, and on the raw
data (noise std 0.1) the posterior sits on near-complete DAGs (log R of greedy supersets of the
true graph exceeds the true graph's by ~100 nats), which is a property of the score, not the sampler.
Bar (issue 2): >= 16 it/s at batch 32, 10,000 samples in < 5 s, peak RSS < 2 GB.

    .venv/bin/python bench/gfn_d20.py                         # full run (about 11 minutes)
    .venv/bin/python bench/gfn_d20.py --minutes 0.5 --no-record   # smoke run
    .venv/bin/python bench/gfn_d20.py --d 50 --device-note "H100"  # other sizes
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
    make_linear_gaussian_er,
    sample,
)


def config(batch: int, envs: int, iters: int, args: argparse.Namespace) -> TrainerConfig:
    return TrainerConfig(
        seed=args.seed, num_iterations=iters, num_envs=envs, batch_size=batch, prefill=1000, lr=args.lr,
        lr_min=args.lr * 0.01, warmup_iters=200, eps_start=0.5, eps_end=0.05, eps_decay_iters=max(1, iters // 4),
        progress=False, log_every=500, policy=PolicyConfig(hidden=args.hidden, num_layers=args.layers),
    )


def speed(reward: Reward, batch: int, envs: int, args: argparse.Namespace) -> float:
    tr = Trainer(config(batch, envs, 100_000, args), reward)
    tr.train(num_iterations=20)  # prefill and warm caches
    t0 = time.perf_counter()
    tr.train(max_seconds=args.speed_seconds)
    return (tr.iteration - 20) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--edges-per-node", type=float, default=2.0)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall time of the quality run")
    ap.add_argument("--train-batch", type=int, default=128)
    ap.add_argument("--train-envs", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64, help="64: sampling cost per step is dominated by the MLP")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4, help="1e-3 drifts to dense low-reward graphs at d=20 (bootstrapped stop term)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed-seconds", type=float, default=20.0)
    ap.add_argument("--num-samples", type=int, default=10_000)
    ap.add_argument("--raw", action="store_true",
                    help="score the unstandardized data (BGe with T = tI is not scale invariant: on raw ER data with "
                         "noise 0.1 low-variance parents are nearly free and the posterior sits on near-complete DAGs)")
    ap.add_argument("--device-note", default="", help="extra text for the machine line (e.g. a GPU's name)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = machine()
    data, truth = make_linear_gaussian_er(args.d, args.edges_per_node, args.n, seed=args.seed)
    if not args.raw:
        data = data.standardized()
    reward = Reward(BGeScore(data))
    it32 = speed(reward, 32, 8, args)
    it128 = speed(reward, 128, 32, args)
    print(f"it/s: batch 32 {it32:.1f}, batch 128 {it128:.1f}", flush=True)
    # quality run: cosine horizon from the measured speed so the schedule ends with the time budget
    rate = it128 if args.train_batch == 128 else speed(reward, args.train_batch, args.train_envs, args)
    horizon = max(1000, int(rate * args.minutes * 60))
    tr = Trainer(config(args.train_batch, args.train_envs, horizon, args), reward)
    tr.train(max_seconds=args.minutes * 60)
    if tr.train_seconds < args.minutes * 60:  # schedule ended early (calibration ran on small graphs): go on at lr_min
        tr.train(num_iterations=10**9, max_seconds=args.minutes * 60 - tr.train_seconds)
    g = torch.Generator().manual_seed(123)
    t0 = time.perf_counter()
    samples = sample(tr.policy, args.num_samples, generator=g)
    t_samples = time.perf_counter() - t0
    marg = edge_marginals_from_samples(samples)
    row = {
        "d": args.d, "it_per_s_b32": it32, "it_per_s_b128": it128, "train_iterations": tr.iteration,
        "train_minutes": tr.train_seconds / 60, "samples_10k_s": t_samples,
        "eshd": expected_shd(samples, truth), "e_edges": expected_num_edges(samples),
        "true_edges": int(truth.sum()), "auroc": auroc(marg, truth), "auprc": auprc(marg, truth),
        "peak_rss_mb": peak_rss_mb(),
    }
    figures: dict[str, object] = {k: v for k, v in row.items()}
    figures["config"] = vars(args)
    bar = it32 >= 16 and t_samples < 5 and row["peak_rss_mb"] < 2048
    notes = (f"data {'raw' if args.raw else 'standardized'}; log R(true graph) = {float(reward.log_reward(truth[None])):.1f}, "
             f"mean log R of the samples = {float(reward.log_reward(samples).mean()):.1f}; iteration = 1 env step of 8 (batch 32) / 32 (batch 128) graphs + 1 update; quality run at batch "
             f"{args.train_batch} with {args.train_envs} graphs; load at start: {load_before.split('load average ')[-1]}; "
             f"{args.device_note + '; ' if args.device_note else ''}bar (>= 16 it/s at b32, 10k samples < 5 s, RSS < 2 GB): "
             f"{'met' if bar else 'NOT met'}")
    print(table([row]))
    if not args.no_record:
        name = "gfn_d20" if args.d == 20 else f"gfn_d{args.d}"
        report(name, f"gfn_d20: d={args.d} ER{args.edges_per_node:g} n={args.n} BGe", table([row]), figures, notes)


if __name__ == "__main__":
    main()
