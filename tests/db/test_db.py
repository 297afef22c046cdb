"""Schema, migrations and data-access functions on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from theorycov.db import crud, get_engine, init_db, models, session_scope


def test_init_db_is_idempotent_and_matches_models(db_url: str) -> None:
    init_db(db_url)
    init_db(db_url)  # a second upgrade is a no-op
    engine = get_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == [], f"migrations and models disagree: {diff}"


def test_in_memory_sqlite_keeps_data_across_sessions() -> None:
    init_db("sqlite://")
    with session_scope("sqlite://") as s:
        crud.upsert_domain("mem", [("A", ["a"], None)], session=s)
    with session_scope("sqlite://") as s:
        assert crud.get_domain("mem", session=s) is not None


def test_domain_upsert_updates_aliases_and_keeps_variables(db_url: str) -> None:
    init_db(db_url)
    with session_scope(db_url) as s:
        d = crud.upsert_domain("toy", [("A", ["a1"], "u"), ("B", [], None)], session=s, content_hash="h1")
        ids = crud.variable_ids(d.id, session=s)
    with session_scope(db_url) as s:
        d = crud.upsert_domain("toy", [("A", ["a1", "a2"], "u")], session=s, content_hash="h2")
        assert crud.variable_ids(d.id, session=s) == ids  # B is kept: claims may point at it
        a = s.scalar(select(models.Variable).where(models.Variable.name == "A"))
        assert a.aliases == ["a1", "a2"]


def test_session_scope_rolls_back_on_error(db_url: str) -> None:
    init_db(db_url)
    with pytest.raises(RuntimeError):
        with session_scope(db_url) as s:
            crud.upsert_domain("gone", [("A", [], None)], session=s)
            raise RuntimeError("boom")
    with session_scope(db_url) as s:
        assert crud.get_domain("gone", session=s) is None


def test_unique_paper_hash_is_enforced(db_url: str) -> None:
    init_db(db_url)
    with session_scope(db_url) as s:
        s.add(models.Paper(sha256="x" * 64, title="t", source_path="a"))
    with pytest.raises(IntegrityError):
        with session_scope(db_url) as s:
            s.add(models.Paper(sha256="x" * 64, title="t", source_path="b"))


def test_hypothesis_get_or_create_merges_and_links_evidence(db_url: str) -> None:
    init_db(db_url)
    with session_scope(db_url) as s:
        d = crud.upsert_domain("toy", [("A", [], None), ("B", [], None)], session=s)
        p1 = models.Paper(sha256="1" * 64, title="one", source_path="1")
        p2 = models.Paper(sha256="2" * 64, title="two", source_path="2")
        s.add_all([p1, p2])
        s.flush()
        cons = [{"cause": "A", "effect": "B", "path": False, "forbidden": False, "sign": 1}]
        h1, new1 = crud.get_or_create_hypothesis(d.id, "abc", cons, "A activates B", session=s)
        h2, new2 = crud.get_or_create_hypothesis(d.id, "abc", cons, "A activates B", session=s, conflicts=["note"])
        assert (new1, new2) == (True, False) and h1.id == h2.id and h2.conflicts == ["note"]
        crud.add_hypothesis_evidence(h1.id, p1.id, None, session=s)
        crud.add_hypothesis_evidence(h1.id, p2.id, None, session=s)
        crud.add_hypothesis_evidence(h1.id, p2.id, None, session=s)  # idempotent
        s.flush()
        assert [p.title for p in crud.hypothesis_papers(h1.id, session=s)] == ["one", "two"]
        assert crud.add_index_item(h1.id, "rendering", "A activates B", "t1", session=s) is not None
        s.flush()
        assert crud.add_index_item(h1.id, "rendering", "A activates B", "t1", session=s) is None
        assert len(crud.pending_index_items(session=s)) == 1


def test_ingest_run_records_failures_and_rejections(db_url: str) -> None:
    init_db(db_url)
    with session_scope(db_url) as s:
        run = crud.start_ingest_run(session=s, domain_id=None, extractor="rules", extractor_version="1")
        crud.record_failure(run.id, "a.pdf", "ReaderError", "encrypted", session=s)
        n = crud.record_rejections(run.id, [dict(text="STAT3", sentence="s", reason="no alias")], session=s)
        crud.finish_ingest_run(run.id, {"papers": 0}, 1.5, session=s)
        assert n == 1
    with session_scope(db_url) as s:
        run = s.get(models.IngestRun, run.id)
        assert run.status == "finished" and run.counts == {"papers": 0}
        assert [f.reason for f in run.failed_files] == ["encrypted"]
        assert [r.text for r in run.rejected_mentions] == ["STAT3"]


def test_runs_audits_decisions_round_trip(db_url: str) -> None:
    init_db(db_url)
    with session_scope(db_url) as s:
        run = crud.add_run(session=s, config={"lr": 1e-3}, data_hash="d" * 64)
        crud.finish_run(run.id, {"jsd": 0.01}, session=s, checkpoint_path="ckpt.pt")
        audit = crud.add_audit({"covered": 3}, session=s, run_id=run.id, html_path="a.html")
        dec = crud.add_decision("block", session=s, inputs={"action": "do(PKC=high)"}, estimates={"bound": 0.4},
                                explanation={"paths": [["PKC", "Raf"]]}, run_id=run.id, model_version="m1")
        ids = (run.id, audit.id, dec.id)
    with session_scope(db_url) as s:
        run = s.get(models.Run, ids[0])
        assert run.metrics == {"jsd": 0.01} and run.status == "finished" and run.checkpoint_path == "ckpt.pt"
        assert s.get(models.Audit, ids[1]).report == {"covered": 3}
        assert s.get(models.Decision, ids[2]).explanation["paths"] == [["PKC", "Raf"]]
        with pytest.raises(ValueError, match="allow"):
            crud.add_decision("maybe", session=s, inputs={}, estimates={}, explanation={})
