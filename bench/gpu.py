"""Trainer speed on a device: iterations/s at d = 20 / 46 / 107 and replay batch 32 / 128 / 512, in one run.

    .venv/bin/python bench/gpu.py                       # cuda when available, else cpu
    .venv/bin/python bench/gpu.py --device cpu --seconds 3 --no-record

Problems: d = 20 ER2 (n = 100), ecoli70 (46 nodes) and arth150 (107 nodes) with n = 1,000 rows from their SEMs
(bench/reference.py ``problem``); the two networks use the candidate-parent screen (``--cand``), as bench/gfn_scale.py
does. One iteration = one environment step of batch / 4 parallel graphs + one gradient update on ``batch``
replayed transitions (bench/gfn_d20.py's unit). Per cell: 20 warm-up iterations, then ``--seconds`` timed; also
10,000 samples at batch 128 per problem. Writes bench/results/gfn_gpu.json with the card's name.
"""
from __future__ import annotations

import argparse
import time

import torch

from gfn_common import peak_rss_mb, report, table
from reference import problem
from theorycov.gfn import PolicyConfig, Trainer, TrainerConfig, sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--problems", nargs="+", default=["d20", "ecoli70", "arth150"])
    ap.add_argument("--cand", type=int, default=8, help="candidate screen k for the two networks (0: every edge)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "none (CPU run)"
    rows = []
    for name in args.problems:
        reward, _ = problem(name, 0)
        cand = 0 if name == "d20" else args.cand
        for b in args.batches:
            cfg = TrainerConfig(seed=0, num_iterations=10**6, num_envs=max(1, b // 4), batch_size=b, prefill=500, progress=False,
                                log_every=10**6, candidates=cand, device=str(dev),
                                policy=PolicyConfig(hidden=args.hidden, delta_transform="log"))
            tr = Trainer(cfg, reward)
            tr.train(num_iterations=20)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            tr.train(max_seconds=args.seconds)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            rate = (tr.iteration - 20) / (time.perf_counter() - t0)
            row = {"problem": name, "d": reward.d, "batch": b, "envs": cfg.num_envs, "it_per_s": rate}
            if b == 128:
                t0 = time.perf_counter()
                sample(tr.policy, 10_000, generator=torch.Generator(device=dev).manual_seed(0))
                row["samples_10k_s"] = time.perf_counter() - t0
            rows.append(row)
            print(row, flush=True)
        reward.to("cpu")
    for r in rows:
        r.setdefault("samples_10k_s", float("nan"))
    figures = {"device": str(dev), "card": card, "rows": rows, "peak_rss_mb": peak_rss_mb(), "config": vars(args)}
    if not args.no_record:
        report("gfn_gpu", f"gpu: trainer speed on {dev} ({card})", table(rows), figures,
               f"device {dev}, card {card}; iteration = 1 env step of batch/4 graphs + 1 update")
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
