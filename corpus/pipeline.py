"""The ingest pipeline. Ingest a folder or a list of paper files into the database: read, split, ground, extract, assemble,
store, index.

Guarantees:
- one transaction per file: a file is stored with all its papers, claims and hypotheses, or not at all;
- one atomic claim per file: the transaction begins by inserting the file's content hash or skipping it
  (``crud.claim_source_file``), so two ingests of one folder at once never fail on the hash's UNIQUE
  constraint: the second one's claim waits for the first transaction and then skips the file;
- idempotent by content: a file whose bytes were ingested before is skipped, and so is a paper already
  stored under its content hash, its normalized text, its DOI or its PMID (:mod:`theorycov.corpus.identity`:
  the same paper re-saved, re-spaced, under two file names or in two collections counts once);
- resumable: an interrupted ingest leaves every finished file committed (the run stays 'interrupted');
  running it again skips those files and continues; a run whose process was killed (its row still
  'running', its process gone) is marked 'killed' when the next run starts;
- a file that cannot be read is recorded (path, error class, reason) and the run goes on; so is each
  bad record of a multi-record file, each paper over ``ReaderConfig.max_chars``, and every mention
  grounding rejected;
- the summary is returned, logged, and printed by the caller once (the CLI); the library prints nothing.
The extractor is pluggable: any :class:`~theorycov.corpus.types.Extractor` (the rule extractor by default).
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from theorycov.db import crud, init_db, session_scope
from theorycov.corpus.assemble import paper_hypotheses
from theorycov.corpus.domain import Domain, load_domain
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.identity import new_papers
from theorycov.corpus.reading import ReadPaper, process_paper
from theorycov.corpus.readers import ReaderConfig, read_file, sha256_bytes, supported_suffixes
from theorycov.corpus.rules import RuleExtractor
from theorycov.corpus.store import save_paper
from theorycov.corpus.types import CorpusError, Extractor, Paper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """How an ingest runs."""

    grounding: GroundingConfig = GroundingConfig()
    reader: ReaderConfig = ReaderConfig()
    extract_curated: bool = False  # also run the extractor on papers that carry curated (BEL) claims
    index: bool = True  # bring the FAISS index up to date at the end
    index_path: str | None = None  # None: beside the database (see index.index_path_for)
    progress: bool = True  # tqdm progress bars (files, then papers with the sentence and model rate) and the summary
    lexicon: bool = True  # add HGNC / FamPlex synonyms of the domain's genes to its aliases (corpus/genes.py)


@dataclass
class IngestSummary:
    """What an ingest did; ``table()`` renders it."""

    run_id: int
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (path, location, reason)
    seconds: float = 0.0

    def table(self) -> str:
        rows = [
            ("files read", "files_read"), ("files skipped (already ingested)", "files_skipped"),
            ("files failed", "files_failed"), ("records skipped (bad)", "record_problems"),
            ("papers stored", "papers"), ("papers skipped (duplicate)", "papers_duplicate"),
            ("claims", "claims"), ("hypotheses new", "hypotheses_new"), ("hypotheses merged", "hypotheses_merged"),
            ("mentions rejected", "rejected_mentions"), ("extractor errors", "extraction_errors"),
            ("items indexed", "indexed"),
        ]  # fmt: skip
        width = max(len(r[0]) for r in rows)
        lines = [f"ingest run {self.run_id}: {self.seconds:.1f} s"]
        lines += [f"  {label:<{width}}  {self.counts.get(key, 0):>7}" for label, key in rows]
        lines += [f"  failed: {p} {loc}: {reason}" for p, loc, reason in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more (see the failed_files table)")
        return "\n".join(lines)

    @property
    def nothing_read(self) -> bool:
        """Files were given and every one of them failed: nothing read, nothing skipped as known."""
        return self.counts.get("files_failed", 0) > 0 and not self.counts.get("files_read", 0) and not self.counts.get("files_skipped", 0)


def expand_paths(paths: Iterable[str | Path] | str | Path) -> list[Path]:
    """Files to ingest: given files as they are, folders searched recursively for supported suffixes."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    suffixes = set(supported_suffixes())
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def _read_papers(papers: list[Paper], grounder: Grounder, extractor: Extractor, config: IngestConfig, path: Path) -> list[ReadPaper]:
    """process_paper on each paper, with a progress bar per paper whose line names the sentence being read
    and, for the model translator, its rate (a JSONL of 18 abstracts is one file: minutes without a sign)."""
    from tqdm import tqdm

    bar = tqdm(total=len(papers), desc=f"  {path.name}", unit="paper", leave=False, position=1, file=sys.stderr,
               disable=not config.progress or len(papers) == 0)
    stats = getattr(extractor, "stats", None)  # the model translator: questions/s and tokens/s

    def tick(i: int, n: int) -> None:
        rate = f"; {stats.line()}" if stats is not None else ""
        bar.set_postfix_str(f"sentence {i}/{n}{rate}", refresh=True)
        if stats is not None and not config.progress and i == n:
            log.info("%s paper %d/%d: %d sentences read; %s", path.name, bar.n + 1, len(papers), n, stats.line())

    out = []
    try:
        for p in papers:
            out.append(process_paper(p, grounder, extractor, extract_curated=config.extract_curated, on_sentence=tick))
            bar.update(1)
    finally:
        bar.close()
    return out


def ingest(
    paths: Iterable[str | Path] | str | Path,
    domain: Domain | str | Path = "sachs",
    db_url: str | None = None,
    *,
    extractor: Extractor | None = None,
    config: IngestConfig = IngestConfig(),
) -> IngestSummary:
    """Ingest files or folders into ``db_url`` (default: $THEORYCOV_DB_URL or sqlite:///theorycov.db)
    against ``domain`` (a Domain, a TOML path or a shipped name); returns the run's summary.

    Raises IngestInputError (a CorpusError) when the paths hold no file to read, before a run is started."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    dom = prepare_domain(domain, config)
    extractor = extractor or RuleExtractor()
    files = files_to_ingest(paths)
    engine = init_db(db_url)
    run_id, domain_id, var_ids = begin_run(engine, dom, extractor.name, extractor.version)
    summary = IngestSummary(run_id)
    counts = summary.counts
    grounder = Grounder(dom, config.grounding)
    status = "interrupted"

    def fail(path: Path, location: str, error: str, reason: str) -> None:
        summary.failures.append((str(path), location, reason))
        with session_scope(engine) as s:
            crud.record_failure(run_id, str(path), error, reason, session=s, location=location)

    try:
        bar = tqdm(files, desc="ingest", unit="file", disable=not config.progress, file=sys.stderr)
        for path in bar:
            new = read_new_file(engine, path, counts, fail)
            if new is None:
                continue
            data, sha = new
            read_out = read_records(path, data, config, counts, fail)
            if read_out is None:
                continue
            reader, papers = read_out
            try:
                stored = _store_file(engine, path, sha, reader, papers, grounder, extractor, config, run_id, domain_id, var_ids)
            except CorpusError as exc:
                counts["files_failed"] += 1
                fail(path, "", type(exc).__name__, str(exc))
                continue
            if stored is None:
                counts["files_skipped"] += 1
                log.info("%s: skipped, another ingest stored the same content meanwhile", path)
                continue
            added, read = stored
            counts.update(added)  # only once the file is committed
            summary.failures.extend((str(path), loc, reason) for rp in read for loc, _, reason in rp.errors)
            counts["files_read"] += 1
            if hasattr(extractor, "stats"):  # the model translator: its questions/s and tokens/s
                bar.set_postfix_str(extractor.stats.line(), refresh=True)
        if config.index:
            from theorycov.corpus.index import HypothesisIndex

            counts["indexed"] += HypothesisIndex(engine, index_path=config.index_path).sync()
        status = "finished"
    finally:
        summary.seconds = time.perf_counter() - t0
        with session_scope(engine) as s:
            crud.finish_ingest_run(run_id, dict(counts), summary.seconds, session=s, status=status)
    log.info("%s", summary.table())
    return summary


def prepare_domain(domain: Domain | str | Path, config: IngestConfig) -> Domain:
    """The domain to ground against: loaded by name or path, with HGNC / FamPlex synonyms when
    ``config.lexicon``."""
    dom = domain if isinstance(domain, Domain) else load_domain(domain)
    if config.lexicon:
        from theorycov.corpus.genes import expand_domain
        from theorycov.corpus.lexicon import load_lexicon

        dom, flags = expand_domain(dom, load_lexicon())
        for f in flags[:20]:
            log.info("domain %s: %s of %s left out: %s", dom.name, f.text, f.variable, f.reason)
    return dom


def files_to_ingest(paths: Iterable[str | Path] | str | Path) -> list[Path]:
    """:func:`expand_paths`, or IngestInputError when it finds no file a reader supports."""
    files = expand_paths(paths)
    if not files:
        raise IngestInputError(f"no paper files in {', '.join(map(str, _as_list(paths))) or 'the given paths'}; "
                               f"supported: {', '.join(supported_suffixes())}")
    return files


def begin_run(engine, dom: Domain, extractor_name: str, extractor_version: str) -> tuple[int, int, dict[str, int]]:  # noqa: ANN001
    """Store the domain, mark dead runs of this host 'killed', start a run: (run id, domain id, variable ids)."""
    host = socket.gethostname()
    for attempt in range(3):  # a concurrent ingest may create the same domain between our read and our insert
        try:
            with session_scope(engine) as s:
                killed = crud.mark_killed_ingest_runs(session=s, host=host, alive=_alive)
                drow = crud.upsert_domain(dom.name, [(v.name, v.all_aliases(), v.unit) for v in dom.variables], session=s,
                                          description=dom.description, content_hash=dom.content_hash())  # fmt: skip
                domain_id, var_ids = drow.id, crud.variable_ids(drow.id, session=s)
                run_id = crud.start_ingest_run(session=s, domain_id=domain_id, extractor=extractor_name,
                                               extractor_version=extractor_version, pid=os.getpid(), host=host).id  # fmt: skip
            break
        except IntegrityError:
            if attempt == 2:
                raise
    for k in killed:
        log.warning("ingest run %d was killed before it finished (its process is gone): marked 'killed'; its finished files are kept", k)
    return run_id, domain_id, var_ids


def read_new_file(engine, path: Path, counts: Counter, fail: Callable[[Path, str, str, str], None]) -> tuple[bytes, str] | None:  # noqa: ANN001
    """(bytes, content hash) of a file not yet ingested; None when it cannot be read (recorded through ``fail``)
    or its content was ingested before (counted as skipped). A cheap early skip: the claim of the source file
    in the paper's transaction is what decides."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        counts["files_failed"] += 1
        fail(path, "", "OSError", f"{path}: cannot read: {exc.strerror}")
        return None
    sha = sha256_bytes(data)
    with session_scope(engine) as s:
        done = crud.get_source_file(sha, session=s)
        if done is not None:
            counts["files_skipped"] += 1
            log.info("%s: skipped, same content as %s (ingested before)", path, done.path)
            return None
    return data, sha


def read_records(path: Path, data: bytes, config: IngestConfig, counts: Counter,
                 fail: Callable[[Path, str, str, str], None]) -> tuple[str, list[Paper]] | None:
    """The reader's name and the papers of one file, bad records and papers over ``max_chars`` recorded
    through ``fail``; None (the file counted as failed) when the file cannot be read at all."""
    try:
        result = read_file(path, data, config.reader)
    except CorpusError as exc:
        counts["files_failed"] += 1
        fail(path, "", type(exc).__name__, str(exc))
        return None
    for prob in result.problems:
        counts["record_problems"] += 1
        fail(path, prob.location, prob.error, prob.reason)
    papers = []
    for p in result.papers:
        n_chars = sum(len(x.text) for x in p.passages)
        if n_chars > config.reader.max_chars:  # every reader: a PDF or record too long to split in reasonable time
            counts["record_problems"] += 1
            fail(path, p.source_path, "ReaderError", f"{p.source_path}: {n_chars:,} characters, more than the limit of "
                 f"{config.reader.max_chars:,} for one paper (ReaderConfig.max_chars); split it, or raise the limit")
        else:
            papers.append(p)
    return result.reader, papers


class IngestInputError(CorpusError):
    """The paths given to ingest hold no file that a reader supports."""


def _store_file(engine, path: Path, sha: str, reader: str, papers: list[Paper], grounder: Grounder, extractor: Extractor,  # noqa: ANN001
                config: IngestConfig, run_id: int, domain_id: int, var_ids: dict[str, int],
                attempts: int = 3) -> tuple[Counter, list[ReadPaper]] | None:
    """Extract and store one file in one transaction that begins with the file's atomic claim; None when
    another ingest holds the claim. The papers already stored (by any identity) are left out. Reading is
    done outside the transaction so that the database is locked only to write; a UNIQUE conflict on a
    paper or hypothesis written by a concurrent ingest meanwhile (PostgreSQL: two writers at once) reruns
    the transaction, which then sees those rows."""
    with session_scope(engine) as s:
        fresh = new_papers(papers, session=s)
    read = {rp.paper.sha256: rp for rp in _read_papers([p for p, _ in fresh], grounder, extractor, config, path)}  # with progress
    for attempt in range(attempts):
        try:
            with session_scope(engine) as s:  # the file's transaction: all of it or nothing
                src = crud.claim_source_file(sha, str(path), reader, session=s, run_id=run_id)
                if src is None:
                    return None
                still = new_papers([p for p, _ in fresh], session=s)  # under the claim: what is still new
                added: Counter = Counter(papers_duplicate=len(papers) - len(still))
                for paper, ident in still:
                    rp = read[paper.sha256]
                    res = save_paper(rp.paper, rp.claims, paper_hypotheses(rp.claims), session=s,
                                     domain_id=domain_id, var_ids=var_ids, source_file_id=src.id)  # fmt: skip
                    crud.set_paper_content_key(res.paper_id, ident.content_key, session=s)
                    added["papers"] += 1
                    added["claims"] += res.claims
                    added["hypotheses_new"] += res.hypotheses_new
                    added["hypotheses_merged"] += res.hypotheses_merged
                    added["rejected_mentions"] += crud.record_rejections(run_id, rp.rejected, session=s)
                    for loc, err, reason in rp.errors:
                        added["extraction_errors"] += 1
                        crud.record_failure(run_id, str(path), err, reason, session=s, location=loc)
                src.n_papers = added["papers"]
            return added, [read[p.sha256] for p, _ in still]
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            log.info("%s: a concurrent ingest stored some of its rows first; storing the file again", path)
    return None


def _alive(pid: int) -> bool:
    """Whether a process of this host with this id exists (a zombie or another user's process counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _as_list(paths: Iterable[str | Path] | str | Path) -> list[str | Path]:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


__all__ = ["IngestConfig", "IngestInputError", "IngestSummary", "begin_run", "expand_paths", "files_to_ingest", "ingest",
           "prepare_domain", "process_paper", "read_records"]
