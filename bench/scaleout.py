"""Scale-out benchmark (issue 14), index part: the IVF-HNSW index of corpus/ann.py at 1 M and 10 M synthetic
384-d vectors. Writes bench/results/scaleout.json and appends to bench/RESULTS.md.

    .venv/bin/python bench/scaleout.py                      # 1 M (RaBitQ 4 and 5 bits, PQ 192 bytes), then 10 M (corpus.ann.CODES)
    .venv/bin/python bench/scaleout.py --sizes 1000000 --codes RaBitQ4 --queries 2000 --no-record   # a shorter look

The same vectors in pgvector's HNSW index inside PostgreSQL: bench/scaleout_pgvector.py.

For each size and vector code: build time (training on corpus.ann's sample, then adding in chunks of 100,000
as an ingest would), the index's bytes and the process's resident memory after the build, p50 / p95 latency of
single queries on 1 thread, and recall@10 against exact inner-product search over the same vectors.

The vectors are embedding-like: a 32-d Gaussian mixture (100 components) mapped into 384 dims plus a little
isotropic noise, unit norm; the queries are held-out draws of the same distribution. Sentence embeddings have a
low intrinsic dimension; isotropic noise on the sphere (where no neighbour is much nearer than another) is the
worst case for any quantizer, and `--noise 0.6 --rank 384` gives it. The base vectors are never held at once:
chunk i is regenerated from seed i for the exact pass, so 10 M vectors (15 GB as float32) fit in 24 GB.

The ingest part (`--ingest N`, bench/scaleout_ingest.py): N BioRED Train abstracts in one process, then with 1
and 2 Ray workers against one llama.cpp server, then killed-and-re-run; its keys join the index keys in
scaleout.json (the index part's machine, date and command are kept as index_machine, index_date, index_command).

    .venv/bin/python bench/scaleout.py --ingest 20
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gfn_common import BENCH, machine, peak_rss_mb, report, table  # noqa: E402

CHUNK = 100_000
DIM = 384


def rss_mb() -> float:
    """Current resident set size of this process in MiB (not the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Vectors:
    """Chunk i of the base set (seed i) and the held-out queries (seed 10^6), all from one fixed mixture."""

    def __init__(self, rank: int, noise: float) -> None:
        self.rank, self.noise = rank, noise
        self.mix = np.random.default_rng(123).standard_normal((rank, DIM)).astype(np.float32) / np.sqrt(rank)
        self.centres = np.random.default_rng(321).standard_normal((100, rank)).astype(np.float32)

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        z = self.centres[rng.integers(100, size=n)] + 0.5 * rng.standard_normal((n, self.rank), dtype=np.float32)
        x = z @ self.mix + self.noise * rng.standard_normal((n, DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return np.ascontiguousarray(x, dtype=np.float32)

    def chunk(self, i: int, n: int) -> np.ndarray:
        return self.draw(min(CHUNK, n - i * CHUNK), seed=i)


def exact_top10(vec: Vectors, n: int, queries: np.ndarray) -> np.ndarray:
    """(Q, 10) ids of the exact inner-product neighbours, streaming the base chunk by chunk."""
    import faiss

    heap = faiss.ResultHeap(len(queries), 10, keep_max=True)
    for i in range((n + CHUNK - 1) // CHUNK):
        flat = faiss.IndexFlatIP(DIM)  # FAISS's blocked exact search: no (Q, chunk) matrix of 4 GB
        flat.add(vec.chunk(i, n))
        sims, top = flat.search(queries, 10)
        heap.add_result(sims, top + i * CHUNK)
    heap.finalize()
    return heap.I


def one(vec: Vectors, n: int, codes: str, queries: np.ndarray, truth: np.ndarray) -> dict[str, object]:
    import faiss

    from theorycov.corpus import ann

    rss0 = rss_mb()
    t0 = time.perf_counter()
    index = ann.ivf_index(DIM, n, codes=codes)
    want = ann.train_size(index)
    sample = np.concatenate([vec.chunk(i, n) for i in range((want + CHUNK - 1) // CHUNK)])[:want]
    index.train(sample)
    del sample
    t_train = time.perf_counter() - t0
    for i in range((n + CHUNK - 1) // CHUNK):  # filled incrementally, with ids, as corpus.index adds them
        x = vec.chunk(i, n)
        index.add_with_ids(x, np.arange(i * CHUNK, i * CHUNK + len(x), dtype=np.int64))
    build = time.perf_counter() - t0
    rss = rss_mb()
    index_mb = faiss.serialize_index(index).nbytes / 2**20
    faiss.omp_set_num_threads(1)  # one query, one thread: what corpus.index does
    lat = []
    for q in queries[:1000]:
        t = time.perf_counter()
        index.search(q[None], 10)
        lat.append((time.perf_counter() - t) * 1e3)
    _, got = index.search(queries, 10)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))
    ivf = faiss.extract_index_ivf(index)
    return {"n": n, "codes": codes, "nlist": ivf.nlist, "nprobe": ivf.nprobe, "train_vectors": want, "train_s": round(t_train, 1),
            "build_s": round(build, 1), "index_mb": round(index_mb, 1), "rss_mb": round(rss, 1), "rss_delta_mb": round(rss - rss0, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),  # of the whole run so far, the build's transient growth included
            "p50_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95)), "recall10": recall, "queries": len(queries),
            "load": "/".join(f"{v:.2f}" for v in os.getloadavg())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--codes", nargs="+", default=["RaBitQ4", "RaBitQ5", "PQ192"],
                    help="vector codes to compare at the smallest size (corpus.ann.parse_codes); larger sizes use corpus.ann.CODES")
    ap.add_argument("--queries", type=int, default=10_000, help="recall queries at 1 M (fewer above: see --queries-large)")
    ap.add_argument("--queries-large", type=int, default=10_000, help="recall queries above 1 M (exact search costs n * Q)")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--ingest", type=int, default=None, metavar="N", help="run the ingest part on N abstracts instead of the index part")
    ap.add_argument("--threads", type=int, default=None, help="--ingest: llama.cpp threads of the server (default: the free cores)")
    ap.add_argument("--model-only", action="store_true", help="--ingest: only abstracts the model is asked about")
    args = ap.parse_args()
    if args.ingest is not None:
        ingest_part(args)
        return
    from theorycov.corpus import ann

    vec = Vectors(args.rank, args.noise)
    rows: list[dict[str, object]] = []
    for k, n in enumerate(sorted(args.sizes)):
        nq = args.queries if n <= 1_000_000 else args.queries_large
        queries = vec.draw(nq, seed=10**6)
        t = time.perf_counter()
        truth = exact_top10(vec, n, queries)
        print(f"n={n:,}: exact neighbours of {nq:,} queries in {time.perf_counter() - t:.0f} s", flush=True)
        for codes in (args.codes if k == 0 else [ann.CODES]):
            rows.append({**one(vec, n, codes, queries, truth), "rank": args.rank, "noise": args.noise})
            print(rows[-1], flush=True)
    figures: dict[str, object] = {"index_rows": rows, "index_data": f"rank {args.rank} mixture + noise {args.noise}, unit norm"}
    for r in rows:
        if r["codes"] != ann.CODES:
            continue
        tag = {1_000_000: "1m", 10_000_000: "10m"}.get(int(r["n"]), str(r["n"]))  # type: ignore[call-overload]
        figures.update({f"index_p50_ms_{tag}": r["p50_ms"], f"index_recall10_{tag}": r["recall10"], f"index_rss_mb_{tag}": r["rss_mb"],
                        f"index_mb_{tag}": r["index_mb"], f"index_build_s_{tag}": r["build_s"]})
    body = table(rows)
    print(body)
    if not args.no_record:
        import json

        path = BENCH / "results" / "scaleout.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        report("scaleout", f"scaleout: index at {', '.join(f'{n:,}' for n in sorted(args.sizes))} vectors", body, {**old, **figures},
               f"load at start {machine().split('load average ')[-1]}")
        own_keys(path, old, "index")


def own_keys(path: Path, old: dict[str, object], prefix: str) -> None:
    """report() writes machine, date and command at the top of scaleout.json: file this run's under
    ``<prefix>_*`` and give the top-level ones back to the run that wrote them (the ingest part)."""
    import json

    new = json.loads(path.read_text())
    for key in ("machine", "date", "command"):
        new[f"{prefix}_{key}"] = new.pop(key)
        if key in old:
            new[key] = old[key]
    path.write_text(json.dumps(new, indent=2) + "\n")


def ingest_part(args: argparse.Namespace) -> None:
    """bench/scaleout_ingest.py's four ingests, recorded beside the index keys."""
    import json

    import scaleout_ingest

    rows, figures = scaleout_ingest.run(args.ingest, threads=args.threads, model_only=args.model_only)
    body = table([{k: v for k, v in r.items() if k not in ("killed", "papers_added", "questions")} for r in rows])
    print(body)
    if args.no_record:
        return
    path = BENCH / "results" / "scaleout.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    for key in ("machine", "date", "command"):  # the index part's own: kept under index_*
        if key in old and f"index_{key}" not in old:
            old[f"index_{key}"] = old.pop(key)
    notes = (f"same_claims {figures['same_claims']}, duplicates_after_kill {figures['duplicates_after_kill']}, "
             f"ingest_speedup_2w {figures['ingest_speedup_2w']} (2 cores shared: the load is in each row); "
             f"{figures['ingest_n']} abstracts, {figures['ingest_questions']} model questions in the single-process run")
    title = f"scaleout: ingest of {figures['ingest_n']} BioRED Train abstracts ({figures['ingest_data']}), 1 process / 1 / 2 Ray workers"
    if args.model_only:  # kept apart: the top-level ingest keys are the set (N abstracts in file order)
        figures = {"ingest_model_only": {**figures, "command": " ".join(["python", *sys.argv])}}
    report("scaleout", title, body, {**old, **figures}, notes)


if __name__ == "__main__":
    main()
