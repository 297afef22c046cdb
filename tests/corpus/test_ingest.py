"""The ingest pipeline end to end: a mixed folder, bad files, idempotence, resume, search, plug-ins."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from theorycov.corpus import pipeline
from theorycov.corpus.index import HypothesisIndex, index_path_for
from theorycov.corpus.pipeline import IngestConfig, ingest
from theorycov.corpus.rules import RuleExtractor
from theorycov.corpus.store import load_hypotheses
from theorycov.corpus.types import Claim, Evidence, Extractor, Mention, Relation, Sentence
from theorycov.db import crud, models, session_scope

QUIET = IngestConfig(progress=False)
BEL = '''SET Citation = {"PubMed","J Biol","111","2001-01-01","Smith J|Doe A",""}
SET Evidence = "PKC activates Raf in T cells."
kin(p(HGNC:PRKCA)) increases kin(p(HGNC:RAF1))
SET Evidence = "Raf phosphorylates MEK1 and STAT3 binds DNA."
kin(p(HGNC:RAF1)) directlyIncreases kin(p(HGNC:MAP2K1))
p(HGNC:STAT3) increases r(HGNC:FOS)
'''


def make_folder(root: Path, pdf) -> Path:  # noqa: ANN001
    """A folder mixing every format with every bad input of issue 3."""
    root.mkdir()
    pdf(root / "paper.pdf", ["Raf activates Mek in T cells.", "The MEK inhibitor blocked ERK activation."], title="Raf paper")
    pdf(root / "locked.pdf", ["PKA inhibits Raf."], password="secret")
    (root / "empty.pdf").write_bytes(b"")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\n%garbage\x00\x01 not a pdf body")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (root / "latin.txt").write_bytes("Akt inhibe Raf dans les cellules été.".encode("latin-1"))
    (root / "note.md").write_text("# Lipids\n\nPLCγ hydrolyses PIP2, and PIP3 recruits Akt.\n")
    (root / "copy-of-note.md").write_text("# Lipids\n\nPLCγ hydrolyses PIP2, and PIP3 recruits Akt.\n")  # same paper, new name
    recs = [{"id": "j1", "title": "PKA and Raf", "abstract": "PKA inhibits Raf. STAT3 was not measured.", "year": 2001},
            {"id": "j2", "title": "PKC and Raf", "abstract": "PKC activates Raf.", "year": 2002}]  # fmt: skip
    (root / "papers.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n{oops\n")
    (root / "refs.bib").write_text("@article{noabs, title={Only a title}, year={2001}}\n")
    (root / "curated.bel").write_text(BEL)
    return root


def rows(url: str, model: type) -> list:
    with session_scope(url) as s:
        return list(s.scalars(select(model)))


@pytest.mark.slow
def test_mixed_folder_into_sqlite_then_search(tmp_path: Path, pdf, encoder) -> None:  # noqa: ANN001
    folder = make_folder(tmp_path / "papers", pdf)
    url = f"sqlite:///{tmp_path / 'tc.db'}"
    s1 = ingest(folder, "sachs", url, config=QUIET)
    c = s1.counts
    assert c["files_read"] == 5 and c["files_skipped"] == 1  # pdf, md, jsonl, bib (no papers), bel; the copy skipped
    assert c["files_failed"] == 5  # locked, empty, corrupt, binary, latin-1
    assert c["record_problems"] == 2  # the JSONL line that is not JSON, the BibTeX entry without abstract
    reasons = {Path(p).name: r for p, _, r in s1.failures}
    assert "needs a password" in reasons["locked.pdf"] and "empty" in reasons["empty.pdf"]
    assert "corrupt PDF" in reasons["corrupt.pdf"] and "binary content" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin.txt"] and "has no abstract" in reasons["refs.bib"]
    assert "not JSON" in reasons["papers.jsonl"]
    failed = rows(url, models.FailedFile)
    assert len(failed) == 7 and all(f.reason for f in failed)
    rejected = {r.text: r.reason for r in rows(url, models.RejectedMention)}
    assert "STAT3" in rejected and "FOS" in rejected  # a mention, and a curated entity, that match no variable
    with session_scope(url) as s:
        hyps = {t.render(): list(t.citations) for t in load_hypotheses(session=s, domain="sachs")}
        claims = list(s.scalars(select(models.Claim)))
    assert {cl.extractor for cl in claims} == {"rules", "bel-curated"}
    # the PDF's two pages make one hypothesis; rule claims are paths ("directly or indirectly")
    assert "Mek activates Erk (directly or indirectly); Raf activates Mek (directly or indirectly)" in hyps
    assert "PIP3 activates Akt (directly or indirectly); Plcg inhibits PIP2 (directly or indirectly)" in hyps
    # the BEL paper: curated edges, grounded from HGNC symbols
    assert "PKC activates Raf (directly or indirectly); Raf activates Mek" in hyps
    pkc = "PKC activates Raf (directly or indirectly)"
    assert [c.short() for c in hyps[pkc]] == ["PKC and Raf 2002"]  # the JSONL paper that says exactly this
    assert index_path_for(url).exists()
    hits = HypothesisIndex(url).search("which kinase inhibits Raf?", k=3)
    assert hits and hits[0].rendering.startswith("PKA inhibits Raf") and hits[0].citations[0].title == "PKA and Raf"
    assert all(-1.0 <= h.score <= 1.0001 for h in hits)

    s2 = ingest(folder, "sachs", url, config=QUIET)  # idempotent: nothing new
    assert s2.counts["files_skipped"] == 6 and s2.counts["papers"] == 0 and s2.counts["claims"] == 0
    n_papers = len(rows(url, models.Paper))
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    shutil.copy(folder / "papers.jsonl", renamed / "same-collection.jsonl")
    s3 = ingest(renamed, "sachs", url, config=QUIET)  # same file bytes under another name
    assert s3.counts["files_skipped"] == 1 and len(rows(url, models.Paper)) == n_papers


def test_same_paper_in_two_collections_is_stored_once(tmp_path: Path) -> None:
    rec = {"id": "x", "title": "PKC and Raf", "abstract": "PKC activates Raf in T cells."}
    (tmp_path / "a.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({**rec, "id": "other-id"}) + "\n" + json.dumps({"title": "t", "text": "Raf activates Mek."}) + "\n")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    cfg = IngestConfig(progress=False, index=False, grounding=pipeline.GroundingConfig(use_embeddings=False))
    s = ingest([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], "sachs", url, config=cfg)
    assert s.counts["papers"] == 2 and s.counts["papers_duplicate"] == 1
    with session_scope(url) as ses:
        (h,) = [h for h in crud.list_hypotheses(session=ses) if h.rendering.startswith("PKC activates Raf")]
        assert len(crud.hypothesis_papers(h.id, session=ses)) == 1


class Interrupting(Extractor):
    """Stands in for Ctrl-C in the middle of the second file."""

    name, version = "interrupting", "0"

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        names = [m.variable for m in mentions if m.variable]
        return [Claim(names[0], names[1], Relation.ACTIVATES, extractor=self.name, evidence=evidence)]


def test_interrupted_ingest_resumes_without_half_written_files(tmp_path: Path) -> None:
    for i, text in enumerate(["Raf activates Mek in cells.", "PKC activates Raf in cells.", "Mek activates Erk in cells."]):
        (tmp_path / f"{i}.txt").write_text(f"Paper {i}\n\n{text}\n")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    cfg = IngestConfig(progress=False, index=False, grounding=pipeline.GroundingConfig(use_embeddings=False))
    with pytest.raises(KeyboardInterrupt):
        ingest(sorted(tmp_path.glob("*.txt")), "sachs", url, extractor=Interrupting(), config=cfg)
    assert [p.title for p in rows(url, models.Paper)] == ["Paper 0"]  # file 1 rolled back entirely
    assert [r.status for r in rows(url, models.IngestRun)] == ["interrupted"]
    s = ingest(sorted(tmp_path.glob("*.txt")), "sachs", url, config=cfg)  # the rule extractor this time
    assert s.counts["files_skipped"] == 1 and s.counts["files_read"] == 2
    assert sorted(p.title for p in rows(url, models.Paper)) == ["Paper 0", "Paper 1", "Paper 2"]


def test_a_failing_write_leaves_nothing_of_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(f"Paper {name}\n\nRaf activates Mek in cells.\n")
    real = pipeline.save_paper

    def flaky(paper, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if paper.citation.title == "Paper b":
            from theorycov.corpus.types import CorpusError

            raise CorpusError("disk full (simulated)")
        return real(paper, *args, **kwargs)

    monkeypatch.setattr(pipeline, "save_paper", flaky)
    url = f"sqlite:///{tmp_path / 'f.db'}"
    cfg = IngestConfig(progress=False, index=False, grounding=pipeline.GroundingConfig(use_embeddings=False))
    s = ingest(tmp_path, "sachs", url, config=cfg)
    assert s.counts["files_read"] == 1 and s.counts["files_failed"] == 1
    assert [p.title for p in rows(url, models.Paper)] == ["Paper a"]
    assert len(rows(url, models.SourceFile)) == 1 and len(rows(url, models.Claim)) == 1


def test_pluggable_extractor_and_postgres(any_db: str, tmp_path: Path) -> None:
    class Fixed(Extractor):
        name, version = "fixed", "7"

        def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
            return [Claim("Akt", "Raf", Relation.INHIBITS, extractor=self.name, extractor_version=self.version, evidence=evidence),
                    Claim("Nope", "Raf", Relation.INHIBITS, extractor=self.name, evidence=evidence)]  # fmt: skip

    (tmp_path / "a.txt").write_text("Akt paper\n\nAkt and Raf were both measured here.\n")
    cfg = IngestConfig(progress=False, index=False, grounding=pipeline.GroundingConfig(use_embeddings=False))
    s = ingest([tmp_path / "a.txt"], "sachs", any_db, extractor=Fixed(), config=cfg)
    assert s.counts["claims"] == 1 and s.counts["extraction_errors"] == 1  # the unknown variable is refused
    (cl,) = rows(any_db, models.Claim)
    assert (cl.extractor, cl.extractor_version, cl.relation) == ("fixed", "7", "inhibits")
    (run,) = rows(any_db, models.IngestRun)
    assert run.extractor == "fixed" and run.status == "finished" and run.counts["claims"] == 1


@pytest.mark.slow
def test_index_is_incremental_and_rebuilt_when_lost(tmp_path: Path, encoder) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'i.db'}"
    (tmp_path / "a.txt").write_text("A\n\nRaf activates Mek in cells.\n")
    ingest([tmp_path / "a.txt"], "sachs", url, config=QUIET)
    idx = HypothesisIndex(url)
    n1 = len(idx)
    (tmp_path / "b.txt").write_text("B\n\nPKA inhibits Akt in cells.\n")
    s = ingest([tmp_path / "b.txt"], "sachs", url, config=QUIET)
    assert s.counts["indexed"] == 2  # only the new rendering and sentence were embedded
    index_path_for(url).unlink()
    fresh = HypothesisIndex(url)
    hits = fresh.search("Akt is inhibited", k=2)
    assert len(fresh) == n1 + 2 and hits[0].rendering.startswith("PKA inhibits Akt")


STORED = (models.SourceFile, models.Paper, models.Passage, models.Claim, models.Hypothesis, models.HypothesisEvidence,
          models.IndexItem, models.RejectedMention)  # fmt: skip


def _table_sizes(url: str) -> dict[str, int]:
    from sqlalchemy import func

    with session_scope(url) as s:
        return {m.__tablename__: int(s.scalar(select(func.count()).select_from(m))) for m in STORED}


@pytest.mark.slow
def test_ingest_is_idempotent_and_the_index_is_rebuilt_from_the_database(any_db: str, tmp_path: Path, encoder) -> None:  # noqa: ANN001
    """On SQLite and on PostgreSQL: a second ingest of the same files adds no row anywhere; a lost or stale
    index file is rebuilt from the database's IndexItem rows, with the same vectors and the same answers."""
    import faiss

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.txt").write_text("Raf paper\n\nRaf activates Mek in T cells. STAT3 binds DNA.\n")
    recs = [{"id": "j1", "title": "PKA and Akt", "abstract": "PKA inhibits Akt in these cells.", "year": 2001},
            {"id": "j2", "title": "PKC and Raf", "abstract": "PKC activates Raf.", "year": 2002}]  # fmt: skip
    (folder / "refs.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    first = ingest(folder, "sachs", any_db, extractor=RuleExtractor(), config=QUIET)
    assert first.counts["papers"] == 3 and first.counts["indexed"] > 0
    sizes = _table_sizes(any_db)
    assert sizes["papers"] == 3 and sizes["hypotheses"] == 3 and sizes["rejected_mentions"] >= 1  # STAT3
    second = ingest(folder, "sachs", any_db, extractor=RuleExtractor(), config=QUIET)
    assert second.counts["papers"] == 0 and second.counts["claims"] == 0 and second.counts["indexed"] == 0
    assert second.counts["files_skipped"] == 2
    assert _table_sizes(any_db) == sizes  # nothing written twice, rejections included

    path = index_path_for(any_db)
    assert path is not None and path.exists()
    if not any_db.startswith("sqlite"):
        assert path.parent == tmp_path / "index"  # a server database's index lives in THEORYCOV_INDEX_DIR
    before = HypothesisIndex(any_db).search("which kinase inhibits Akt?", k=3)
    assert before[0].rendering.startswith("PKA inhibits Akt") and before[0].citations[0].title == "PKA and Akt"
    n_items = sizes["index_items"]
    path.unlink()  # lost: rebuilt from the rows
    lost = HypothesisIndex(any_db)
    assert len(lost) == 0  # the rows were flagged for re-embedding ...
    after = lost.search("which kinase inhibits Akt?", k=3)  # ... and search brings them back
    assert len(lost) == n_items and path.exists()
    assert [(h.hypothesis_id, h.matched) for h in after] == [(h.hypothesis_id, h.matched) for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-5)
    stale = faiss.read_index(str(path))  # stale: a file with one vector too few
    stale.remove_ids(np.array([int(faiss.vector_to_array(stale.id_map)[0])], dtype=np.int64))
    faiss.write_index(stale, str(path))
    fresh = HypothesisIndex(any_db)
    assert [h.hypothesis_id for h in fresh.search("which kinase inhibits Akt?", k=3)] == [h.hypothesis_id for h in before]
    assert len(fresh) == n_items and _table_sizes(any_db) == sizes
