"""The ingest pipeline. Ingest a folder or a list of paper files into the database: read, split, ground, extract, assemble,
store, index.

Guarantees:
- one transaction per file: a file is stored with all its papers, claims and hypotheses, or not at all;
- idempotent by content hash: a file whose bytes were ingested before is skipped, and so is a paper
  whose content hash is stored (the same paper under two file names, or in two collections);
- resumable: an interrupted ingest leaves every finished file committed (the run stays 'interrupted');
  running it again skips those files and continues;
- a file that cannot be read is recorded (path, error class, reason) and the run goes on; so is each
  bad record of a multi-record file, and every mention grounding rejected.
The extractor is pluggable: any :class:`~theorycov.corpus.types.Extractor` (the rule extractor by default).
"""
from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from theorycov.db import crud, init_db, session_scope
from theorycov.corpus.assemble import paper_hypotheses
from theorycov.corpus.domain import Domain, load_domain
from theorycov.corpus.grounding import Grounder, GroundingConfig, nearest
from theorycov.corpus.readers import ReaderConfig, read_file, sha256_bytes, supported_suffixes
from theorycov.corpus.rules import RuleExtractor
from theorycov.corpus.sentences import split_paper_passages
from theorycov.corpus.store import save_paper
from theorycov.corpus.types import Claim, CorpusError, Evidence, ExtractionError, Extractor, Mention, Paper

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


@dataclass
class ReadPaper:
    """One paper after grounding and extraction, ready to store."""

    paper: Paper
    claims: list[Claim]
    rejected: list[dict]
    errors: list[tuple[str, str, str]]  # (location, error, reason)


def process_paper(paper: Paper, grounder: Grounder, extractor: Extractor, *, extract_curated: bool = False,
                  on_sentence: Callable[[int, int], None] | None = None) -> ReadPaper:
    """Ground curated claims, split the text, ground mentions and run the extractor on sentences that
    mention at least two different variables; ``on_sentence(i, n)`` after each of the n such sentences."""
    claims: list[Claim] = []
    rejected: list[dict] = []
    errors: list[tuple[str, str, str]] = []
    names = set(grounder.domain.names)

    def reject(mention: Mention, sentence: str) -> None:
        best, score = nearest(mention)
        rejected.append(dict(paper_sha256=paper.sha256, text=mention.text[:500], sentence=sentence[:2000],
                             reason=mention.reason, best_variable=best, best_score=score))  # fmt: skip

    grounder.prefetch([n for c in paper.curated_claims for n in (c.cause, c.effect)])
    for c in paper.curated_claims:
        cause, effect = grounder.ground_name(c.cause), grounder.ground_name(c.effect)
        for mention in (cause, effect):
            if mention.variable is None:
                reject(mention, c.evidence.sentence)
        if cause.variable and effect.variable and cause.variable != effect.variable:
            claims.append(replace(c, cause=cause.variable, effect=effect.variable))
    if paper.curated_claims and not extract_curated:
        return ReadPaper(paper, claims, rejected, errors)
    sentences = split_paper_passages(paper.passages)
    annotated = list(zip(sentences, grounder.annotate([s.text for s in sentences])))
    n_read = sum(len({mm.variable for mm in ms if mm.variable}) >= 2 for _, ms in annotated)
    done = 0
    for sent, mentions in annotated:
        for mention in mentions:
            if mention.variable is None:
                reject(mention, sent.text)
        if len({mm.variable for mm in mentions if mm.variable}) < 2:
            continue
        done += 1
        if on_sentence is not None:
            on_sentence(done, n_read)
        ev = Evidence(sent.text, paper.sha256, sent.passage_index, sent.start, sent.end, paper.citation.pmid)
        try:
            got = extractor.extract(sent, mentions, evidence=ev)
        except ExtractionError as exc:
            errors.append((f"sentence at {sent.passage_index}:{sent.start}", "ExtractionError", str(exc)))
            continue
        for c in got:
            if c.cause not in names or c.effect not in names:
                errors.append((f"sentence at {sent.passage_index}:{sent.start}", "ExtractionError",
                               f"{extractor.name} returned unknown variables {c.cause!r} -> {c.effect!r}"))  # fmt: skip
            elif c.cause != c.effect:
                claims.append(c)
    return ReadPaper(paper, claims, rejected, errors)


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
    against ``domain`` (a Domain, a TOML path or a shipped name); returns the run's summary."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    dom = domain if isinstance(domain, Domain) else load_domain(domain)
    if config.lexicon:
        from theorycov.corpus.genes import expand_domain
        from theorycov.corpus.lexicon import load_lexicon

        dom, flags = expand_domain(dom, load_lexicon())
        for f in flags[:20]:
            log.info("domain %s: %s of %s left out: %s", dom.name, f.text, f.variable, f.reason)
    extractor = extractor or RuleExtractor()
    engine = init_db(db_url)
    with session_scope(engine) as s:
        drow = crud.upsert_domain(dom.name, [(v.name, v.all_aliases(), v.unit) for v in dom.variables], session=s,
                                  description=dom.description, content_hash=dom.content_hash())  # fmt: skip
        domain_id, var_ids = drow.id, crud.variable_ids(drow.id, session=s)
        run_id = crud.start_ingest_run(session=s, domain_id=domain_id, extractor=extractor.name,
                                       extractor_version=extractor.version).id  # fmt: skip
    summary = IngestSummary(run_id)
    counts = summary.counts
    grounder = Grounder(dom, config.grounding)
    files = expand_paths(paths)
    status = "interrupted"

    def fail(path: Path, location: str, error: str, reason: str) -> None:
        summary.failures.append((str(path), location, reason))
        with session_scope(engine) as s:
            crud.record_failure(run_id, str(path), error, reason, session=s, location=location)

    try:
        bar = tqdm(files, desc="ingest", unit="file", disable=not config.progress, file=sys.stderr)
        for path in bar:
            try:
                data = path.read_bytes()
            except OSError as exc:
                counts["files_failed"] += 1
                fail(path, "", "OSError", f"{path}: cannot read: {exc.strerror}")
                continue
            sha = sha256_bytes(data)
            with session_scope(engine) as s:
                done = crud.get_source_file(sha, session=s)
                if done is not None:
                    counts["files_skipped"] += 1
                    log.info("%s: skipped, same content as %s (ingested before)", path, done.path)
                    continue
            try:
                result = read_file(path, data, config.reader)
            except CorpusError as exc:
                counts["files_failed"] += 1
                fail(path, "", type(exc).__name__, str(exc))
                continue
            for prob in result.problems:
                counts["record_problems"] += 1
                fail(path, prob.location, prob.error, prob.reason)
            try:
                with session_scope(engine) as s:
                    known = crud.paper_shas([p.sha256 for p in result.papers], session=s)
                fresh = [p for p in dict((p.sha256, p) for p in result.papers).values() if p.sha256 not in known]
                counts["papers_duplicate"] += len(result.papers) - len(fresh)
                # Reading is done outside the transaction so that the database is locked only to write.
                read = _read_papers(fresh, grounder, extractor, config, path)
                with session_scope(engine) as s:  # the file's transaction: all of it or nothing
                    src = crud.add_source_file(sha, str(path), result.reader, len(fresh), session=s, run_id=run_id)
                    added: Counter = Counter()
                    for rp in read:
                        res = save_paper(rp.paper, rp.claims, paper_hypotheses(rp.claims), session=s,
                                         domain_id=domain_id, var_ids=var_ids, source_file_id=src.id)  # fmt: skip
                        added["papers"] += 1
                        added["claims"] += res.claims
                        added["hypotheses_new"] += res.hypotheses_new
                        added["hypotheses_merged"] += res.hypotheses_merged
                        added["rejected_mentions"] += crud.record_rejections(run_id, rp.rejected, session=s)
                        for loc, err, reason in rp.errors:
                            added["extraction_errors"] += 1
                            crud.record_failure(run_id, str(path), err, reason, session=s, location=loc)
                counts.update(added)  # only once the file is committed
                summary.failures.extend((str(path), loc, reason) for rp in read for loc, _, reason in rp.errors)
                counts["files_read"] += 1
            except CorpusError as exc:
                counts["files_failed"] += 1
                fail(path, "", type(exc).__name__, str(exc))
        if config.index:
            from theorycov.corpus.index import HypothesisIndex

            counts["indexed"] += HypothesisIndex(engine, index_path=config.index_path).sync()
        status = "finished"
    finally:
        summary.seconds = time.perf_counter() - t0
        with session_scope(engine) as s:
            crud.finish_ingest_run(run_id, dict(counts), summary.seconds, session=s, status=status)
    log.info("%s", summary.table())
    if config.progress:
        print(summary.table(), file=sys.stderr)
    return summary


__all__ = ["IngestConfig", "IngestSummary", "expand_paths", "ingest", "process_paper"]
