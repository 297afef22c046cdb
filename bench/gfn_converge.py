"""One GFlowNet (or MC3) run on a scale problem, scored against its cached reference (bench/reference.py).

    .venv/bin/python bench/gfn_converge.py d20 --seed 0 --minutes 5 [--delta log --guide-chains 16 ...]
    .venv/bin/python bench/gfn_converge.py d20 --seed 0 --minutes 5 --mc3      # the baseline at equal wall time

The building block of bench/gfn_scale.py and the tuning tool behind its settings: trains for a wall-time
budget (the MCMC guide's chains, when used, run inside that budget), draws 10,000 samples from the policy
and reports, against the reference chains: edge-marginal Pearson r, mean sample log R minus the reference's,
E-SHD and AUROC against the true graph, and ``order_spread_mean`` (gfn.order_spread on 200 samples: 0 at the balance
losses' fixed point; ~20 nats at d = 20, bench/RESULTS.md 2026-12-07); in an ordered environment (``--edge-order``)
``log_weight_sd``, the exact spread of log R - log P_T over 2,000 samples. Prints one JSON line; writes nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402

from theorycov.gfn import (  # noqa: E402
    PolicyConfig,
    Reward,
    Trainer,
    TrainerConfig,
    auroc,
    edge_marginal_agreement,
    edge_marginals_from_samples,
    expected_shd,
    order_spread,
    trajectory_log_weights,
    sample,
)
from theorycov.gfn.candidates import mass_outside  # noqa: E402
from theorycov.gfn.local_search import local_search  # noqa: E402
from theorycov.gfn.mcmc import DAGChains, refine  # noqa: E402
from theorycov.gfn.warmstart import GuideConfig, MCMCGuide  # noqa: E402


def load_avg() -> str:
    a = os.getloadavg()
    return f"{a[0]:.2f}/{a[1]:.2f}/{a[2]:.2f}"


def score(samples: torch.Tensor, reward: Reward, ref: dict[str, object], truth: torch.Tensor) -> dict[str, float]:
    """Scores of graphs (n, d, d) against the reference and the truth."""
    marg = edge_marginals_from_samples(samples.cpu())
    agree = edge_marginal_agreement(torch.as_tensor(ref["marginals"]), marg)
    # in chunks: an MC3 run keeps ~10^6 graphs, and BGe's (B*d, d, d) gather over all of them at once needs ~50 GB
    lr = torch.cat([reward.log_reward(c.to(reward.device)).cpu() for c in samples.split(20_000)])
    return {"pearson": agree["pearson"], "rmse": agree["rmse"], "mean_log_r": float(lr.mean()),
            "logr_gap": float(ref["mean_log_r"]) - float(lr.mean()), "eshd": expected_shd(samples.cpu(), truth),
            "auroc": auroc(marg, truth), "edges": float(samples.flatten(1).sum(1).double().mean())}


def trainer_config(args: argparse.Namespace, seed: int, horizon: int) -> TrainerConfig:
    pol = PolicyConfig(hidden=args.hidden, num_layers=args.layers, delta_transform=args.delta, delta_hidden=args.delta_hidden,
                       learn_backward=args.learn_pb, backward_floor=args.pb_floor)
    return TrainerConfig(
        seed=seed, num_iterations=horizon, num_envs=args.envs, batch_size=args.batch, prefill=args.prefill, lr=args.lr,
        lr_min=args.lr * args.lr_min_frac, lr_schedule=args.schedule, warmup_iters=200, eps_start=args.eps_start, eps_end=args.eps_end,
        eps_decay_iters=max(1, horizon // 4), progress=False, log_every=100, policy=pol, candidates=args.cand,
        device=args.device, max_parents=args.max_parents, nll_weight=args.nll,
        nll_decay_iters=int(horizon * args.nll_decay), ema=args.ema,
        subtb_weight=args.subtb, subtb_lambda=args.subtb_lambda, subtb_graphs=args.subtb_graphs, subtb_huber=args.subtb_huber,
        huber_delta=args.huber, edge_order=args.edge_order, finetune_lr=args.finetune_lr, finetune_batch=args.finetune_batch,
        finetune_graphs=args.finetune_graphs, finetune_epsilon=args.finetune_eps, finetune_source=args.finetune_source, finetune_nll=args.finetune_nll,
    )


def run_gfn(reward: Reward, args: argparse.Namespace, seed: int) -> tuple[Trainer, MCMCGuide | None, dict[str, float]]:
    """Train for args.minutes of wall time (guide included); returns the trainer, the guide and timings."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    horizon = max(1000, int(args.rate * args.minutes * 60))  # cosine horizon from an it/s estimate
    cfg = trainer_config(args, seed, horizon)
    tr = Trainer(cfg, reward)
    guide = None
    if args.guide_chains > 0:
        gcfg = GuideConfig(chains=args.guide_chains, steps=args.guide_steps, per_iteration=args.guide_per_it,
                           restart_share=args.guide_restart, beyond=args.guide_beyond, burn_in=args.guide_burn, stop_after=args.guide_stop, seed=seed + 17,
                           order_seconds=args.guide_order_seconds, order_max_size=args.guide_order_max_size,
                           reservoir=args.guide_reservoir, history=args.guide_history,
                           temperatures=tuple(float(x) for x in args.guide_temps.split(",")))
        guide = MCMCGuide(reward, gcfg, allowed=tr.env.allowed, max_parents=cfg.max_parents, rank=tr.env.rank_action)
        tr.extra_transitions = guide
        if gcfg.restart_share > 0:
            tr.start_states = guide.start_states
        if args.nll > 0:
            tr.demonstrations = guide.demonstrations
        if args.subtb > 0 or args.finetune_graphs > 0:
            tr.trajectories = guide.graphs
    ft = args.finetune_seconds  # the last seconds of the budget fine-tune the sampler (gfn/finetune.py), CPU time either way
    if args.clock == "cpu":  # screens, tables and burn-in count against the budget
        tr.train(num_iterations=10**9, max_cpu_seconds=max(args.minutes * 60 - ft - (time.process_time() - cpu0), 1.0))
    else:
        tr.train(num_iterations=10**9, max_seconds=max(args.minutes * 60 - ft - (time.perf_counter() - t0), 1.0))
    fine = tr.finetune(max_cpu_seconds=ft) if ft > 0 else None
    info = {"iterations": tr.iteration, "train_seconds": tr.train_seconds, "total_seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - cpu0,
            "it_per_s": tr.iteration / max(tr.train_seconds, 1e-9),
            "guide_evaluations": 0 if guide is None else guide.total_evaluations,
            **({} if fine is None else {f"finetune_{k}": v for k, v in fine.items()})}
    return tr, guide, info


def run_mc3(reward: Reward, seconds: float, chains: int, seed: int, burn_frac: float = 0.1,
            thin: int = 5, clock: str = "cpu", cap: int = 20_000) -> tuple[torch.Tensor, dict[str, float]]:
    """The project's MC3 (16 chains, empty starts) for a time budget (``clock``: "cpu" = this process's CPU
    time, "wall"): kept states (S, d, d) and timings.

    At most ``cap`` recorded steps are held: past it every other one is dropped and the thinning doubles, so
    the kept states stay evenly spread over the run. Why: 10 minutes at d = 46 are ~1.5 million steps; every
    5th of 16 chains held 10 GB and their concatenation got the benchmark OOM-killed at 23 GB (2026-12-06)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    mc = DAGChains(reward, num_chains=chains, seed=seed)
    t0, w0 = now(), time.perf_counter()
    kept: list[torch.Tensor] = []
    step = 0
    while now() - t0 < seconds:
        mc.step()
        step += 1
        if now() - t0 >= burn_frac * seconds and step % thin == 0:
            kept.append(mc.adj.clone())
            if len(kept) > cap:
                kept, thin = kept[1::2], thin * 2
    return torch.cat(kept), {"steps": step, "evaluations": mc.evaluations, "seconds": time.perf_counter() - w0,
                             "cpu_seconds": now() - t0 if clock == "cpu" else None, "acceptance": mc.acceptance, "final_thin": thin}


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--delta", default="log", choices=["linear", "log"])
    ap.add_argument("--delta-hidden", type=int, default=0)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--prefill", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-min-frac", type=float, default=0.05)
    ap.add_argument("--schedule", default="cosine", choices=["cosine", "constant"])
    ap.add_argument("--eps-start", type=float, default=0.3)
    ap.add_argument("--eps-end", type=float, default=0.02)
    ap.add_argument("--rate", type=float, default=40.0, help="it/s estimate setting the cosine horizon")
    ap.add_argument("--cand", type=int, default=0, help="candidate-parent screen k (0: every edge)")
    ap.add_argument("--max-parents", type=int, default=None)
    ap.add_argument("--guide-chains", type=int, default=0, help="MC3 chains feeding the replay buffer (0: none)")
    ap.add_argument("--guide-steps", type=int, default=1)
    ap.add_argument("--guide-per-it", type=int, default=32)
    ap.add_argument("--guide-restart", type=float, default=0.0)
    ap.add_argument("--guide-burn", type=int, default=0)
    ap.add_argument("--guide-stop", type=int, default=0)
    ap.add_argument("--guide-beyond", type=float, default=0.0, help="share of injected transitions G -> G + e from whole chain graphs")
    ap.add_argument("--guide-order-seconds", type=float, default=0.0, help="CPU seconds of order search placing the guide's starts")
    ap.add_argument("--guide-order-max-size", type=int, default=3)
    ap.add_argument("--guide-reservoir", type=int, default=0, help="demonstrations from a reservoir of this many cold-chain states (0: current states)")
    ap.add_argument("--guide-history", action="store_true", help="inject transitions from the reservoir of the chains' history")
    ap.add_argument("--nll", type=float, default=0.0, help="warm-start likelihood weight of the guide's demonstrations")
    ap.add_argument("--nll-decay", type=float, default=0.5, help="share of the horizon over which that weight fades to 0 (0: constant)")
    ap.add_argument("--guide-temps", default="1", help="the guide chains' temperature ladder")
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                    help="what --minutes measures: this process's CPU time (comparable on a shared machine) or wall time")
    ap.add_argument("--ema", type=float, default=0.0, help="decay of the policy's weight average that samples (0: the last weights)")
    ap.add_argument("--refine", type=int, default=0, help="also score the samples after this many MC3 steps each (gfn.mcmc.refine)")
    ap.add_argument("--local-search", type=int, nargs=2, default=None, metavar=("ROUNDS", "BACKTRACK"),
                    help="also score the samples after this many local-search moves of up to BACKTRACK edges (gfn.local_search)")
    ap.add_argument("--subtb", type=float, default=0.0, help="weight of subtrajectory balance on the guide's graphs' trajectories (gfn/subtb.py)")
    ap.add_argument("--subtb-lambda", type=float, default=0.5)
    ap.add_argument("--subtb-graphs", type=int, default=4)
    ap.add_argument("--subtb-huber", type=float, default=1.0, help="Huber threshold of a stretch's penalty (0: squared)")
    ap.add_argument("--huber", type=float, default=1.0, help="Huber threshold of the modified DB loss (TrainerConfig.huber_delta)")
    ap.add_argument("--learn-pb", action="store_true", help="a learned backward policy (PolicyConfig.learn_backward)")
    ap.add_argument("--pb-floor", type=float, default=0.0, help="share of the uniform P_B in the learned one")
    ap.add_argument("--edge-order", default="any", choices=["any", "strength", "index"],
                    help="the environment's edge order (TrainerConfig.edge_order, gfn/canonical.py); 'any': the uniform P_B")
    ap.add_argument("--finetune-seconds", type=float, default=0.0,
                    help="CPU seconds at the end of the budget for Trainer.finetune (log-variance loss, gfn/finetune.py)")
    ap.add_argument("--finetune-lr", type=float, default=3e-5)
    ap.add_argument("--finetune-batch", type=int, default=64)
    ap.add_argument("--finetune-graphs", type=int, default=0, help="guide graphs (off-policy) per fine-tuning step")
    ap.add_argument("--finetune-eps", type=float, default=0.0, help="uniform exploration share of the fine-tuning draws")
    ap.add_argument("--finetune-nll", type=float, default=0.0, help="weight of the forward-KL term on --finetune-graphs")
    ap.add_argument("--finetune-source", default="guide", choices=["guide", "start"],
                    help="where --finetune-graphs come from: the guide's chains or the sampler before fine-tuning")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--save", type=Path, default=None, help="write the scored graphs here (.npz, bit-packed) to rescore later")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=["d20", "ecoli70", "arth150"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-seed", type=int, default=None, help="seed of the trainer and its guide (default: --seed, the data's)")
    ap.add_argument("--mc3", action="store_true", help="run the 16-chain MC3 baseline instead")
    ap.add_argument("--threads", type=int, default=1)
    add_args(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reward, truth = reference.problem(args.name, args.seed)
    ref = reference.load(args.name, args.seed)
    load0 = load_avg()
    if args.mc3:
        samples, info = run_mc3(reward, args.minutes * 60, 16, args.seed + 1, clock=args.clock)
        out = {"method": "mc3", **info, **score(samples, reward, ref, truth)}
    else:
        tr, guide, info = run_gfn(reward, args, args.seed if args.train_seed is None else args.train_seed)
        t0 = time.perf_counter()
        samples = sample(tr.sampler, args.samples, generator=torch.Generator(device=tr.device).manual_seed(123))
        info["sample_seconds"] = time.perf_counter() - t0
        out = {"method": "gfn", **info, **score(samples, reward, ref, truth)}
        # how far the flows are from their fixed point: sd of log P_F(tau) / P_B(tau | G) over 8 edge orders, 200 samples
        spread = order_spread(tr.sampler, samples[:200], n_traj=8, generator=torch.Generator(device=tr.device).manual_seed(5))
        out["order_spread_mean"] = float(spread.mean())
        if tr.env.ordered:  # P_T exact (one trajectory per graph): the spread of log R - log P_T over 2,000 samples
            few = samples[:2000].to(tr.device)
            lw = reward.log_reward(few).double() - trajectory_log_weights(tr.sampler, few, 1)[:, 0]
            out["log_weight_sd"] = float(lw.std())
        if args.refine > 0:  # the same samples after a few MC3 steps each (gfn.mcmc.refine), scored beside them
            t0, c0 = time.perf_counter(), time.process_time()
            refined = refine(reward, samples, args.refine, seed=args.seed + 7, allowed=tr.env.allowed, max_parents=tr.config.max_parents)
            out["refined"] = {"steps": args.refine, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                              **score(refined, reward, ref, truth)}
        if args.local_search is not None:  # the same samples after back-and-forth moves (gfn.local_search), beside them
            t0, c0 = time.perf_counter(), time.process_time()
            rounds, back = args.local_search
            moved, acc = local_search(tr.sampler, samples, rounds, back, generator=torch.Generator().manual_seed(args.seed + 7))
            out["local_search"] = {"rounds": rounds, "backtrack": back, "accepted": acc, "seconds": time.perf_counter() - t0,
                                   "cpu_seconds": time.process_time() - c0, **score(moved, reward, ref, truth)}
        if tr.env.allowed is not None:
            out.update(mass_outside(torch.as_tensor(ref["marginals"]), tr.env.allowed))
        out["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.save is not None:
        flat = samples.cpu().flatten(1).numpy()
        np.savez_compressed(args.save, d=reward.d, samples_packed=np.packbits(flat, axis=1))
    out.update(name=args.name, seed=args.seed, load_start=load0, load_end=load_avg(), ref_mean_log_r=ref["mean_log_r"])
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
