"""Scale-out benchmark (issue 14), ingest part: N BioRED Train abstracts read by the model translator, first in
one process (the model in process, as `theorycov ingest` does), then by 1 and 2 Ray workers against one
llama.cpp server (`theorycov model-server`), then by 2 workers of which one is SIGKILLed after a few papers,
and that ingest re-run. Every run starts with a cold answer cache of its own, so throughput is real; the server answers one warm-up
question before the Ray runs (module function warm_up).

Figures: wall time, papers and claims of each run; ``same_claims`` (the 2-worker run stored exactly the papers,
claims and hypotheses of the single-process run; and the 1-worker run too); ``duplicates_after_kill`` (papers,
claims and hypotheses stored more than once after the kill and the re-run, against the single-process run);
``ingest_speedup_2w`` (wall time with 1 worker over wall time with 2); the load average beside each run.

The abstracts are the first N of BioRED Train in file order (the issue's set); with ``--model-only``, the first N
with a sentence that names two Sachs variables (only 14 of the 400 do): the others never reach the model, so
the default set measures splitting and grounding as much as reading. Run from bench/scaleout.py --ingest N.
"""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "biored" / "Train.PubTator"


def pick_abstracts(n: int, folder: Path, *, model_only: bool = False) -> tuple[Path, list[str]]:
    """Write the first ``n`` Train abstracts (``model_only``: of those the model would be asked about) into one
    PubTator file."""
    from theorycov.corpus.grounding import Grounder
    from theorycov.corpus.pipeline import IngestConfig, prepare_domain
    from theorycov.corpus.readers import read_file
    from theorycov.corpus.sentences import split_paper_passages

    grounder = Grounder(prepare_domain("sachs", IngestConfig()))
    blocks = [b.strip() + "\n" for b in TRAIN.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    chosen: list[str] = []
    probe = folder / "probe.pubtator"
    for block in blocks:
        probe.write_text(block, encoding="utf-8")
        paper = read_file(probe, probe.read_bytes()).papers[0]
        sentences = split_paper_passages(paper.passages)
        if not model_only or any(len({m.variable for m in ms if m.variable}) >= 2 for ms in grounder.annotate([s.text for s in sentences])):
            chosen.append(block)
        if len(chosen) == n:
            break
    probe.unlink()
    path = folder / "papers" / f"biored_train_{n}.pubtator"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(chosen), encoding="utf-8")
    return path.parent, [b.split("|", 1)[0] for b in chosen]


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def duplicates(snap: dict[str, list], ref: dict[str, list]) -> int:
    """Rows stored more than once, or beyond what the reference run stored (papers, claims, hypotheses)."""
    out = 0
    for key in ("papers", "claims", "hypotheses"):
        rows = [repr(r) for r in snap[key]]
        out += len(rows) - len(set(rows)) + max(0, len(set(rows)) - len({repr(r) for r in ref[key]}))
    return out


def warm_up(url: str) -> None:
    """One question before the timed runs, so that neither worker count pays for the server's first reading of
    the shared instructions (~30 s; the single-process run pays for its own, and for loading the model)."""
    from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig
    from theorycov.corpus.llm.prompts.sentence import sentence_messages, sentence_schema

    backend = OpenAIBackend(OpenAIConfig(url))
    backend.complete(sentence_messages("Mek activates Erk.", {"Mek": ["Mek"], "Erk": ["Erk"]}),
                     sentence_schema(["Mek", "Erk"], [("Mek", "Erk")]), max_tokens=16)
    backend.close()


def run(n: int, *, threads: int | None = None, kill_after: int = 3, model_only: bool = False) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The four ingests (module docstring); returns their rows and the figures for scaleout.json."""
    import ray

    from theorycov.corpus.distributed import ScaleConfig, WorkerSpec, ingest_ray, snapshot
    from theorycov.corpus.llm import AnswerCache, LLMTranslator
    from theorycov.corpus.llm.server import ModelServer, free_port
    from theorycov.corpus.pipeline import IngestConfig, ingest

    work = Path(tempfile.mkdtemp(prefix="scaleout-ingest-"))
    folder, pmids = pick_abstracts(n, work, model_only=model_only)
    print(f"{len(pmids)} abstracts: {', '.join(pmids)}", flush=True)
    cfg = IngestConfig(progress=True, index=False)
    rows: list[dict[str, object]] = []

    def row(name: str, url: str, t0: float, load0: str, summary: Any, extra: dict[str, object] | None = None) -> dict[str, Any]:
        snap = snapshot(url)
        r = {"run": name, "papers": len(snap["papers"]), "claims": len(snap["claims"]), "hypotheses": len(snap["hypotheses"]),
             "wall_s": round(time.perf_counter() - t0, 1), "load_before": load0, "load_after": _load(), **(extra or {})}
        rows.append(r)
        print(r, flush=True)
        return snap

    t0, l0 = time.perf_counter(), _load()
    single = f"sqlite:///{work / 'single.db'}"
    tr = LLMTranslator(cache=AnswerCache(work / "cache-single" / "llm_answers.sqlite"))
    s = ingest([folder], "sachs", single, extractor=tr, config=cfg)
    ref = row("single process, model in process", single, t0, l0, s, {"questions": tr.stats.questions})
    del tr  # the in-process model's memory back before the server loads its own copy
    snaps: dict[str, dict[str, list]] = {}
    with ModelServer(port=free_port(), n_threads=threads, log_path=str(work / "server.log")) as srv:
        warm_up(srv.url)
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            for workers in (1, 2):
                url = f"sqlite:///{work / f'ray{workers}.db'}"
                spec = WorkerSpec("llm", llm_url=srv.url, cache_dir=str(work / f"cache-ray{workers}"))
                t0, l0 = time.perf_counter(), _load()
                s = ingest_ray([folder], "sachs", url, spec=spec, scale=ScaleConfig(workers=workers), config=cfg)
                snaps[f"{workers}w"] = row(f"{workers} Ray worker(s), one llama.cpp server", url, t0, l0, s)
            killed: list[int] = []

            def kill_once(stored: int, pids: list[int]) -> None:
                if stored == kill_after and not killed:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])

            url = f"sqlite:///{work / 'killed.db'}"
            spec = WorkerSpec("llm", llm_url=srv.url, cache_dir=str(work / "cache-killed"))
            t0, l0 = time.perf_counter(), _load()
            s = ingest_ray([folder], "sachs", url, spec=spec, scale=ScaleConfig(workers=2, on_stored=kill_once), config=cfg)
            row(f"2 workers, one SIGKILLed after {kill_after} papers", url, t0, l0, s, {"killed": bool(killed)})
            t0, l0 = time.perf_counter(), _load()
            s = ingest_ray([folder], "sachs", url, spec=spec, scale=ScaleConfig(workers=2), config=cfg)
            snaps["killed"] = row("the same ingest re-run", url, t0, l0, s, {"papers_added": s.counts.get("papers", 0)})
        finally:
            ray.shutdown()
    figures: dict[str, object] = {
        "ingest_rows": rows, "ingest_n": len(pmids), "ingest_pmids": pmids,
        "ingest_data": ("first N BioRED Train abstracts" + (" with a sentence naming two Sachs variables" if model_only else " in file order")
                        + "; Sachs domain, model translator, cold answer caches"),
        "ingest_questions": rows[0].get("questions"),
        "same_claims": snaps["2w"] == ref and snaps["1w"] == ref,
        "duplicates_after_kill": duplicates(snaps["killed"], ref) if killed else None,
        "ingest_wall_s_single": rows[0]["wall_s"], "ingest_wall_s_1w": rows[1]["wall_s"], "ingest_wall_s_2w": rows[2]["wall_s"],
        "ingest_speedup_2w": round(float(rows[1]["wall_s"]) / float(rows[2]["wall_s"]), 3),  # type: ignore[arg-type]
        "ingest_claims": rows[0]["claims"], "ingest_load": {str(r["run"]): f"{r['load_before']} -> {r['load_after']}" for r in rows},
    }
    return rows, figures
