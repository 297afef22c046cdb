"""Shared test fixtures: fixed seeds, a fixed number of torch threads, no model hub."""
from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest
import torch

PG_URL = os.environ.get("THEORYCOV_PG_URL")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip with a message saying where it was looked for."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (see ../shared/data/MANIFEST.md)")
    return SHARED_DATA


def reset_pg(url: str) -> None:
    """Drop and recreate the public schema of a PostgreSQL database: a test starts from nothing."""
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture
def pg_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The PostgreSQL test database, emptied, with its FAISS index under tmp_path; skips without a server
    (.ci/run starts one and sets THEORYCOV_PG_URL)."""
    if not PG_URL:
        pytest.skip("PostgreSQL variant: set THEORYCOV_PG_URL (.ci/run starts a server and sets it)")
    from theorycov.db import dispose_engine

    dispose_engine(PG_URL)
    reset_pg(PG_URL)
    monkeypatch.setenv("THEORYCOV_INDEX_DIR", str(tmp_path / "index"))
    yield PG_URL
    dispose_engine(PG_URL)
