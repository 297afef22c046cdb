"""Data access for the later stages: training runs, audits and guard decisions. Each function takes the
session as the keyword ``session`` and never commits (see :mod:`theorycov.db.crud`, which re-exports them)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from theorycov.db.models import Audit, Claim, DatabaseIdentity, Decision, Hypothesis, Paper, Run

__all__ = [
    "add_audit", "add_decision", "add_run", "database_id", "finish_run", "get_decision", "get_run", "latest_audit",
    "latest_checkpoint_path", "latest_finished_run", "list_decisions", "row_counts", "set_run_folder",
]  # fmt: skip


def database_id(*, session: Session) -> str:
    """This database's random id (written by migration 0002; created here if that row was deleted)."""
    found = session.scalar(select(DatabaseIdentity.database_id).order_by(DatabaseIdentity.id))
    if found is None:
        import uuid

        found = uuid.uuid4().hex
        session.add(DatabaseIdentity(database_id=found))
        session.flush()
    return str(found)


def set_run_folder(run_id: int, run_dir: str, run_key: str, *, session: Session) -> Run:
    """Record the folder a run writes into and the key its owner file repeats."""
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    run.run_dir, run.run_key = run_dir, run_key
    return run


def add_run(*, session: Session, config: dict[str, Any], domain_id: int | None = None, kind: str = "train", data_hash: str | None = None) -> Run:
    """Register a training run (its metrics and checkpoint are filled in by :func:`finish_run`)."""
    run = Run(config=config, domain_id=domain_id, kind=kind, data_hash=data_hash, metrics={})
    session.add(run)
    session.flush()
    return run


def finish_run(run_id: int, metrics: dict[str, Any], *, session: Session, checkpoint_path: str | None = None, status: str = "finished") -> Run:
    """Store a training run's metrics and checkpoint path."""
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    run.metrics, run.checkpoint_path, run.status = dict(metrics), checkpoint_path, status
    run.finished_at = datetime.now(timezone.utc)
    return run


def add_audit(report: dict[str, Any], *, session: Session, run_id: int | None = None, html_path: str | None = None) -> Audit:
    """Store a coverage audit report."""
    audit = Audit(report=report, run_id=run_id, html_path=html_path)
    session.add(audit)
    session.flush()
    return audit


def add_decision(
    decision: str,
    *,
    session: Session,
    inputs: dict[str, Any],
    estimates: dict[str, Any],
    explanation: dict[str, Any],
    deciding_hypothesis_id: int | None = None,
    run_id: int | None = None,
    model_version: str = "",
    data_version: str = "",
) -> Decision:
    """Store a guard decision with its inputs, estimates and explanation."""
    if decision not in ("allow", "block"):
        raise ValueError(f"decision must be 'allow' or 'block', got {decision!r}")
    row = Decision(
        decision=decision,
        inputs=inputs,
        estimates=estimates,
        explanation=explanation,
        deciding_hypothesis_id=deciding_hypothesis_id,
        run_id=run_id,
        model_version=model_version,
        data_version=data_version,
    )
    session.add(row)
    session.flush()
    return row


def get_run(run_id: int, *, session: Session) -> Run | None:
    return session.get(Run, run_id)


def latest_finished_run(*, session: Session) -> Run | None:
    """The newest run whose training finished."""
    return session.scalar(select(Run).where(Run.status == "finished").order_by(Run.id.desc()))


def latest_checkpoint_path(*, session: Session) -> str | None:
    """The checkpoint path of the newest finished run that stored one."""
    return session.scalar(select(Run.checkpoint_path).where(Run.status == "finished", Run.checkpoint_path.is_not(None))
                          .order_by(Run.id.desc()))  # fmt: skip


def latest_audit(*, session: Session, run_id: int | None = None) -> Audit | None:
    """The newest audit (of one run, when given)."""
    q = select(Audit).order_by(Audit.id.desc())
    return session.scalar(q if run_id is None else q.where(Audit.run_id == run_id))


def get_decision(decision_id: int, *, session: Session) -> Decision | None:
    return session.get(Decision, decision_id)


def list_decisions(*, session: Session) -> list[Decision]:
    """Every stored decision, newest first."""
    return list(session.scalars(select(Decision).order_by(Decision.id.desc())))


def row_counts(*, session: Session) -> dict[str, int]:
    """How many papers, claims, hypotheses, runs, audits and decisions the database holds."""
    models = (("papers", Paper), ("claims", Claim), ("hypotheses", Hypothesis), ("runs", Run), ("audits", Audit), ("decisions", Decision))
    return {name: int(session.scalar(select(func.count()).select_from(model)) or 0) for name, model in models}
