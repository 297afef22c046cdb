"""Distributed ingest on a local Ray cluster (2 CPUs, 2 workers) with the rule extractor: the same papers,
claims and hypotheses as single-process ingest, on SQLite (the driver writes) and PostgreSQL; a worker
SIGKILLed mid-run is restarted and its papers retried; a re-run adds nothing."""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from theorycov.corpus.pipeline import IngestConfig, ingest

ray = pytest.importorskip("ray", reason="the scale extra is not installed: pip install 'theorycov[scale]'")

from theorycov.corpus.distributed import SQLITE_NOTE, ScaleConfig, ScaleError, ingest_ray, snapshot  # noqa: E402

# BioRED Train abstracts: the first four give the rule extractor claims about Sachs proteins, the others none
WITH_CLAIMS = ["19672862", "19825989", "19306381", "28098423"]
WITHOUT = ["10491763", "10661407", "10788334"]
QUIET = IngestConfig(progress=False, index=False)


@pytest.fixture(scope="module")
def cluster():  # noqa: ANN201
    """One local Ray cluster for the module (starting one costs ~5 s)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def papers(biored_train, tmp_path: Path) -> list[Path]:  # noqa: ANN001
    """Two PubTator files from BioRED Train; the second repeats one abstract of the first."""
    docs = biored_train(WITH_CLAIMS + WITHOUT)
    a = tmp_path / "papers" / "a.pubtator"
    b = tmp_path / "papers" / "b.pubtator"
    a.parent.mkdir()
    a.write_text("\n".join(docs[p] for p in WITH_CLAIMS[:2] + WITHOUT[:2]), encoding="utf-8")
    b.write_text("\n".join(docs[p] for p in WITH_CLAIMS[2:] + WITHOUT[2:] + WITH_CLAIMS[:1]), encoding="utf-8")
    return [a.parent]


@pytest.fixture()
def reference(papers: list[Path], tmp_path: Path) -> dict:
    """What single-process ingest stores from the same files."""
    url = f"sqlite:///{tmp_path / 'single.db'}"
    ingest(papers, "sachs", url, config=QUIET)
    snap = snapshot(url)
    assert len(snap["papers"]) == 7 and len(snap["claims"]) >= 10 and len(snap["hypotheses"]) >= 4
    return snap


def test_two_workers_store_what_one_process_stores(cluster, papers, reference, any_db, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.INFO, logger="theorycov.corpus.distributed")
    s = ingest_ray(papers, "sachs", any_db, scale=ScaleConfig(workers=2), config=QUIET)
    assert snapshot(any_db) == reference
    assert s.counts["papers"] == 7 and s.counts["papers_duplicate"] == 1 and s.counts["files_read"] == 2
    if any_db.startswith("sqlite"):
        assert SQLITE_NOTE in caplog.text  # said, not silently assumed
    again = ingest_ray(papers, "sachs", any_db, scale=ScaleConfig(workers=2), config=QUIET)
    assert again.counts["files_skipped"] == 2 and again.counts["papers"] == 0
    assert snapshot(any_db) == reference


def test_a_killed_worker_is_retried_and_a_rerun_adds_nothing(cluster, papers, reference, tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed: list[int] = []

    def kill_once(stored: int, pids: list[int]) -> None:
        if stored == 2 and not killed:  # papers are still queued on both workers (per_worker 2)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    s = ingest_ray(papers, "sachs", url, scale=ScaleConfig(workers=2, on_stored=kill_once), config=QUIET)
    assert killed, "the worker was never killed: the test did not test anything"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert s.counts["papers"] == 7 and not s.failures
    assert snapshot(url) == reference  # every paper once: no duplicate paper, claim or hypothesis
    again = ingest_ray(papers, "sachs", url, scale=ScaleConfig(workers=2), config=QUIET)
    assert again.counts["papers"] == 0 and snapshot(url) == reference


def test_a_run_cut_short_is_completed_by_the_next_one(cluster, papers, reference, tmp_path) -> None:  # noqa: ANN001
    """The driver dies after 3 papers (here: an exception from the hook): the next run stores the rest once."""
    url = f"sqlite:///{tmp_path / 'cut.db'}"

    def stop(stored: int, pids: list[int]) -> None:
        if stored == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_ray(papers, "sachs", url, scale=ScaleConfig(workers=2, on_stored=stop), config=QUIET)
    assert len(snapshot(url)["papers"]) == 3
    rest = ingest_ray(papers, "sachs", url, scale=ScaleConfig(workers=2), config=QUIET)
    assert rest.counts["papers"] == 4 and snapshot(url) == reference


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_a_bad_worker_count_is_refused(papers, tmp_path, workers) -> None:  # noqa: ANN001
    with pytest.raises(ScaleError, match="at least 1"):
        ingest_ray(papers, "sachs", f"sqlite:///{tmp_path / 'x.db'}", scale=ScaleConfig(workers=workers), config=QUIET)


def test_missing_ray_names_the_extra(papers, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ScaleError, match=r"theorycov\[scale\]"):
        ingest_ray(papers, "sachs", f"sqlite:///{tmp_path / 'x.db'}", config=QUIET)


def test_an_unreachable_model_server_is_named_before_the_run(papers, tmp_path) -> None:  # noqa: ANN001
    from theorycov.corpus.distributed import WorkerSpec
    from theorycov.corpus.llm import BackendError
    from theorycov.corpus.llm.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError, match="cannot reach the model server.*model-server"):
        ingest_ray(papers, "sachs", f"sqlite:///{tmp_path / 'x.db'}", spec=WorkerSpec("llm", llm_url=url), config=QUIET)
    assert not (tmp_path / "x.db").exists()  # refused before a database or run was made


def _cli(*args: str):  # noqa: ANN202
    from typer.testing import CliRunner

    from theorycov.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_command_line_ingests_with_workers(cluster, papers, reference, tmp_path) -> None:  # noqa: ANN001
    import json

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    r = _cli("ingest", str(papers[0]), "--extractor", "rules", "--workers", "2", "--db", db, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["counts"]["papers"] == 7
    assert snapshot(db) == reference


@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "workers must be a whole number from 1"),
    (["--ray-address", "auto"], "--ray-address needs --workers"),
    (["--extractor", "rules", "--llm-url", "http://127.0.0.1:9"], "--llm-url names a model server"),
    (["--llm-url", "http://127.0.0.1:9"], "cannot reach the model server at http://127.0.0.1:9"),
])
def test_the_command_line_names_what_is_wrong(papers, tmp_path, args, message) -> None:  # noqa: ANN001
    r = _cli("ingest", str(papers[0]), "--db", f"sqlite:///{tmp_path / 'bad.db'}", *args)
    assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output


def test_more_workers_than_the_cluster_has_cpus_is_refused(cluster, papers, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ScaleError, match="has 2 CPUs and each of the 3 workers needs one"):
        ingest_ray(papers, "sachs", f"sqlite:///{tmp_path / 'x.db'}", scale=ScaleConfig(workers=3), config=QUIET)
