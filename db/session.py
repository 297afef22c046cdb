"""Engines, sessions and schema migrations.

``make_engine(url)`` builds an engine for any SQLAlchemy URL (``sqlite://`` for a test's in-memory
database, a file path's ``sqlite:///...``, ``postgresql+psycopg://...``); ``init_db(url)`` upgrades the
schema to the newest Alembic revision; ``open_db(url, must_exist=...)`` does the same behind a check that
the URL names a usable database, and says what is wrong when it does not (:class:`DatabaseOpenError`: a
folder, a file that is not SQLite, an unreachable server, a malformed URL, or, for commands that only read,
a database that does not exist yet); ``session_scope(url)`` is a transaction: committed when the block
ends, rolled back when it raises.

Engines are cached per URL so that an in-memory SQLite database lives as long as the process and every
session of it sees the same data.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL_ENV = "THEORYCOV_DB_URL"
_ENGINES: dict[str, Engine] = {}
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
CONNECT_TIMEOUT_S = 10  # an unreachable server fails in seconds, not after the TCP timeout (minutes)

__all__ = ["DatabaseOpenError", "alembic_config", "default_url", "dispose_engine", "get_engine", "init_db", "make_engine",
           "normalize_url", "open_db", "session_scope"]


class DatabaseOpenError(RuntimeError):
    """The URL names no usable database; the message says which part is wrong and what to do."""


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
        # timeout: a writer waits up to 30 s for another process's write transaction (two ingests at once)
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
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
    kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}} if s.startswith("postgresql") else {}
    return create_engine(s, pool_pre_ping=True, **kwargs)


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


def open_db(url: str | os.PathLike[str] | None = None, *, must_exist: bool = False) -> Engine:
    """The engine of ``url`` with its schema at the newest revision, after checking that the URL names a
    usable database. ``must_exist``: refuse a database that does not exist yet (or holds no theorycov
    tables) instead of creating it, so that a mistyped path given to a command that only reads is an
    error, not a new empty database. Raises DatabaseOpenError with the reason."""
    s = normalize_url(url if url is not None else default_url())
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(s)
    except SQLAlchemyError as err:
        raise DatabaseOpenError(f"{s!r} is not a database URL ({err}); give a SQLite file path or a URL like "
                                "sqlite:///theorycov.db or postgresql+psycopg://user@host/dbname") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _check_sqlite_file(Path(parsed.database), must_exist=must_exist)
    try:
        engine = get_engine(s)
        if must_exist and "alembic_version" not in inspect(engine).get_table_names():
            dispose_engine(s)
            raise DatabaseOpenError(f"{shown} holds no theorycov database (no tables); check the URL, or create one "
                                    "with `theorycov ingest` or `theorycov train`")
        return init_db(engine)
    except (SQLAlchemyError, ImportError) as err:
        dispose_engine(s)
        first = str(getattr(err, "orig", None) or err).strip().splitlines()
        raise DatabaseOpenError(f"cannot open the database {shown}: {first[0] if first else type(err).__name__}") from None


def _check_sqlite_file(path: Path, *, must_exist: bool) -> None:
    """The reasons a SQLite path cannot be a database, each with its own message."""
    if path.is_dir():
        raise DatabaseOpenError(f"{path} is a folder, not a database file; give the path of a .db file")
    if not path.exists():
        if must_exist:
            raise DatabaseOpenError(f"there is no database at {path} (this command only reads and does not create one); "
                                    "check the --db path, or create the database with `theorycov ingest` or `theorycov train`")
        if not path.parent.is_dir():
            raise DatabaseOpenError(f"cannot create the database {path}: the folder {path.parent} does not exist")
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise DatabaseOpenError(f"cannot read the database file {path}: {err.strerror}") from None
    if head and head != SQLITE_MAGIC:  # an empty file is a valid empty SQLite database
        raise DatabaseOpenError(f"{path} is not a SQLite database (it does not start with the SQLite header); "
                                "check the --db path")


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
