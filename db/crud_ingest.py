"""Data access for ingest bookkeeping: source files (claimed atomically, one per content hash) and ingest runs
with their failures and rejected mentions. Each function takes the session as the keyword ``session`` and
never commits (see :mod:`theorycov.db.crud`, which re-exports them)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from theorycov.db.models import FailedFile, IngestRun, Paper, RejectedMention, SourceFile

__all__ = [
    "get_source_file",
    "add_source_file",
    "claim_source_file",
    "attach_papers",
    "start_ingest_run",
    "mark_killed_ingest_runs",
    "finish_ingest_run",
    "record_failure",
    "record_rejections",
]


def get_source_file(sha256: str, *, session: Session) -> SourceFile | None:
    """The completely ingested file with this content hash, or None."""
    return session.scalar(select(SourceFile).where(SourceFile.sha256 == sha256))


def add_source_file(sha256: str, path: str, reader: str, n_papers: int, *, session: Session, run_id: int | None = None) -> SourceFile:
    """Record a file as completely ingested (call it inside the file's transaction)."""
    row = SourceFile(sha256=sha256, path=path, reader=reader, n_papers=n_papers, run_id=run_id)
    session.add(row)
    session.flush()
    return row


def claim_source_file(sha256: str, path: str, reader: str, *, session: Session, run_id: int | None = None) -> SourceFile | None:
    """Claim a file for this transaction, atomically: insert its row, or None when another ingest has
    stored (or, still uncommitted, is storing) the same content. Insert-or-skip, never check-then-insert:
    two ingests of one folder at once both read a file, and the second one's claim waits for the first
    transaction and then finds the row, instead of failing on the UNIQUE constraint of the hash."""
    values = dict(sha256=sha256, path=path, reader=reader, n_papers=0, run_id=run_id, created_at=datetime.now(timezone.utc))
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        make = sqlite_insert if dialect == "sqlite" else pg_insert
        stmt = make(SourceFile).values(**values).on_conflict_do_nothing(index_elements=["sha256"]).returning(SourceFile.id)
        new_id = session.scalar(stmt)
    else:  # other backends: the same through a savepoint
        try:
            with session.begin_nested():
                new_id = session.scalar(insert(SourceFile).values(**values).returning(SourceFile.id))
        except IntegrityError:
            new_id = None
    return None if new_id is None else session.get(SourceFile, new_id)


def attach_papers(source_file_id: int, shas: Iterable[str], *, session: Session) -> int:
    """Point the stored papers with these content hashes and no file yet at their source file (distributed
    ingest stores each paper in its own transaction and records the file once all its papers are in)."""
    vals, n = list(shas), 0
    for i in range(0, len(vals), 500):
        res = session.execute(update(Paper).where(Paper.sha256.in_(vals[i : i + 500]), Paper.source_file_id.is_(None))
                              .values(source_file_id=source_file_id))
        n += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return n


def start_ingest_run(*, session: Session, domain_id: int | None, extractor: str, extractor_version: str,
                     pid: int | None = None, host: str | None = None) -> IngestRun:
    """A new run in state 'running' (it stays so if the process dies, until :func:`mark_killed_ingest_runs`
    of the next run finds its process gone; the next run resumes the files either way)."""
    run = IngestRun(domain_id=domain_id, extractor=extractor, extractor_version=extractor_version, counts={}, pid=pid, host=host)
    session.add(run)
    session.flush()
    return run


def mark_killed_ingest_runs(*, session: Session, host: str, alive: Callable[[int], bool]) -> list[int]:
    """Mark 'killed' every run still 'running' on ``host`` whose process is gone (``alive(pid)`` false):
    its process died without recording an end. Runs of other hosts cannot be checked and stay as they are."""
    killed = []
    for run in session.scalars(select(IngestRun).where(IngestRun.status == "running", IngestRun.host == host, IngestRun.pid.is_not(None))):
        if not alive(int(run.pid)):  # type: ignore[arg-type]
            run.status, run.finished_at = "killed", datetime.now(timezone.utc)
            killed.append(run.id)
    return killed


def finish_ingest_run(run_id: int, counts: dict[str, Any], seconds: float, *, session: Session, status: str = "finished") -> IngestRun:
    """Record a run's counts, wall time and final status."""
    run = session.get(IngestRun, run_id)
    if run is None:
        raise LookupError(f"ingest run {run_id} does not exist")
    run.counts, run.seconds, run.status = dict(counts), seconds, status
    run.finished_at = datetime.now(timezone.utc)
    return run


def record_failure(run_id: int, path: str, error: str, reason: str, *, session: Session, location: str = "") -> FailedFile:
    """A file or record that could not be read, and why."""
    row = FailedFile(run_id=run_id, path=path, location=location, error=error, reason=reason)
    session.add(row)
    return row


def record_rejections(run_id: int, rows: Iterable[dict[str, Any]], *, session: Session) -> int:
    """Store rejected mentions (dicts with text, sentence, reason, paper_sha256, best_variable, best_score)."""
    n = 0
    for r in rows:
        session.add(RejectedMention(run_id=run_id, **r))
        n += 1
    return n
