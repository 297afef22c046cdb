"""theorycov.db: SQLAlchemy 2.0 models, sessions, migrations, data-access functions, and the theory
vocabulary every stage shares (``theorycov.db.schemas``).

    from theorycov.db import init_db, session_scope, crud
    init_db("sqlite:///theorycov.db")
    with session_scope("sqlite:///theorycov.db") as s:
        crud.list_hypotheses(session=s)

Names load on first use: corpus and coverage import ``theorycov.db.schemas`` without paying for SQLAlchemy.
"""
from __future__ import annotations

from theorycov.lazy import lazy_attributes

_LAZY = {
    "crud": None, "models": None, "schemas": None,
    "default_url": "session", "dispose_engine": "session", "get_engine": "session", "init_db": "session",
    "make_engine": "session", "normalize_url": "session", "session_scope": "session", "open_db": "session",
    "DatabaseOpenError": "session",
}  # fmt: skip


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = sorted(_LAZY)
