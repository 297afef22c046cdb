"""Converged reference posteriors for the scale benchmark (issue 16): long multi-chain structure MCMC.

    .venv/bin/python bench/reference.py d20 --seeds 0 1 2 3 4 --minutes 8 --chains 32 --temps 1,0.8,0.64,0.5 --thin 10   # ER2, d = 20, n = 100
    .venv/bin/python bench/reference.py ecoli70 --minutes 30 --chains 30 --temps 1,0.95,0.9 --thin 20 --order-minutes 8 --order-max-size 4 --order-cand 8   # 46 nodes, n = 1,000
    .venv/bin/python bench/reference.py arth150 --minutes 40
    .venv/bin/python bench/reference.py d20 --seeds 0 1 2 3 4 5 6 --minutes 8 --chains 32 --temps 1,0.8,0.64,0.5 --thin 10 --variant _b   # second runs (coverage_large's p)

The problems (``problem``): d20 = the ER2 graph of bench/gfn_d20.py (n = 100, columns standardized), seeds
0-4; ecoli70 / arth150 = n rows sampled from the expert linear-Gaussian SEM in shared/data/networks
(``gfn.networks``), standardized. Reward: BGe, uniform prior over DAGs (the GFlowNet's).

The sampler: ``gfn.mcmc.DAGChains`` (MC3 with incremental local scores), C chains from over-dispersed starts
(half the empty graph, half random DAGs with ~d edges), optionally Metropolis-coupled over a temperature
ladder. After ``--burn-frac`` of the time, every ``--thin``-th state of every cold chain is recorded.
Converged means split R-hat < 1.05 for log R and for every edge indicator with pooled marginal in
[0.01, 0.99] (gfn.diagnostics). Written: bench/results/ref_<name>[_s<seed>].npz (edge marginals, per-chain
marginals, the cold chains' log R series, a packed uniform subsample of the recorded graphs with each one's chain) and .json (R-hat, mean log R,
seconds, command, load).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gfn_common import command, machine  # noqa: E402

from theorycov.gfn import BGeScore, DataTable, Reward, make_linear_gaussian_er  # noqa: E402
from theorycov.gfn.candidates import candidate_parents  # noqa: E402
from theorycov.gfn.diagnostics import ChainRecorder  # noqa: E402
from theorycov.gfn.mcmc import DAGChains  # noqa: E402
from theorycov.gfn.parentsets import ParentSetTable  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NETWORKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "networks"
ROWS = {"ecoli70": 1000, "arth150": 1000}


def problem(name: str, seed: int = 0, n: int | None = None) -> tuple[Reward, torch.Tensor]:
    """(reward, true adjacency (d, d) bool) of a benchmark problem."""
    if name == "d20":
        data, truth = make_linear_gaussian_er(20, 2.0, 100 if n is None else n, seed=seed)
        return Reward(BGeScore(data.standardized())), truth
    from theorycov.gfn.networks import LinearGaussianNetwork
    path = NETWORKS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} is absent (the shared data folder); the {name} problem needs it")
    net = LinearGaussianNetwork.from_json(path)
    values = net.sample(ROWS[name] if n is None else n, seed=seed)
    data = DataTable(values, tuple(net.names)).standardized()
    return Reward(BGeScore(data)), torch.as_tensor(np.asarray(net.adjacency, bool))


def tag(name: str, seed: int, variant: str = "") -> str:
    """The file stem; ``variant`` names a second, independent run of the same problem (e.g. "_b")."""
    return (f"ref_{name}" if name != "d20" else f"ref_{name}_s{seed}") + variant


def load(name: str, seed: int = 0, variant: str = "") -> dict[str, object]:
    """A cached reference: the json's fields plus 'marginals' (d, d), 'chain_marginals', 'samples' (S, d, d) bool and,
    in runs from 2026-12-07 on, 'samples_chain' (S,) (the cold chain of each graph; None before)."""
    base = RESULTS / tag(name, seed, variant)
    meta = json.loads(base.with_suffix(".json").read_text())
    z = np.load(base.with_suffix(".npz"))
    d = int(meta["d"])
    samples = np.unpackbits(z["samples_packed"], axis=1, count=d * d).reshape(-1, d, d).astype(bool)
    return {**meta, "marginals": z["marginals"], "chain_marginals": z["chain_marginals"], "log_r": z["log_r"],
            "samples": torch.from_numpy(samples),
            "samples_chain": torch.from_numpy(z["samples_chain"].astype(np.int64)) if "samples_chain" in z.files else None}


def over_dispersed_starts(d: int, chains: int, seed: int) -> torch.Tensor:
    """(C, d, d) bool: even chains empty, odd chains random DAGs with ~d edges (random order, p = 2/(d-1))."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(chains, d, d, dtype=torch.bool)
    p = min(1.0, 2.0 / max(d - 1, 1))
    for c in range(1, chains, 2):
        perm = torch.randperm(d, generator=g)
        upper = torch.triu(torch.rand(d, d, generator=g) < p, diagonal=1)
        out[c] = upper[perm][:, perm]  # a permuted upper-triangular pattern is acyclic
    return out


def order_starts(reward: Reward, n: int, minutes: float, max_size: int, cand_k: int, seed: int) -> tuple[torch.Tensor, dict[str, float]]:
    """(n, d, d) bool start DAGs from n tempered order-MCMC replicas (gfn.order.order_search) after ``minutes``
    of CPU time, on a table of parent sets of <= ``max_size`` inside the ``cand_k`` screen; and what it took.

    Why: at n = 1,000 (ecoli70) MC3 from empty or random graphs disagreed after 40 CPU-minutes (edge R-hat
    4.55); orders move whole groups of edges at once (from these starts, with the ladder 1, 0.95, 0.9:
    1.058). The order chains' DAG marginal is the order-modular one, not the uniform-prior posterior, so
    they only place the starts: the reference is still the MC3 chains' (exact target, every DAG reachable)."""
    from theorycov.gfn.order import order_search
    cand = candidate_parents(reward, cand_k) if cand_k > 0 else None
    starts, info = order_search(reward, n, minutes * 60, max_size, cand, seed=seed + 101)
    lr = reward.log_reward(starts)
    return starts.cpu(), {**info, "order_start_mean_log_r": float(lr.mean()), "order_start_best_log_r": float(lr.max())}


class GraphReservoir:
    """A uniform sample of the recorded states over the whole run (Vitter's algorithm R, one slot = the C cold chains'
    states of one recording). Until 2026-12-07 the npz kept the *first* ``keep`` graphs after burn-in (2,500
    recordings of a 45,000-recording run at d = 20): their edge marginals were off the run's by more than 10%
    (relative) on 31-51% of the edges above 0.05 (d20 seeds 0-4, ecoli70), the scale of the coverage criterion's eps.

    ``graphs()``: (S * C, d, d) bool in slot order, ``chains()``: (S * C,) the cold chain of each graph."""

    def __init__(self, keep: int, C: int, d: int, seed: int) -> None:
        self.slots = max(1, keep // C)
        self.buf = torch.zeros(self.slots, C, d, d, dtype=torch.bool)
        self.seen = 0
        self.gen = torch.Generator().manual_seed(seed + 9001)

    def add(self, adj: torch.Tensor) -> None:
        """adj: (C, d, d) bool, the cold chains' states of one recording."""
        t = self.seen
        self.seen += 1
        if t < self.slots:
            self.buf[t] = adj
            return
        j = int(torch.randint(t + 1, (1,), generator=self.gen))
        if j < self.slots:
            self.buf[j] = adj

    def graphs(self) -> torch.Tensor:
        n = min(self.seen, self.slots)
        return self.buf[:n].reshape(-1, *self.buf.shape[2:])

    def chains(self) -> torch.Tensor:
        n = min(self.seen, self.slots)
        return torch.arange(self.buf.shape[1]).repeat(n)


def run(reward: Reward, chains: int, minutes: float, seed: int, temps: tuple[float, ...], thin: int,
        burn_frac: float, keep: int, max_size: int = 0, rev_every: int = 0, gibbs_every: int = 0,
        cand_k: int = 0, order: tuple[float, int, int] | None = None) -> tuple[ChainRecorder, DAGChains, dict[str, float]]:
    """``order``: (CPU minutes, max parent-set size, candidate k) of the order-MCMC starts, counted apart from
    ``minutes``; None: over-dispersed starts."""
    d = reward.d
    L = len(temps)
    order_info: dict[str, float] = {}
    if order is not None:
        base, order_info = order_starts(reward, chains // L, *order, seed=seed)
    else:
        base = over_dispersed_starts(d, chains // L, seed)
    starts = base.repeat_interleave(L, dim=0)  # every replica's ladder shares its start
    table = None
    t_table = time.perf_counter()
    if max_size > 0:  # parent-set moves (REV, Gibbs) on sets inside the candidates; MC3 moves stay unrestricted
        cand = candidate_parents(reward, cand_k) if cand_k > 0 else None
        table = ParentSetTable(reward, max_size, cand)
    t_table = time.perf_counter() - t_table
    mc = DAGChains(reward, num_chains=chains, seed=seed, start=starts, temperatures=temps, parent_sets=table,
                   rev_every=rev_every, gibbs_every=gibbs_every)
    cold = mc.cold
    rec = ChainRecorder(int(cold.sum()), d, block=max(1, 50))
    reservoir = GraphReservoir(keep, int(cold.sum()), d, seed)
    t0, cpu0 = time.perf_counter(), time.process_time()
    total = minutes * 60.0  # of this process's CPU time: on a shared machine wall time says little about the work done
    step, burn_steps = 0, None
    while True:
        mc.step()
        step += 1
        if L > 1:
            mc.swap(step % 2)
        el = time.process_time() - cpu0
        if burn_steps is None and el >= burn_frac * total:
            burn_steps = step
        if burn_steps is not None and (step - burn_steps) % thin == 0:
            adj = mc.adj[cold]
            rec.add(adj, mc.log_r[cold])
            reservoir.add(adj)
        if el >= total:
            break
    info = {"steps": step, "burn_steps": burn_steps or step, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0,
            "table_seconds": t_table, "table_sets_per_node": 0 if table is None else table.P,
            "acceptance": mc.acceptance, "swap_acceptance": mc.swaps_accepted / max(mc.swaps_proposed, 1),
            "rev_acceptance": mc.rev_accepted / max(mc.rev_proposed, 1), **order_info}
    rec.reservoir = reservoir  # type: ignore[attr-defined]
    return rec, mc, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=["d20", "ecoli70", "arth150"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--chains", type=int, default=32)
    ap.add_argument("--minutes", type=float, default=10.0, help="CPU time of this process per problem (burn-in included)")
    ap.add_argument("--burn-frac", type=float, default=0.3)
    ap.add_argument("--thin", type=int, default=20, help="record every thin-th step of each cold chain")
    ap.add_argument("--temps", default="1", help="inverse-temperature ladder, comma separated, 1 first")
    ap.add_argument("--keep", type=int, default=20000, help="graphs kept in the npz (for masses of hypotheses)")
    ap.add_argument("--max-size", type=int, default=0, help="parent-set table size limit for REV / Gibbs moves (0: none)")
    ap.add_argument("--rev-every", type=int, default=0, help="a REV move every k steps (gfn/parentsets.py)")
    ap.add_argument("--gibbs-every", type=int, default=0, help="a Gibbs parent-set move every k steps")
    ap.add_argument("--cand", type=int, default=0, help="candidate screen k of the table (0: all nodes)")
    ap.add_argument("--order-minutes", type=float, default=0.0,
                    help="CPU minutes of order MCMC placing the chains' starts (gfn/order.py; 0: empty and random starts)")
    ap.add_argument("--order-max-size", type=int, default=3, help="parent-set size limit of the order chains' table")
    ap.add_argument("--order-cand", type=int, default=8, help="candidate screen k of the order chains' table")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", default="", help="suffix of the file stem: a second, independent run of the problem (e.g. _b)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder written (default bench/results, which the benches read)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    temps = tuple(float(x) for x in args.temps.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        load_before = machine()
        reward, truth = problem(args.name, seed)
        rec, mc, info = run(reward, args.chains, args.minutes, seed, temps, args.thin, args.burn_frac, args.keep,
                            args.max_size, args.rev_every, args.gibbs_every, args.cand,
                            (args.order_minutes, args.order_max_size, args.order_cand) if args.order_minutes > 0 else None)
        cold = np.ones(rec.C, bool)
        r = rec.rhat()
        marg = rec.marginals()
        lr = np.stack(rec.log_r[: rec.kept], axis=1)  # (C_cold, T)
        from theorycov.gfn import auroc
        res = rec.reservoir.graphs()  # type: ignore[attr-defined]
        meta = {
            "name": args.name, "seed": seed, "d": reward.d, "chains": args.chains, "cold_chains": int(cold.sum()),
            "temperatures": list(temps), "kept_per_chain": rec.kept, "thin": args.thin, **info, **r,
            "converged": bool(r["rhat_log_r"] < 1.05 and r["rhat_edges_max"] < 1.05),
            "mean_log_r": float(lr.mean()), "best_log_r_kept": float(lr.max()),
            "true_log_r": float(reward.log_reward(truth[None])[0]), "auroc_vs_truth": auroc(torch.from_numpy(marg), truth),
            "expected_edges": float(marg.sum()), "machine_at_start": load_before, "machine_at_end": machine(),
            "command": command(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "samples": "uniform over the recorded run", "samples_kept": int(res.shape[0]),
        }
        base = args.out / tag(args.name, seed, args.variant)
        packed = np.packbits(res.flatten(1).numpy(), axis=1)
        np.savez_compressed(base.with_suffix(".npz"), marginals=marg, chain_marginals=rec.chain_marginals(),
                            log_r=lr.astype(np.float32), samples_packed=packed,
                            samples_chain=rec.reservoir.chains().numpy().astype(np.int16))  # type: ignore[attr-defined]
        base.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        print(json.dumps({k: v for k, v in meta.items() if not k.startswith("machine")}, indent=1), flush=True)


if __name__ == "__main__":
    main()
