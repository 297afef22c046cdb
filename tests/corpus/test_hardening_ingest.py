"""Issue 15, ingest: one atomic claim per file (two ingests of one folder at once), the summary printed once,
a non-zero exit when nothing could be read, a killed run marked by the next one, a size guard and a linear
sentence splitter for huge passages, paper identity by normalized content, DOI and PMID, and reader
messages that say what is wrong where (BibTeX reasons, JSONL line numbers)."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from theorycov.cli import app
from theorycov.corpus import pipeline, reading, sentences
from theorycov.corpus.grounding import GroundingConfig
from theorycov.corpus.pipeline import IngestConfig, IngestInputError, ingest
from theorycov.corpus.readers import ReaderConfig, read_file
from theorycov.db import crud, dispose_engine, init_db, models, session_scope

FAST = IngestConfig(progress=False, index=False, grounding=GroundingConfig(use_embeddings=False))
ABSTRACTS = ["Raf activates Mek in T cells.", "PKC activates Raf.", "Mek phosphorylates Erk.", "PIP3 activates Akt.",
             "Plcg activates PIP2.", "PKA inhibits Raf.", "Erk activates Akt in these cells.", "P38 activates Jnk."]


def _folder(root: Path, n: int = 8) -> Path:
    """n files of one paper each (a distinct abstract per file, long enough to carry a content identity)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rec = {"id": f"p{i}", "title": f"Paper {i}", "abstract": f"{ABSTRACTS[i % len(ABSTRACTS)]} Study number {i} of the series."}
        (root / f"p{i}.jsonl").write_text(json.dumps(rec) + "\n")
    return root


def _papers(url: str) -> list[models.Paper]:
    with session_scope(url) as s:
        return list(s.scalars(select(models.Paper)))


# ---------------------------------------------------------------- one atomic claim per file
def test_a_file_stored_by_another_ingest_meanwhile_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of the issue, made deterministic: while this ingest reads its first file, a second ingest of
    the same folder stores everything. Before: IntegrityError, UNIQUE constraint failed: source_files.sha256."""
    folder = _folder(tmp_path / "papers", 3)
    url = f"sqlite:///{tmp_path / 'race.db'}"
    real = pipeline.process_paper
    raced: list[object] = []

    def reading(*a, **k):  # noqa: ANN002, ANN003, ANN202
        if not raced:
            raced.append(None)  # the nested ingest reads through the real function below
            monkeypatch.setattr(pipeline, "process_paper", real)
            raced[0] = ingest(folder, "sachs", url, config=FAST)  # the other ingest, committed first
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "process_paper", reading)
    summary = ingest(folder, "sachs", url, config=FAST)
    other = raced[0]
    assert other.counts["files_read"] == 3  # type: ignore[attr-defined]
    assert summary.counts["files_skipped"] == 3 and summary.counts["files_read"] == 0 and summary.counts["papers"] == 0
    assert len(_papers(url)) == 3


def _ingest_in_child(folder: str, url: str, out: "multiprocessing.Queue") -> None:
    try:
        s = ingest(folder, "sachs", url, config=FAST)
        out.put(("ok", dict(s.counts)))
    except Exception as err:  # noqa: BLE001 -- the parent asserts on it
        out.put(("error", f"{type(err).__name__}: {err}"))


@pytest.mark.slow
def test_two_ingests_of_one_folder_at_once(tmp_path: Path, any_db: str) -> None:
    """Two processes, one folder, one database (SQLite, and PostgreSQL where THEORYCOV_PG_URL names one)."""
    folder = _folder(tmp_path / "papers", 40)
    url = any_db
    init_db(url)
    dispose_engine(url)  # no pooled connection may cross the fork
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_ingest_in_child, args=(str(folder), url, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["ok", "ok"], results
    counts = [r[1] for r in results]
    assert sum(c.get("files_read", 0) for c in counts) == 40 and sum(c.get("files_skipped", 0) for c in counts) == 40
    assert len(_papers(url)) == 40 and sum(c.get("papers", 0) for c in counts) == 40


# ---------------------------------------------------------------- summaries and exit codes
@pytest.mark.slow  # the CLI's ingest loads the encoder and builds the index
def test_the_summary_is_printed_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path / "papers", 2)
    ingest(folder, "sachs", f"sqlite:///{tmp_path / 'lib.db'}", config=IngestConfig(progress=True, index=False,
                                                                                      grounding=GroundingConfig(use_embeddings=False)))
    assert "ingest run" not in capsys.readouterr().err  # the library prints no summary (before: stderr, then the CLI again)
    r = CliRunner().invoke(app, ["ingest", str(folder), "--extractor", "rules", "--db", str(tmp_path / "cli.db")])
    assert r.exit_code == 0, r.output
    assert r.output.count("ingest run ") == 1 and r.output.count("papers stored") == 1


def test_nothing_readable_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (bad / "empty.jsonl").write_bytes(b"")
    r = CliRunner().invoke(app, ["ingest", str(bad), "--extractor", "rules", "--db", str(tmp_path / "a.db")])
    assert r.exit_code == 2, r.output  # before: exit 0 with every file failed
    assert "nothing could be read: 2 file(s) failed" in r.output and "binary content" in r.output
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "notes.docx").write_bytes(b"x")
    r = CliRunner().invoke(app, ["ingest", str(nothing), "--extractor", "rules", "--db", str(tmp_path / "a.db")])
    assert r.exit_code == 2 and "no paper files in" in r.output and ".jsonl" in r.output
    with pytest.raises(IngestInputError):
        ingest(nothing, "sachs", f"sqlite:///{tmp_path / 'a.db'}", config=FAST)


def test_a_killed_run_is_marked_by_the_next_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    init_db(url)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer exists
    host = socket.gethostname()
    with session_scope(url) as s:
        dead = crud.start_ingest_run(session=s, domain_id=None, extractor="rules", extractor_version="1", pid=gone.pid, host=host).id
        live = crud.start_ingest_run(session=s, domain_id=None, extractor="rules", extractor_version="1", pid=os.getppid(), host=host).id
        elsewhere = crud.start_ingest_run(session=s, domain_id=None, extractor="rules", extractor_version="1", pid=gone.pid, host="other").id
    ingest(_folder(tmp_path / "papers", 1), "sachs", url, config=FAST)
    with session_scope(url) as s:
        status = {r.id: r.status for r in s.scalars(select(models.IngestRun))}
    assert status[dead] == "killed"  # before: 'running' forever
    assert status[live] == "running" and status[elsewhere] == "running"  # alive, or not checkable from here
    assert list(status.values()).count("finished") == 1


KILLED_CHILD = """
import sys, time
from theorycov.corpus import pipeline
from theorycov.corpus.grounding import GroundingConfig
real = pipeline.process_paper
def slow(*a, **k):
    print("reading", flush=True)
    time.sleep(60)
    return real(*a, **k)
pipeline.process_paper = slow
pipeline.ingest(sys.argv[1], "sachs", sys.argv[2], config=pipeline.IngestConfig(progress=False, index=False,
                grounding=GroundingConfig(use_embeddings=False)))
"""


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_marked(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "papers", 2)
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(folder), url], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "reading"
    child.send_signal(signal.SIGKILL)
    child.wait()
    with session_scope(url) as s:
        assert [r.status for r in s.scalars(select(models.IngestRun))] == ["running"]
    again = ingest(folder, "sachs", url, config=FAST)
    with session_scope(url) as s:
        assert [r.status for r in s.scalars(select(models.IngestRun).order_by(models.IngestRun.id))] == ["killed", "finished"]
    assert again.counts["files_read"] == 2


# ---------------------------------------------------------------- huge passages
def test_a_20_mb_text_without_line_breaks_is_refused_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: still running at 500 s (pysbd on one 20 MB passage), no progress, the run left 'running'."""
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "dump.txt").write_bytes((b"Raf activates Mek in T cells. " * 700_000)[:20_000_000])
    (folder / "abstracts.jsonl").write_text(json.dumps({"title": "Long", "abstract": "PKC activates Raf. " * 150_000}) + "\n")

    def never(text: str) -> list:
        raise AssertionError(f"the splitter was given {len(text):,} characters")

    monkeypatch.setattr(sentences, "split_text", never)
    monkeypatch.setattr(reading, "split_paper_passages", lambda passages: [s for p in passages for s in never(p.text)])
    url = f"sqlite:///{tmp_path / 'huge.db'}"
    summary = ingest(folder, "sachs", url, config=FAST)
    reasons = {Path(p).name: r for p, _, r in summary.failures}
    assert "20,000,000 characters, more than the limit of 2,000,000" in reasons["dump.txt"]
    assert "2,850,003 characters, more than the limit of 2,000,000" in reasons["abstracts.jsonl"]  # title + abstract
    with session_scope(url) as s:
        assert [r.status for r in s.scalars(select(models.IngestRun))] == ["finished"]


def test_the_splitter_never_gives_pysbd_more_than_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    seg = sentences._segmenter()
    sizes: list[int] = []

    class Recording:
        def segment(self, text: str):  # noqa: ANN202
            sizes.append(len(text))
            return seg.segment(text)

    monkeypatch.setattr(sentences, "_segmenter", lambda: Recording())
    text = " ".join(f"Raf activates Mek {i} times in T cells, e.g. in the lymph node." for i in range(600))  # ~38,000 chars: 20 windows
    spans = sentences.split_text(text)
    assert max(sizes) <= sentences.WINDOW and sum(sizes) == len(text)  # each character read once: linear
    assert len(spans) == 600 and all(text[a:b].startswith("Raf activates Mek") for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    short = "Raf activates Mek. PKC activates Raf, e.g. in Fig. 2. Erk follows."
    sizes.clear()
    assert sentences.split_text(short) == [(0, 18), (19, 53), (54, 66)] and sizes == [len(short)]  # one window: pysbd as before


# ---------------------------------------------------------------- paper identity
def test_a_trivially_different_copy_counts_once(tmp_path: Path) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    body = "Raf activates Mek in T cells.\n\nMek phosphorylates Erk after stimulation, and PKC activates Raf.\n"
    (folder / "a.txt").write_text(body)
    (folder / "b.txt").write_bytes(body.replace("\n", "\r\n").replace("T cells", "T  cells").encode())  # other bytes
    (folder / "c.md").write_text(body.upper().replace("RAF ACTIVATES", "Raf acti-\nvates"))  # case, hyphenation
    url = f"sqlite:///{tmp_path / 'id.db'}"
    s = ingest(folder, "sachs", url, config=FAST)
    assert s.counts["papers"] == 1 and s.counts["papers_duplicate"] == 2  # before: 3 papers, every claim counted 3 times
    assert len(_papers(url)) == 1 and _papers(url)[0].content_key


def test_the_same_doi_or_pmid_is_the_same_paper(tmp_path: Path) -> None:
    folder = tmp_path / "ids"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"title": "One", "abstract": "Raf activates Mek in T cells, said the first study.", "doi": "10.1000/ABC"},
        {"title": "Two", "abstract": "PKC activates Raf in T cells, said the second study.", "pmid": "123"},
        {"title": "Three", "abstract": "Mek phosphorylates Erk in T cells, said the third study."},
    ]) + "\n")
    (folder / "b.bib").write_text(
        "@article{x, title={One, preprint}, doi={https://doi.org/10.1000/abc}, abstract={An earlier version: Raf activates Mek.}}\n"
        "@article{y, title={Two again}, pmid={123}, abstract={The same paper as two, other text: PKC activates Raf.}}\n"
        "@article{z, title={Four}, doi={10.1000/other}, abstract={Plcg activates PIP2 in every cell we looked at.}}\n")
    url = f"sqlite:///{tmp_path / 'doi.db'}"
    s = ingest(folder, "sachs", url, config=FAST)
    assert s.counts["papers"] == 4 and s.counts["papers_duplicate"] == 2
    assert sorted(p.title for p in _papers(url)) == ["Four", "One", "Three", "Two"]


# ---------------------------------------------------------------- reader messages
def test_bibtex_syntax_errors_say_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text("@article{a,\n title={x},\n abstract = {unbalanced\n}\n@misc{c title={z}}\n")
    res = read_file(path)
    reasons = [p.reason for p in res.problems]
    assert len(reasons) == 2 and all(not r.endswith("syntax error: ") for r in reasons)  # before: the reason was empty
    assert "Unexpected block start" in reasons[0] and "line 1" in reasons[0]
    assert "Expected comma after entry key" in reasons[1] and "line 5" in reasons[1]


def test_jsonl_line_numbers_ignore_unicode_line_separators(tmp_path: Path) -> None:
    path = tmp_path / "refs.jsonl"
    first = json.dumps({"title": "Sep", "abstract": "Raf activates Mek.\u2028PKC activates Raf."}, ensure_ascii=False)
    path.write_text(first + "\n{broken\n")
    res = read_file(path)
    assert len(res.papers) == 1 and "\u2028" in res.papers[0].passages[1].text
    assert [p.location for p in res.problems] == ["line 2"]  # before: line 1 split in two, the bad line called line 4


def test_reader_size_guard_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("Raf activates Mek. " * 100)
    with pytest.raises(Exception, match="1,900 characters, more than the limit of 1,000"):
        read_file(path, cfg=ReaderConfig(max_chars=1_000))
    assert len(read_file(path).papers) == 1


def test_a_file_that_is_not_utf8_says_where_and_what_it_likely_is(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Raf activates Mek.\nAkt inhibe Raf dans les cellules été.".encode("latin-1"))
    with pytest.raises(Exception) as err:
        read_file(path)
    msg = str(err.value)
    assert "not UTF-8 (byte 0xe9 at line 2, byte 34 of the line" in msg and "it reads as Windows-1252" in msg
    assert "cellules été" in msg and "ReaderConfig(encoding='cp1252')" in msg  # before: "the encoding is unknown"
    assert read_file(path, cfg=ReaderConfig(encoding="cp1252")).papers[0].passages[0].text.endswith("été.")
