"""Scale-out benchmark (issue 14), the database's own index: pgvector's HNSW index inside PostgreSQL on the same
synthetic 384-d vectors as bench/scaleout.py, so that the two can be compared before one is chosen. Writes
pgvector_* keys into bench/results/scaleout.json and appends to bench/RESULTS.md.

    .venv/bin/python bench/scaleout_pgvector.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/theorycov_test
    .venv/bin/python bench/scaleout_pgvector.py --n 100000 --queries 1000 --no-record      # a shorter look

It needs a PostgreSQL server with the ``vector`` extension available (``CREATE EXTENSION vector`` must succeed;
Debian's bookworm has no package for it: build it from pgvector's sources with the server's headers,
``postgresql-server-dev-15``) and says so, exit status 2, when there is none. The table it writes
(``theorycov_bench_vectors``) is dropped at the end.

Measured: the load through binary COPY, the index build (``CREATE INDEX ... USING hnsw (embedding
vector_ip_ops)``, m and ef_construction as given, the server's maintenance_work_mem raised so that the graph is
built in memory), the index's and the table's bytes, the server backend's resident memory after the queries,
p50 / p95 latency of single queries through the driver (one round trip each, as the API would pay) and recall@10
against exact inner-product search, for each ``hnsw.ef_search``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gfn_common import BENCH, command, machine, table  # noqa: E402
from scaleout import CHUNK, DIM, Vectors, exact_top10  # noqa: E402

TABLE = "theorycov_bench_vectors"


def copy_binary(ids: np.ndarray, x: np.ndarray, kind: str) -> bytes:
    """PostgreSQL's binary COPY stream of (id bigint, embedding vector|halfvec) rows.

    pgvector's binary form of a vector is int16 dim, int16 unused, then dim big-endian float4 (halfvec: float2)."""
    n = len(ids)
    width = 2 if kind == "halfvec" else 4
    rec = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("v", (">f2" if width == 2 else ">f4", DIM))])
    rows = np.zeros(n, dtype=rec)
    rows["nf"], rows["l1"], rows["id"] = 2, 8, ids
    rows["l2"], rows["dim"] = 4 + width * DIM, DIM
    rows["v"] = x
    return rows.tobytes()


def backend_rss_mb(pid: int) -> float:
    """Resident memory of the server process serving this connection (same machine), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def run(url: str, n: int, nq: int, kind: str, m: int, ef_construction: int, ef_search: list[int], rank: int, noise: float) -> list[dict[str, object]]:
    import psycopg

    vec = Vectors(rank, noise)
    queries = vec.draw(nq, seed=10**6)
    t = time.perf_counter()
    truth = exact_top10(vec, n, queries)
    print(f"n={n:,}: exact neighbours of {nq:,} queries in {time.perf_counter() - t:.0f} s", flush=True)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise SystemExit(f"pgvector is not available in the PostgreSQL at {url}: {str(exc).strip()}\n"
                             "install it (build pgvector against postgresql-server-dev-<version>) and run again") from None
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, embedding {kind}({DIM}) NOT NULL)")
        t0 = time.perf_counter()
        with conn.cursor().copy(f"COPY {TABLE} (id, embedding) FROM STDIN WITH (FORMAT binary)") as cp:
            cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for i in range((n + CHUNK - 1) // CHUNK):
                x = vec.chunk(i, n)
                cp.write(copy_binary(np.arange(i * CHUNK, i * CHUNK + len(x), dtype=np.int64), x, kind))
            cp.write(struct.pack(">h", -1))
        load_s = time.perf_counter() - t0
        print(f"loaded {n:,} rows in {load_s:.0f} s", flush=True)
        conn.execute("SET maintenance_work_mem = '8GB'")
        conn.execute(f"SET max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 1) - 1)}")
        t0 = time.perf_counter()
        conn.execute(f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (embedding {kind}_ip_ops) "
                     f"WITH (m = {m}, ef_construction = {ef_construction})")
        build_s = time.perf_counter() - t0
        print(f"HNSW index built in {build_s:.0f} s", flush=True)
        index_mb = conn.execute(f"SELECT pg_relation_size('{TABLE}_hnsw')").fetchone()[0] / 2**20
        table_mb = conn.execute(f"SELECT pg_table_size('{TABLE}')").fetchone()[0] / 2**20
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        sql = f"SELECT id FROM {TABLE} ORDER BY embedding <#> %s::{kind} LIMIT 10"  # <#>: negative inner product
        literal = ["[" + ",".join(f"{v:.7g}" for v in q) + "]" for q in queries]
        rows: list[dict[str, object]] = []
        for ef in ef_search:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            for q in literal[:50]:  # warm the index pages
                conn.execute(sql, (q,)).fetchall()
            got, lat = [], []
            for q in literal:
                t = time.perf_counter()
                got.append([r[0] for r in conn.execute(sql, (q,)).fetchall()])
                lat.append((time.perf_counter() - t) * 1e3)
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))
            rows.append({"n": n, "type": kind, "pgvector": version, "m": m, "ef_construction": ef_construction, "ef_search": ef,
                         "load_s": round(load_s, 1), "build_s": round(build_s, 1), "index_mb": round(index_mb, 1),
                         "table_mb": round(table_mb, 1), "backend_rss_mb": round(backend_rss_mb(pid), 1),
                         "p50_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95)), "recall10": recall,
                         "queries": nq, "load": "/".join(f"{v:.2f}" for v in os.getloadavg())})
            print(rows[-1], flush=True)
        conn.execute(f"DROP TABLE {TABLE}")
    return rows


def record(rows: list[dict[str, object]], figures: dict[str, object]) -> None:
    """pgvector_* keys into scaleout.json beside the FAISS ones (whose machine, date and command stay theirs)."""
    date = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    figures = {**figures, "pgvector_machine": machine(), "pgvector_date": date, "pgvector_command": command()}
    path = BENCH / "results" / "scaleout.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**old, **figures}, indent=2) + "\n")
    body = table(rows)
    section = (f"\n## scaleout: pgvector HNSW at {rows[0]['n']:,} vectors ({date})\n\n- machine: {figures['pgvector_machine']}\n"
               f"- command: `{figures['pgvector_command']}`\n\n{body}\n")
    with (BENCH / "RESULTS.md").open("a") as f:
        f.write(section)
    print(section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=os.environ.get("THEORYCOV_PG_URL"), help="PostgreSQL URL (default $THEORYCOV_PG_URL)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--type", choices=["vector", "halfvec"], default="vector", help="float4 or float2 storage")
    ap.add_argument("--m", type=int, default=16, help="HNSW links a node (pgvector's default)")
    ap.add_argument("--ef-construction", type=int, default=64, help="HNSW build depth (pgvector's default)")
    ap.add_argument("--ef-search", type=int, nargs="+", default=[40, 100], help="search depths to measure (40 is pgvector's default)")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if not args.pg_url:
        sys.exit("no PostgreSQL: pass --pg-url or set THEORYCOV_PG_URL")
    rows = run(args.pg_url, args.n, args.queries, args.type, args.m, args.ef_construction, args.ef_search, args.rank, args.noise)
    print(table(rows))
    if args.no_record:
        return
    tag = {1_000_000: "1m", 10_000_000: "10m"}.get(args.n, str(args.n))
    best = max(rows, key=lambda r: float(r["recall10"]))  # type: ignore[arg-type]
    record(rows, {f"pgvector_rows_{tag}": rows, f"pgvector_p50_ms_{tag}": best["p50_ms"], f"pgvector_recall10_{tag}": best["recall10"],
                  f"pgvector_index_mb_{tag}": best["index_mb"], f"pgvector_build_s_{tag}": best["build_s"],
                  f"pgvector_backend_rss_mb_{tag}": best["backend_rss_mb"]})


if __name__ == "__main__":
    main()
