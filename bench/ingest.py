"""Benchmark of the reading pipeline: extractor claim P/R/F1 on gold sets, ingest throughput, FAISS query
latency, peak memory. Gold files in, figures out; any extractor can be scored:

    python bench/ingest.py                                    # rules on BEL dev, Sachs TSV, BioRED Dev
    python bench/ingest.py --extractor theorycov.corpus.llm:LLMExtractor --gold ../shared/data/bel/small_corpus_dev.bel
    python bench/ingest.py --skip-ingest --skip-faiss         # scoring only

Gold formats by suffix: ``.bel`` (evidence sentences + activity/amount polarity statements), ``.tsv`` (the
Sachs statement table), ``.pubtator`` / ``.PubTator`` (BioRED abstracts + signed correlations). Prints a
table, appends a dated section to bench/RESULTS.md and writes bench/results/ingest.json.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.grounding import GroundingConfig  # noqa: E402
from theorycov.corpus.types import Extractor  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEFAULT_GOLD = [DATA / "bel" / "small_corpus_dev.bel", DATA / "bel" / "sachs_node_statements_from_bel.tsv",
                DATA / "biored" / "Dev.PubTator"]  # fmt: skip


def load_gold(path: Path) -> ev.GoldSet:
    """A gold set from a file, by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".bel":
        return ev.load_bel_gold(path)
    if suffix == ".tsv":
        return ev.load_sachs_tsv(path)
    if suffix == ".pubtator":
        return ev.load_biored_gold(path)
    raise SystemExit(f"{path}: unknown gold format (expected .bel, .tsv or .pubtator)")


def make_extractor(spec: str) -> Extractor:
    """'rules' or 'package.module:Class' (constructed without arguments)."""
    if spec == "rules":
        from theorycov.corpus.rules import RuleExtractor

        return RuleExtractor()
    mod, _, cls = spec.partition(":")
    return getattr(importlib.import_module(mod), cls)()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def faiss_latency(n: int, queries: int = 200, seed: int = 0) -> tuple[float, float]:
    """p50, p95 milliseconds of one k=10 query against n unit vectors (the index type search() uses)."""
    import faiss

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
    index.add_with_ids(x, np.arange(n, dtype=np.int64))
    q = rng.standard_normal((queries, 384)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    faiss.omp_set_num_threads(1)  # as HypothesisIndex.search does for a single query
    times = []
    for i in range(queries):
        t0 = time.perf_counter()
        index.search(q[i : i + 1], 10)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def ingest_throughput(files: list[Path], grounding: GroundingConfig) -> dict[str, float]:
    """Papers per second through the whole pipeline (read, ground, extract, store, index) into SQLite."""
    from theorycov.corpus.index import HypothesisIndex
    from theorycov.corpus.pipeline import IngestConfig, ingest

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t0 = time.perf_counter()
        s = ingest(files, "sachs", url, config=IngestConfig(grounding=grounding, progress=False))
        secs = time.perf_counter() - t0
        idx = HypothesisIndex(url)
        lat = []
        for q in ["what activates Erk?", "PKA inhibits Raf", "lipid second messengers and Akt", "p38 stress kinase"]:
            t1 = time.perf_counter()
            idx.search(q, k=5)
            lat.append((time.perf_counter() - t1) * 1000)
    return {"papers": s.counts["papers"], "seconds": secs, "papers_per_s": s.counts["papers"] / secs,
            "claims": s.counts["claims"], "hypotheses": s.counts["hypotheses_new"],
            "search_ms_median": float(np.median(lat[1:]))}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", type=Path, action="append", help="gold file(s) (default: BEL dev, Sachs TSV, BioRED Dev)")
    ap.add_argument("--extractor", default="rules", help="'rules' or module:Class (default: rules)")
    ap.add_argument("--no-embeddings", action="store_true", help="alias grounding only while scoring")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-faiss", action="store_true")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    ap.add_argument("--results-md", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = ap.parse_args(argv)
    gold_files = args.gold or DEFAULT_GOLD
    missing = [str(p) for p in gold_files if not p.exists()]
    if missing:
        raise SystemExit(f"gold file(s) not found: {', '.join(missing)} (see ../shared/data/MANIFEST.md)")
    extractor = make_extractor(args.extractor)
    grounding = GroundingConfig(use_embeddings=not args.no_embeddings)
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + (argv if argv is not None else sys.argv[1:]))
    out: dict = {"extractor": f"{extractor.name} {extractor.version}", "gold": {}}
    rows = []
    for path in gold_files:
        gold = load_gold(path)
        # BioRED's per-document domains alias the annotated mention texts exactly: embeddings add nothing there.
        g = grounding if gold.directed else GroundingConfig(use_embeddings=False)
        sc = ev.evaluate(gold, extractor, grounding=g)
        out["gold"][gold.name] = {**sc.as_dict(), "gold_triples": gold.n_triples}
        rows.append((gold.name, sc, gold.n_triples))
        print(f"scored {gold.name}: {sc.as_dict()}", file=sys.stderr)
    bel = next((d for k, d in out["gold"].items() if k.startswith("bel:")), None)
    if bel:
        out.update(rules_precision=bel["precision"], rules_recall=bel["recall"], rules_f1=bel["f1"])
    if not args.skip_ingest:
        files = [p for p in (DATA / "bel" / "small_corpus_dev.bel", DATA / "biored" / "Dev.PubTator") if p.exists()]
        out["ingest"] = ingest_throughput(files, GroundingConfig())
        out["papers_per_s"] = round(out["ingest"]["papers_per_s"], 3)
        print(f"ingest: {out['ingest']}", file=sys.stderr)
    if not args.skip_faiss:
        for n in (10_000, 100_000):
            p50, p95 = faiss_latency(n)
            out[f"faiss_p50_ms_{n // 1000}k"], out[f"faiss_p95_ms_{n // 1000}k"] = round(p50, 3), round(p95, 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out.update(machine=machine(), date=datetime.now(timezone.utc).isoformat(timespec="seconds"), command=command,
               load=uptime())  # fmt: skip

    lines = ["| gold set | items | gold triples | TP | FP | FN | precision | recall | F1 | s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, sc, n in rows:
        lines.append(f"| {name} | {sc.items} | {n} | {sc.tp} | {sc.fp} | {sc.fn} | {sc.precision:.3f} | {sc.recall:.3f} | {sc.f1:.3f} | {sc.seconds:.1f} |")
    extra = []
    if "ingest" in out:
        i = out["ingest"]
        extra.append(f"| ingest (BEL dev + BioRED Dev, embeddings on, into SQLite + FAISS) | {i['papers']} papers in {i['seconds']:.1f} s = **{i['papers_per_s']:.2f} papers/s**; {i['claims']} claims, {i['hypotheses']} hypotheses; search() median {i['search_ms_median']:.1f} ms |")
    if "faiss_p50_ms_10k" in out:
        extra.append(f"| FAISS IndexFlatIP, 384-d, k=10, one query | 10k items: p50 {out['faiss_p50_ms_10k']:.3f} ms, p95 {out['faiss_p95_ms_10k']:.3f} ms; 100k items: p50 {out['faiss_p50_ms_100k']:.3f} ms, p95 {out['faiss_p95_ms_100k']:.3f} ms |")
    extra.append(f"| peak RSS | {out['peak_rss_mb']:.0f} MB |")
    table = "\n".join(lines + ["", "| measure | value |", "|---|---|"] + extra)
    print(table)
    section = (f"\n## {out['date']} — corpus: extractor `{out['extractor']}` (bench/ingest.py)\n\n"
               f"- machine: {out['machine']}\n- command: `{command}`\n- uptime: `{out['load']}`\n\n{table}\n")  # fmt: skip
    with open(args.results_md, "a", encoding="utf-8") as fh:
        fh.write(section)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
