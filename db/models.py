"""SQLAlchemy 2.0 table models (typed mappings) of everything theorycov stores.

Reading side: Domain, Variable, SourceFile, Paper, Passage, Claim, Hypothesis, HypothesisEvidence,
IndexItem (what the FAISS index holds), IngestRun with its RejectedMention and FailedFile rows.
Later stages (added now so that they need no schema change): Run (a training run), Audit (a coverage
audit of a run), Decision (a guard decision). DatabaseIdentity: the random id written once into each
database, which every run folder records so that a copy of the database never mistakes the original's
runs for its own.

These are table models only; the value types the pipeline passes around live in
``theorycov.corpus.types``. JSON columns use the portable ``sqlalchemy.JSON`` type (TEXT on SQLite,
JSON on PostgreSQL). Any change here needs a new Alembic revision in ``migrations/versions``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now; a function so that each row gets its own time."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every theorycov table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Domain(Base):
    """A set of variables (the columns of a user's data) and the names the literature uses for them."""

    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # SHA-256 of the domain definition
    variables: Mapped[list["Variable"]] = relationship(back_populates="domain", cascade="all, delete-orphan")


class Variable(Base):
    """One variable of a domain with its aliases (as written in the domain file)."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    unit: Mapped[str | None] = mapped_column(String(100), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[Domain] = relationship(back_populates="variables")


class SourceFile(Base):
    """A file that was ingested completely; its SHA-256 makes a second ingest of it a no-op."""

    __tablename__ = "source_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    reader: Mapped[str] = mapped_column(String(40))
    n_papers: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Paper(Base):
    """A paper: its citation, where it was read from, and the SHA-256 of its content."""

    __tablename__ = "papers"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(default=list)
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    venue: Mapped[str | None] = mapped_column(Text, default=None)
    doi: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    pmid: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    source_path: Mapped[str] = mapped_column(Text)
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id", ondelete="SET NULL"), default=None)
    # SHA-256 of the normalized text (case, spacing, punctuation and line breaks folded): a trivially different
    # copy of a paper (re-saved PDF, CRLF text, other whitespace) is the same paper
    content_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    passages: Mapped[list["Passage"]] = relationship(
        back_populates="paper", cascade="all, delete-orphan", order_by="Passage.position"
    )
    claims: Mapped[list["Claim"]] = relationship(back_populates="paper", cascade="all, delete-orphan")


class Passage(Base):
    """A piece of a paper's text with its provenance (section, char offsets, PDF page)."""

    __tablename__ = "passages"
    __table_args__ = (UniqueConstraint("paper_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # position in the paper, 0-based
    text: Mapped[str] = mapped_column(Text)
    section: Mapped[str] = mapped_column(String(40), default="body")
    start: Mapped[int] = mapped_column(Integer, default=0)  # char offset in the paper's full text
    end: Mapped[int] = mapped_column(Integer, default=0)
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    paper: Mapped[Paper] = relationship(back_populates="passages")


class Claim(Base):
    """A grounded causal claim read from one sentence, by one extractor (name and version kept)."""

    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passages.id", ondelete="SET NULL"), default=None)
    cause_id: Mapped[int] = mapped_column(ForeignKey("variables.id"), index=True)
    effect_id: Mapped[int] = mapped_column(ForeignKey("variables.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # activates | inhibits | causes | no_effect
    direct: Mapped[bool] = mapped_column(Boolean, default=False)
    negated: Mapped[bool] = mapped_column(Boolean, default=False)
    hedged: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    extractor: Mapped[str] = mapped_column(String(60))
    extractor_version: Mapped[str] = mapped_column(String(60))
    sentence: Mapped[str] = mapped_column(Text)
    sentence_start: Mapped[int] = mapped_column(Integer, default=0)  # offsets within the passage
    sentence_end: Mapped[int] = mapped_column(Integer, default=0)
    shallow_hash: Mapped[str] = mapped_column(String(16), index=True)
    deep_hash: Mapped[str] = mapped_column(String(16), unique=True)
    paper: Mapped[Paper] = relationship(back_populates="claims")
    cause: Mapped[Variable] = relationship(foreign_keys=[cause_id])
    effect: Mapped[Variable] = relationship(foreign_keys=[effect_id])


class Hypothesis(Base):
    """A canonical constraint set (a partial causal graph) over a domain's variables."""

    __tablename__ = "hypotheses"
    __table_args__ = (UniqueConstraint("domain_id", "shallow_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    shallow_hash: Mapped[str] = mapped_column(String(16))
    constraints: Mapped[list[Any]] = mapped_column()  # [{cause, effect, path, forbidden, sign}, ...]
    rendering: Mapped[str] = mapped_column(Text)
    conflicts: Mapped[list[Any]] = mapped_column(default=list)  # notes on contradictions kept apart
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    evidence: Mapped[list["HypothesisEvidence"]] = relationship(
        back_populates="hypothesis", cascade="all, delete-orphan"
    )


class HypothesisEvidence(Base):
    """Which paper (and which of its claims) supports a hypothesis."""

    __tablename__ = "hypothesis_evidence"
    __table_args__ = (UniqueConstraint("hypothesis_id", "paper_id", "claim_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hypothesis_id: Mapped[int] = mapped_column(ForeignKey("hypotheses.id", ondelete="CASCADE"), index=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), default=None)
    hypothesis: Mapped[Hypothesis] = relationship(back_populates="evidence")
    paper: Mapped[Paper] = relationship()
    claim: Mapped[Claim | None] = relationship()


class IndexItem(Base):
    """One text the FAISS index holds (a hypothesis rendering or an evidence sentence); its id is the
    FAISS id, so the index can be rebuilt from the database at any time."""

    __tablename__ = "index_items"
    __table_args__ = (UniqueConstraint("hypothesis_id", "kind", "text_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hypothesis_id: Mapped[int] = mapped_column(ForeignKey("hypotheses.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), default=None)
    kind: Mapped[str] = mapped_column(String(20))  # rendering | evidence
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(16))
    indexed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class IngestRun(Base):
    """One call of ``ingest``: counts, timings, and (in child rows) every rejection and failure."""

    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | finished | interrupted | killed
    extractor: Mapped[str] = mapped_column(String(60), default="")
    extractor_version: Mapped[str] = mapped_column(String(60), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # files, skipped, failed, papers, claims, ...
    # the process that runs it: a later run finding this one 'running' with a dead pid on the same host marks it killed
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    rejected_mentions: Mapped[list["RejectedMention"]] = relationship(cascade="all, delete-orphan")
    failed_files: Mapped[list["FailedFile"]] = relationship(cascade="all, delete-orphan")


class RejectedMention(Base):
    """A mention grounding refused to map to a variable, with the reason and the best candidate."""

    __tablename__ = "rejected_mentions"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id", ondelete="CASCADE"), index=True)
    paper_sha256: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    sentence: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    best_variable: Mapped[str | None] = mapped_column(String(200), default=None)
    best_score: Mapped[float | None] = mapped_column(Float, default=None)


class FailedFile(Base):
    """A file (or one record of it, ``location`` says which) that could not be read, and why."""

    __tablename__ = "failed_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(200), default="")  # "line 3", "entry smith2003", ...
    error: Mapped[str] = mapped_column(String(60))  # exception class name
    reason: Mapped[str] = mapped_column(Text)


class Run(Base):
    """A training run of the GFlowNet: its configuration, metrics, checkpoint and the data it saw."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(40), default="train")
    status: Mapped[str] = mapped_column(String(20), default="running")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checkpoint_path: Mapped[str | None] = mapped_column(Text, default=None)
    data_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    run_dir: Mapped[str | None] = mapped_column(Text, default=None)  # the run's folder (absolute), chosen at start
    run_key: Mapped[str | None] = mapped_column(String(32), default=None)  # random; the folder's owner.json repeats it
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Audit(Base):
    """A coverage audit of a run: the report as JSON and where its HTML page is."""

    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True, default=None)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    html_path: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Decision(Base):
    """A guard decision: what was asked, the risk estimates, the verdict and who decided it."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), default=None)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # action, harm, threshold, ...
    estimates: Mapped[dict[str, Any]] = mapped_column(default=dict)  # posterior, prop34, prop46, human bound
    decision: Mapped[str] = mapped_column(String(20))  # allow | block
    deciding_hypothesis_id: Mapped[int | None] = mapped_column(
        ForeignKey("hypotheses.id", ondelete="SET NULL"), default=None
    )
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)  # paths, signs, citations, text
    model_version: Mapped[str] = mapped_column(String(100), default="")
    data_version: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatabaseIdentity(Base):
    """The one row naming this database: a random id written by the migration that created the table."""

    __tablename__ = "database_identity"
    id: Mapped[int] = mapped_column(primary_key=True)
    database_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = [
    "Audit",
    "DatabaseIdentity",
    "Base",
    "Claim",
    "Decision",
    "Domain",
    "FailedFile",
    "Hypothesis",
    "HypothesisEvidence",
    "IndexItem",
    "IngestRun",
    "Paper",
    "Passage",
    "RejectedMention",
    "Run",
    "SourceFile",
    "Variable",
]
