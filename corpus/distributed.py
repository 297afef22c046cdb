"""Ingest on a Ray cluster: the driver reads the files and shards their records (papers, not files: a JSONL
or PubTator file of 400 abstracts is 400 tasks), N Ray workers split, ground and translate them (the model in
process, or a model server shared by all: ``WorkerSpec.llm_url``), the driver stores each returned paper.

    from theorycov.corpus.distributed import ScaleConfig, WorkerSpec, ingest_ray
    ingest_ray(["papers/"], "sachs", "postgresql+psycopg://...", spec=WorkerSpec("llm", llm_url="http://gpu1:8080"),
               scale=ScaleConfig(workers=8, ray_address="auto"))

Guarantees (on top of :mod:`theorycov.corpus.pipeline`'s):
- one transaction per paper, opened by the driver: a paper is stored with its claims, hypotheses, rejected
  mentions and errors, or not at all; before writing, the transaction checks the paper's identities (content
  hash, normalized text, DOI, PMID), so a paper is written once however many workers, files or runs see it;
- a file is recorded as ingested (its content hash) only once every one of its papers is stored or known: a
  run killed half way leaves the stored papers, and the next run re-reads the file and skips them;
- a killed worker is restarted by Ray and its papers are retried (actor ``max_restarts``,
  ``max_task_retries``); a paper that still fails is recorded in failed_files and its file left for the next run.

Who writes: the driver, on SQLite and PostgreSQL alike. SQLite does not take parallel writers (one writer
at a time per database file; workers on other machines could not reach the file anyway), so there the
driver must write. On PostgreSQL the workers could write, but a paper's transaction takes milliseconds
against seconds of reading, so one writer is far from the bottleneck; and with one writer, hypotheses merged
across papers never race on the same rows, and workers need no database credentials or route.

Exceptions::

    CorpusError
     +-- ScaleError    ray is not installed, workers < 1, a cluster that cannot be reached
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from theorycov.corpus.assemble import paper_hypotheses
from theorycov.corpus.domain import Domain
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.identity import identity, new_papers
from theorycov.corpus.llm.backends import BackendError
from theorycov.corpus.pipeline import (IngestConfig, IngestSummary, begin_run, files_to_ingest, prepare_domain,
                                       read_new_file, read_records)
from theorycov.corpus.reading import ReadPaper, process_paper
from theorycov.corpus.store import save_paper
from theorycov.corpus.types import CorpusError, Extractor, Paper
from theorycov.db import crud, init_db, session_scope

log = logging.getLogger(__name__)

EXTRACTORS = ("rules", "llm")
SQLITE_NOTE = ("SQLite does not take parallel writers: the driver writes every paper, the workers only read "
               "(for several machines use one PostgreSQL database: --db postgresql+psycopg://USER@HOST/DB)")

__all__ = ["EXTRACTORS", "ScaleConfig", "ScaleError", "WorkerSpec", "ingest_ray", "snapshot", "store_paper"]


class ScaleError(CorpusError):
    """Distributed ingest cannot start: ray missing, a bad worker count, an unreachable cluster."""


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker builds its extractor from (sent to the workers, so plain values only)."""

    extractor: str = "rules"  # "rules" | "llm"
    llm_url: str | None = None  # llm: the model server all workers ask; None: each worker loads the model (~1.3 GB)
    cache_dir: str | None = None  # llm: the answer cache's folder (THEORYCOV_CACHE_DIR); None: the default

    def build(self) -> Extractor:
        """The extractor, in the worker."""
        if self.extractor == "rules":
            from theorycov.corpus.rules import RuleExtractor

            return RuleExtractor()
        from theorycov.corpus.llm import AnswerCache, LLMTranslator
        from theorycov.corpus.llm.cache import default_cache_path

        cache = AnswerCache(Path(self.cache_dir) / "llm_answers.sqlite" if self.cache_dir else default_cache_path())
        if self.llm_url:
            from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig

            return LLMTranslator(lambda: OpenAIBackend(OpenAIConfig(self.llm_url or "")), cache=cache)
        from theorycov.corpus.llm.translator import default_extractor

        default_extractor()  # refuses, naming the extra, when the model is not installed
        return LLMTranslator(cache=cache)

    def identity(self) -> tuple[str, str]:
        """(name, version) of the extractor, for the run's row."""
        if self.extractor == "rules":
            from theorycov.corpus.rules import RuleExtractor

            return RuleExtractor.name, RuleExtractor.version
        from theorycov.corpus.llm.translator import LLMTranslator

        return LLMTranslator.name, LLMTranslator.version


@dataclass(frozen=True)
class ScaleConfig:
    """How many workers, on which cluster."""

    workers: int = 2  # Ray workers (actors), one CPU each
    ray_address: str | None = None  # None: a local cluster of `workers` CPUs started here; "auto" or ray://HOST:10001: a running one
    max_retries: int = 3  # restarts of a killed worker, and retries of each of its papers
    per_worker: int = 2  # papers queued per worker, so a worker never waits for the driver's writes
    on_stored: Callable[[int, list[int]], None] | None = field(default=None, compare=False)  # (papers stored, worker pids): tests, benches


class _Reader:
    """One Ray worker: a grounder and an extractor built once, then any number of papers."""

    def __init__(self, domain: Domain, grounding: GroundingConfig, spec: WorkerSpec, extract_curated: bool) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.grounder = Grounder(domain, grounding)
        self.extractor = spec.build()
        self.extract_curated = extract_curated

    def read(self, paper: Paper) -> ReadPaper:
        return process_paper(paper, self.grounder, self.extractor, extract_curated=self.extract_curated)

    def pid(self) -> int:
        return os.getpid()


def _ray(scale: ScaleConfig) -> tuple[Any, bool]:
    """The ray module, connected, and whether this call started the (local) cluster; ScaleError naming the fix
    otherwise."""
    if isinstance(scale.workers, bool) or not isinstance(scale.workers, int) or scale.workers < 1:
        raise ScaleError(f"workers must be a whole number of at least 1; got {scale.workers!r}")
    if scale.ray_address is not None:
        _use_token_auth()  # before ray is imported: it reads RAY_AUTH_MODE once
    try:
        import ray
    except ImportError as exc:
        raise ScaleError("distributed ingest needs Ray: pip install 'theorycov[scale]' (or make setup); "
                         "without --workers, ingest runs in this process") from exc
    started = not ray.is_initialized()
    if started:
        try:
            if scale.ray_address is None:  # "local": a new cluster, even where a stale `ray start` left its address
                ray.init(address="local", num_cpus=scale.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=scale.ray_address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ScaleError(f"cannot connect to the Ray cluster at {scale.ray_address or 'a new local one'}: {exc}; "
                             "start one with `ray start --head` and pass --ray-address HOST:6379 (or omit it); a cluster "
                             "with token authentication (Ray's default) needs its token here: copy the head's "
                             "~/.ray/auth_token (`ray get-auth-token`) or set RAY_AUTH_TOKEN") from exc
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < scale.workers:  # an actor that finds no CPU waits for one forever
        raise ScaleError(f"the Ray cluster has {cpus:g} CPUs and each of the {scale.workers} workers needs one; "
                         "ask for fewer --workers or add machines (ray start --address HEAD:6379)")
    return ray, started


def _use_token_auth() -> None:
    """A client of a running cluster sends the cluster's token when it has one: Ray's `ray start` enables token
    authentication by default, and its own clients only send the token when RAY_AUTH_MODE says so."""
    if "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"


def store_paper(engine: Any, rp: ReadPaper, path: str, *, run_id: int, domain_id: int, var_ids: dict[str, int],
                attempts: int = 3) -> Counter:
    """Store one read paper in its own transaction, unless a paper of the same identity is stored already
    (then only ``papers_duplicate`` is counted); a UNIQUE conflict with a concurrent ingest reruns it."""
    for attempt in range(attempts):
        try:
            with session_scope(engine) as s:
                if not new_papers([rp.paper], session=s):
                    return Counter(papers_duplicate=1)
                res = save_paper(rp.paper, rp.claims, paper_hypotheses(rp.claims), session=s, domain_id=domain_id, var_ids=var_ids)
                crud.set_paper_content_key(res.paper_id, identity(rp.paper).content_key, session=s)
                added = Counter(papers=1, claims=res.claims, hypotheses_new=res.hypotheses_new, hypotheses_merged=res.hypotheses_merged)
                added["rejected_mentions"] += crud.record_rejections(run_id, rp.rejected, session=s)
                for loc, err, reason in rp.errors:
                    added["extraction_errors"] += 1
                    crud.record_failure(run_id, path, err, reason, session=s, location=loc)
            return added
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            log.info("%s: a concurrent ingest stored rows of %s first; storing it again", path, rp.paper.source_path)
    return Counter()


@dataclass
class _File:
    path: Path
    sha: str
    reader: str
    pending: set[str]  # papers still out with the workers
    stored: list[str] = field(default_factory=list)
    failed: bool = False


def ingest_ray(paths: Iterable[str | Path] | str | Path, domain: Domain | str | Path = "sachs", db_url: str | None = None, *,
               spec: WorkerSpec = WorkerSpec(), scale: ScaleConfig = ScaleConfig(), config: IngestConfig = IngestConfig()) -> IngestSummary:
    """Ingest files or folders with ``scale.workers`` Ray workers (module docstring); returns the run's summary.

    Raises ScaleError (ray missing, workers < 1, no cluster), BackendError (``spec.llm_url`` unreachable),
    IngestInputError (no file to read) before a run is started."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    if spec.extractor not in EXTRACTORS:
        raise ScaleError(f"the workers' extractor must be one of {', '.join(EXTRACTORS)}; got {spec.extractor!r}")
    if spec.llm_url:
        from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig

        OpenAIBackend(OpenAIConfig(spec.llm_url)).probe()  # an unreachable URL fails now, not in every worker
    files = files_to_ingest(paths)
    ray, started = _ray(scale)
    dom = prepare_domain(domain, config)
    engine = init_db(db_url)
    if engine.dialect.name == "sqlite":
        log.info(SQLITE_NOTE)
    run_id, domain_id, var_ids = begin_run(engine, dom, *spec.identity())
    summary = IngestSummary(run_id)
    counts = summary.counts

    def fail(path: Path, location: str, error: str, reason: str) -> None:
        summary.failures.append((str(path), location, reason))
        with session_scope(engine) as s:
            crud.record_failure(run_id, str(path), error, reason, session=s, location=location)

    reader_cls = ray.remote(num_cpus=1, max_restarts=scale.max_retries, max_task_retries=scale.max_retries)(_Reader)
    actors = [reader_cls.remote(dom, config.grounding, spec, config.extract_curated) for _ in range(scale.workers)]
    status = "interrupted"
    try:
        try:
            pids = ray.get([a.pid.remote() for a in actors])
        except ray.exceptions.RayError as exc:  # the extractor or grounder could not be built in a worker
            raise ScaleError(f"the Ray workers could not start: {exc}"[:2000]) from exc
        queue: list[tuple[_File, Paper]] = []
        for path in files:
            new = read_new_file(engine, path, counts, fail)
            if new is None:
                continue
            data, sha = new
            got = read_records(path, data, config, counts, fail)
            if got is None:
                continue
            with session_scope(engine) as s:
                fresh = [p for p, _ in new_papers(got[1], session=s)]
            counts["papers_duplicate"] += len(got[1]) - len(fresh)
            f = _File(path, sha, got[0], {p.sha256 for p in fresh})
            if not fresh:  # nothing new in it: recorded now, skipped from now on
                _finish_file(engine, f, run_id)
                counts["files_read"] += 1
            queue += [(f, p) for p in fresh]
        bar = tqdm(total=len(queue), desc="ingest", unit="paper", disable=not config.progress, file=sys.stderr)
        out: dict[Any, tuple[_File, Paper, int]] = {}
        load = [0] * len(actors)
        queue.reverse()
        while queue or out:
            while queue and len(out) < scale.workers * scale.per_worker:
                k = load.index(min(load))
                f, p = queue.pop()
                out[actors[k].read.remote(p)] = (f, p, k)
                load[k] += 1
            done, _ = ray.wait(list(out), num_returns=1)
            f, p, k = out.pop(done[0])
            load[k] -= 1
            try:
                rp: ReadPaper = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, BackendError):
                    raise exc.cause from exc  # the model cannot run at all: stop, as in process
                f.failed = True
                fail(f.path, p.source_path, type(exc.cause).__name__, str(exc.cause))
            except ray.exceptions.RayError as exc:  # the worker died more often than max_retries
                f.failed = True
                fail(f.path, p.source_path, type(exc).__name__, f"worker lost {scale.max_retries + 1} times: {exc}"[:2000])
            else:
                added = store_paper(engine, rp, str(f.path), run_id=run_id, domain_id=domain_id, var_ids=var_ids)
                counts.update(added)
                summary.failures.extend((str(f.path), loc, reason) for loc, _, reason in rp.errors)
                if added["papers"]:
                    f.stored.append(p.sha256)
                bar.update(1)
                if scale.on_stored is not None:
                    scale.on_stored(counts["papers"], pids)
            f.pending.discard(p.sha256)
            if not f.pending and not f.failed:
                _finish_file(engine, f, run_id)
                counts["files_read"] += 1
        bar.close()
        if config.index:
            from theorycov.corpus.index import HypothesisIndex

            counts["indexed"] += HypothesisIndex(engine, index_path=config.index_path).sync()
        status = "finished"
    finally:
        for a in actors:
            ray.kill(a)
        if started:  # a cluster this run started ends with it; one the caller had stays up
            ray.shutdown()
        summary.seconds = time.perf_counter() - t0
        with session_scope(engine) as s:
            crud.finish_ingest_run(run_id, dict(counts), summary.seconds, session=s, status=status)
    log.info("%s", summary.table())
    return summary


def snapshot(db_url: Any) -> dict[str, list]:
    """What an ingest stored, free of row ids and order, to compare two ingests: papers (content hash), claims
    (paper, cause, effect, relation, flags, sentence span) and hypotheses (content hash, rendering, papers)."""
    from sqlalchemy import select

    from theorycov.db import get_engine, models as m

    with session_scope(get_engine(db_url)) as s:
        papers = {p.id: p.sha256 for p in s.scalars(select(m.Paper))}
        names = {v.id: v.name for v in s.scalars(select(m.Variable))}
        claims = sorted((papers[c.paper_id], names[c.cause_id], names[c.effect_id], c.relation, c.direct, c.negated, c.hedged,
                         c.sentence_start, c.sentence_end, c.extractor) for c in s.scalars(select(m.Claim)))
        support: dict[int, set[str]] = {}
        for e in s.scalars(select(m.HypothesisEvidence)):
            support.setdefault(e.hypothesis_id, set()).add(papers[e.paper_id])
        hyps = sorted((h.shallow_hash, h.rendering, sorted(support.get(h.id, ()))) for h in s.scalars(select(m.Hypothesis)))
    return {"papers": sorted(papers.values()), "claims": claims, "hypotheses": hyps}


def _finish_file(engine: Any, f: _File, run_id: int) -> None:
    """Record a file whose papers are all in: its content hash (skipped from now on) and its papers' link."""
    with session_scope(engine) as s:
        src = crud.claim_source_file(f.sha, str(f.path), f.reader, session=s, run_id=run_id)
        if src is not None:
            src.n_papers = len(f.stored)
            crud.attach_papers(src.id, f.stored, session=s)
