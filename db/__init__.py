"""theorycov.db: SQLAlchemy 2.0 models, sessions, migrations and data-access functions.

    from theorycov.db import init_db, session_scope, crud
    init_db("sqlite:///theorycov.db")
    with session_scope("sqlite:///theorycov.db") as s:
        crud.list_hypotheses(session=s)
"""
from __future__ import annotations

from . import crud, models
from .session import default_url, dispose_engine, get_engine, init_db, make_engine, normalize_url, session_scope

__all__ = [
    "crud",
    "default_url",
    "dispose_engine",
    "get_engine",
    "init_db",
    "make_engine",
    "models",
    "normalize_url",
    "session_scope",
]
