"""A small SQLite cache of model answers, so that re-ingesting a corpus costs no model time.

The key hashes (model id, prompt version, task, sentence text, the pair and its surface forms): a new
model file or a changed prompt gives new keys, so nothing stale is ever reused. Values are the
validated answer as JSON plus its confidence.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "THEORYCOV_CACHE_DIR"


def default_cache_path() -> Path:
    """THEORYCOV_CACHE_DIR/llm_answers.sqlite, else ~/.cache/theorycov/llm_answers.sqlite."""
    env = os.environ.get(CACHE_DIR_ENV)
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "theorycov"
    return base / "llm_answers.sqlite"


def answer_key(model_id: str, prompt_version: str, task: str, sentence: str, *parts: Any) -> str:
    """Cache key of one question; ``parts`` name the pair (or the entity list for free extraction)."""
    sentence_hash = hashlib.sha256(sentence.encode("utf-8")).hexdigest()
    raw = json.dumps([model_id, prompt_version, task, sentence_hash, list(parts)], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class AnswerCache:
    """Key -> JSON value, in SQLite (``":memory:"`` for a throwaway cache). Safe across threads."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = str(default_cache_path() if path is None else path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["AnswerCache", "answer_key", "default_cache_path"]
