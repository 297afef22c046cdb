"""Engines, sessions and schema migrations.

``make_engine(url)`` builds an engine for any SQLAlchemy URL (``sqlite://`` for a test's in-memory
database, a file path's ``sqlite:///...``, ``postgresql+psycopg://...``); ``init_db(url)`` upgrades the
schema to the newest Alembic revision; ``session_scope(url)`` is a transaction: committed when the
block ends, rolled back when it raises.

Engines are cached per URL so that an in-memory SQLite database lives as long as the process and every
session of it sees the same data.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL_ENV = "THEORYCOV_DB_URL"
_ENGINES: dict[str, Engine] = {}


def default_url() -> str:
    """$THEORYCOV_DB_URL, else a SQLite file ``theorycov.db`` in the working directory."""
    return os.environ.get(DEFAULT_URL_ENV, "sqlite:///theorycov.db")


def normalize_url(url: str | os.PathLike[str]) -> str:
    """Accept a bare file path as shorthand for a SQLite file."""
    s = str(url)
    return s if "://" in s else f"sqlite:///{Path(s).resolve()}"


def make_engine(url: str | os.PathLike[str]) -> Engine:
    """A new engine; SQLite gets foreign keys on, and in-memory SQLite one shared connection."""
    s = normalize_url(url)
    if s.startswith("sqlite"):
        in_memory = s in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict = {"connect_args": {"check_same_thread": False}}
        if in_memory:
            kwargs["poolclass"] = StaticPool  # one connection, else every session sees an empty database
        engine = create_engine(s, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 (DB-API objects)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")  # SQLite ignores ON DELETE CASCADE without it
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the ingest's writer
            cur.close()

        return engine
    return create_engine(s, pool_pre_ping=True)


def get_engine(url: str | os.PathLike[str] | Engine | None = None) -> Engine:
    """The cached engine of a URL (``None``: :func:`default_url`); an Engine passes through."""
    if isinstance(url, Engine):
        return url
    s = normalize_url(url if url is not None else default_url())
    if s not in _ENGINES:
        _ENGINES[s] = make_engine(s)
    return _ENGINES[s]


def dispose_engine(url: str | os.PathLike[str] | Engine) -> None:
    """Close and forget a cached engine (tests that drop their database call it)."""
    if isinstance(url, Engine):
        url.dispose()
        _ENGINES.pop(next((k for k, v in _ENGINES.items() if v is url), ""), None)
        return
    eng = _ENGINES.pop(normalize_url(url), None)
    if eng is not None:
        eng.dispose()


def alembic_config(engine: Engine):  # noqa: ANN201 (alembic is imported lazily)
    """An Alembic Config pointing at the shipped migrations, bound to ``engine``."""
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS.parent / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def init_db(url: str | os.PathLike[str] | Engine | None = None) -> Engine:
    """Create or upgrade the schema to the newest revision; idempotent. Returns the engine."""
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn  # env.py runs on this connection (in-memory SQLite needs it)
        command.upgrade(cfg, "head")
    log.debug("database at %s is at the head revision", engine.url.render_as_string(hide_password=True))
    return engine


@contextmanager
def session_scope(url: str | os.PathLike[str] | Engine | None = None) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back (and re-raise) on error."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
