"""Database fixtures: every db test runs on a SQLite file and, when THEORYCOV_PG_URL names a server
(.ci/run starts one), on a fresh PostgreSQL schema (the ``pg_url`` fixture of tests/conftest.py)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from theorycov.db import dispose_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A URL of an empty database: a SQLite file in tmp_path, or the PostgreSQL test database."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_url")
        return
    url = f"sqlite:///{tmp_path / 'test.db'}"
    yield url
    dispose_engine(url)
