"""Run folders, owned by the database that made them.

A database carries a random id (``database_identity``, written once by its first migration); each training
run gets a random key. When a run starts, its folder is chosen and recorded in the Run row (``run_dir``,
``run_key``), and the folder receives ``owner.json`` with the database id, the run id and the key. A run is
read only from the folder its row names, and only when that folder's owner file repeats the row's key.

Why a key per run and not only the database id: a copied database file carries the original's id and its
rows. Both then number their next run alike (run 2 in each), and before this module the copy, following the
last stored checkpoint path, trained into the original's ``run-2`` folder; the two shared and overwrote
one posterior. Now each database trains into a folder decided from its own location (``<file stem>-runs``
beside a SQLite file), a folder already holding another run is never reused, and a row whose folder holds
a different run says so (:class:`RunFolderError`) instead of loading it.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from theorycov.errors import RunFolderError

__all__ = ["OWNER_FILE", "Owner", "default_workdir", "run_folder", "start_run_folder"]

OWNER_FILE = "owner.json"


@dataclass(frozen=True)
class Owner:
    """What a run folder's owner.json says: which database's which run wrote it."""

    database_id: str
    run_id: int
    run_key: str
    database: str = ""  # the database's URL when the run started (password hidden): for messages only

    @classmethod
    def read(cls, folder: Path) -> "Owner | None":
        path = folder / OWNER_FILE
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(d["database_id"]), int(d["run_id"]), str(d["run_key"]), str(d.get("database", "")))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise RunFolderError(f"{path} is not a readable owner file ({type(err).__name__}: {err})") from err

    def write(self, folder: Path) -> None:
        (folder / OWNER_FILE).write_text(json.dumps(self.__dict__, indent=1), encoding="utf-8")


def default_workdir(engine: Engine) -> Path:
    """Where a database's runs go unless told otherwise, decided from the database's own location (never from
    paths stored in it, which a copy shares with its original): ``<stem>-runs`` beside a SQLite file
    (``theorycov.db`` -> ``theorycov-runs``), else ``./theorycov-runs``."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db_file = Path(url.database).resolve()
        return db_file.parent / f"{db_file.stem}-runs"
    return Path.cwd() / "theorycov-runs"


def start_run_folder(engine: Engine, run_id: int, workdir: Path) -> Path:
    """Choose, create and claim the folder of a new run; record it in the run's row. ``run-<id>`` under
    ``workdir``, unless that folder already holds files (another database's run with the same id: a copy
    of this database, or the original), then ``run-<id>-<key prefix>``: a folder is never shared."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    key = secrets.token_hex(16)
    folder = (workdir / f"run-{run_id}").resolve()  # absolute: stored paths must work from any folder
    if folder.exists() and any(folder.iterdir()):
        folder = folder.with_name(f"run-{run_id}-{key[:8]}")
    folder.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as s:
        Owner(crud.database_id(session=s), run_id, key, _shown(engine)).write(folder)
        crud.set_run_folder(run_id, str(folder), key, session=s)
    return folder


def run_folder(engine: Engine, run_id: int, workdir: Path | None = None) -> Path:
    """The folder of a stored run, after checking that it is this database's run.

    The row's folder when it exists, else a folder of the same name under ``workdir`` (a database moved
    together with its runs). Runs stored before folders had owners (no key in the row) are found through
    their checkpoint path, unchecked. Raises RunFolderError when the folder is missing or its owner file
    names another run."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    with session_scope(engine) as s:
        row = crud.get_run(run_id, session=s)
        if row is None:
            raise RunFolderError(f"there is no run {run_id} in this database")
        stored = row.run_dir or (str(Path(row.checkpoint_path).parent) if row.checkpoint_path else None)
        key, db_id = row.run_key, crud.database_id(session=s)
    candidates = [Path(stored)] if stored else []
    if workdir is not None:
        candidates.append(Path(workdir) / (Path(stored).name if stored else f"run-{run_id}"))
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        where = " or ".join(str(c) for c in candidates) or "(no folder recorded)"
        raise RunFolderError(f"the folder of run {run_id} is missing: {where}; retrain with `theorycov train`")
    if key is None:
        return folder  # a run stored before run folders had owners: nothing to check against
    owner = Owner.read(folder)
    if owner is None:
        raise RunFolderError(f"{folder} has no {OWNER_FILE}, so it cannot be shown to be run {run_id} of this database; "
                             "retrain with `theorycov train`")
    if owner.run_key != key:
        lineage = (" (the same database id: one database is a copy of the other)" if owner.database_id == db_id
                   else f" (database id {owner.database_id}, this database is {db_id})")
        raise RunFolderError(
            f"the run folder {folder} belongs to another database: it holds run {owner.run_id} of "
            f"{owner.database or 'another database'}{lineage}, not run {run_id} of {_shown(engine)}; "
            "it was not loaded. Retrain with `theorycov train` (a new run gets its own folder)")
    return folder


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
