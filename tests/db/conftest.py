"""Database fixtures: every db test runs on in-memory SQLite and, when THEORYCOV_PG_URL names a server
(.ci/run starts one), on a fresh PostgreSQL schema."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from theorycov.db import dispose_engine

PG_URL = os.environ.get("THEORYCOV_PG_URL")


def reset_pg(url: str) -> None:
    """Drop and recreate the public schema: each test starts from an empty database."""
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A URL of an empty database: a SQLite file in tmp_path, or the PostgreSQL test database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL variant: set THEORYCOV_PG_URL (.ci/run starts a server and sets it)")
        url = PG_URL
        dispose_engine(url)
        reset_pg(url)
    yield url
    dispose_engine(url)
