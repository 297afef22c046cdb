"""Issue 15, run artifacts: a copied database trains into its own folder, a run folder of another database
is refused with a message that says so, checkpoints load as data, and a check refused at the boundary
stores no decision. Trains tiny runs (30 iterations over 3 variables, no theories: a few seconds each)."""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from theorycov import Project
from theorycov.cli import app
from theorycov.db import crud, dispose_engine, session_scope
from theorycov.errors import InputError, RunFolderError
from theorycov.runfolders import OWNER_FILE, Owner

DOMAIN = ('name = "toy"\n[[variables]]\nname = "Alpha"\n[[variables]]\nname = "Beta"\n'
          '[[variables]]\nname = "Gamma"\n')
runner = CliRunner()


def _data(path: Path, seed: int, slope: float) -> Path:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=200)
    b = slope * a + 0.4 * rng.normal(size=200)
    g = 1.2 * b + 0.4 * rng.normal(size=200)
    path.write_text("Alpha,Beta,Gamma\n" + "".join(f"{x:.5f},{y:.5f},{z:.5f}\n" for x, y, z in zip(a, b, g)))
    return path


def _train(project: Project, root: Path, data: Path):  # noqa: ANN202
    return project.train(str(root / "toy.toml"), data=data, iterations=30, n_samples=100, progress=False)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("owned")
    (root / "toy.toml").write_text(DOMAIN)
    url = f"sqlite:///{root / 'a.db'}"
    res = _train(Project(url), root, _data(root / "a.csv", 0, 0.9))
    return {"root": root, "url": url, "run": res}


@pytest.mark.slow
def test_a_copied_database_trains_into_its_own_folder(original: dict) -> None:
    root, url = original["root"], original["url"]
    assert original["run"].run_dir == root / "a-runs" / "run-1"  # decided from the database's own location
    dispose_engine(url)  # close it (SQLite checkpoints its WAL) before copying the file, as a user would
    shutil.copy(root / "a.db", root / "copy.db")
    copy_url = f"sqlite:///{root / 'copy.db'}"
    copy, orig = Project(copy_url), Project(url)
    assert copy.guard(1).variables == orig.guard(1).variables  # the copied run 1 is the same run: readable from both

    mine = _train(copy, root, _data(root / "copy.csv", 1, -0.9))
    theirs = _train(orig, root, _data(root / "a2.csv", 2, 0.9))
    assert mine.run_id == theirs.run_id == 2  # both databases number their next run alike
    # before: the copy followed the last stored checkpoint path and wrote the original's a-runs/run-2
    assert mine.run_dir == root / "copy-runs" / "run-2" and theirs.run_dir == root / "a-runs" / "run-2"
    for project, csv in ((copy, "copy.csv"), (orig, "a2.csv")):
        data = project.guard(2).quantiles.observational.numpy()  # each database's run 2 holds its own data
        raw = np.loadtxt(root / csv, delimiter=",", skiprows=1)
        assert np.allclose(data, (raw - raw.mean(0)) / raw.std(0), atol=1e-6)
    mine_owner, theirs_owner = Owner.read(mine.run_dir), Owner.read(theirs.run_dir)
    assert mine_owner.database_id == theirs_owner.database_id and mine_owner.run_key != theirs_owner.run_key


@pytest.mark.slow
def test_a_run_folder_of_another_database_says_so(original: dict) -> None:
    root, url = original["root"], original["url"]
    dispose_engine(url)
    shutil.copy(root / "a.db", root / "twin.db")
    twin_url = f"sqlite:///{root / 'twin.db'}"
    twin = Project(twin_url)
    res = _train(twin, root, _data(root / "twin.csv", 3, 0.5))
    # What the old code did: the copy's run row pointed into the original's folder, which holds another run.
    with session_scope(twin.engine) as s:
        crud.get_run(res.run_id, session=s).run_dir = str(original["run"].run_dir)
        crud.get_run(res.run_id, session=s).status = "finished"
    with pytest.raises(RunFolderError, match="belongs to another database") as err:
        Project(twin_url).guard(res.run_id)
    assert "one database is a copy of the other" in str(err.value) and f"holds run 1 of sqlite:///{root / 'a.db'}" in str(err.value)
    r = runner.invoke(app, ["check", "activate Alpha", "--harm", "Gamma > q90", "--run", str(res.run_id), "--db", twin_url])
    assert r.exit_code == 3 and "belongs to another database" in r.output and "Traceback" not in r.output
    with session_scope(twin.engine) as s:  # a folder without an owner file cannot be shown to be this run
        crud.get_run(res.run_id, session=s).run_dir = str(res.run_dir)
    os.remove(res.run_dir / OWNER_FILE)
    with pytest.raises(RunFolderError, match="has no owner.json"):
        Project(twin_url).guard(res.run_id)


@pytest.mark.slow
def test_a_refused_threshold_stores_no_decision(original: dict) -> None:
    project = Project(original["url"])
    with session_scope(project.engine) as s:
        before = crud.row_counts(session=s)["decisions"]
    for value in (2.0, float("nan"), -1.0, 1.0, 0.0):
        with pytest.raises(InputError, match="strictly between 0 and 1"):
            project.check("activate Alpha", "Gamma > q90", threshold=value)
        r = runner.invoke(app, ["check", "activate Alpha", "--harm", "Gamma > q90", "--threshold", str(value), "--db", original["url"]])
        assert r.exit_code == 2, r.output
    ok = runner.invoke(app, ["check", "activate Alpha", "--harm", "Gamma > q90", "--db", original["url"], "--json"])
    assert ok.exit_code in (0, 1) and json.loads(ok.output, parse_constant=lambda c: pytest.fail(c))["status"] in ("allow", "block")
    with session_scope(project.engine) as s:
        assert crud.row_counts(session=s)["decisions"] == before + 1  # only the valid check was stored


class _Exploit:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {Path(os.environ['HARDENING_MARK'])}",))


def test_a_crafted_trainer_checkpoint_runs_no_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from theorycov.gfn import Trainer

    mark = tmp_path / "pwned"
    monkeypatch.setenv("HARDENING_MARK", str(mark))
    crafted = tmp_path / "checkpoint.pt"
    crafted.write_bytes(pickle.dumps({"version": 1, "config": _Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        Trainer.load(crafted, reward=None)  # type: ignore[arg-type]
    assert not mark.exists()  # weights_only=False ran os.system here
