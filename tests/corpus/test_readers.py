"""Readers: every format, and every bad input refused with a specific, actionable error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from theorycov.corpus.readers import ReaderConfig, read_file
from theorycov.corpus.sentences import split_text
from theorycov.corpus.types import ReaderError, Relation


def test_pdf_pages_become_passages_with_offsets(tmp_path: Path, pdf) -> None:
    p = pdf(tmp_path / "a.pdf", ["Raf activates Mek.\nThe inhibitor blocked acti-\nvation.", "PKC activates Raf."], title="T")
    (paper,) = read_file(p).papers
    assert paper.citation.title == "T"
    assert [(x.page, x.text) for x in paper.passages] == [
        (1, "Raf activates Mek. The inhibitor blocked activation."),  # soft break and hyphenation undone
        (2, "PKC activates Raf."),
    ]
    assert paper.passages[1].start == len(paper.passages[0].text) + 2


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer garbage \x00\x01", "corrupt PDF"),
        (b"this is not a pdf at all, just text in a .pdf file", "not a PDF"),
    ],
    ids=["empty", "corrupt", "not-a-pdf"],
)
def test_bad_pdfs_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.pdf"
    p.write_bytes(content)
    with pytest.raises(ReaderError, match=message):
        read_file(p)


def test_truncated_pdf_is_corrupt(tmp_path: Path, pdf) -> None:
    good = pdf(tmp_path / "good.pdf", ["Raf activates Mek in T cells."]).read_bytes()
    p = tmp_path / "truncated.pdf"
    p.write_bytes(good[: len(good) // 3])
    with pytest.raises(ReaderError, match="corrupt PDF|no text layer|no pages"):
        read_file(p)


def test_encrypted_pdf_needs_password(tmp_path: Path, pdf) -> None:
    p = pdf(tmp_path / "locked.pdf", ["Raf activates Mek."], password="secret")
    with pytest.raises(ReaderError, match="encrypted PDF that needs a password"):
        read_file(p)


def test_pdf_encrypted_with_empty_password_is_read(tmp_path: Path, pdf) -> None:
    p = pdf(tmp_path / "open.pdf", ["Raf activates Mek in T cells."], password="")
    assert "Raf activates Mek" in read_file(p).papers[0].passages[0].text


def test_pdf_without_text_layer(tmp_path: Path, pdf) -> None:
    p = pdf(tmp_path / "scan.pdf", [""])
    with pytest.raises(ReaderError, match="no text layer"):
        read_file(p)


def test_text_and_markdown(tmp_path: Path) -> None:
    t = tmp_path / "a.txt"
    t.write_text("A title line\n\nRaf activates Mek.\nStill the same paragraph.\n\nSecond paragraph.")
    (paper,) = read_file(t).papers
    assert paper.citation.title == "A title line"
    full = t.read_text()
    assert all(full[p.start : p.start + len(p.text)] == p.text for p in paper.passages)
    md = tmp_path / "b.md"
    md.write_text("# Kinase paper\n\n## Results\n\nPKC activates Raf in T cells.\n")
    (paper,) = read_file(md).papers
    assert paper.citation.title == "Kinase paper"
    assert [(p.section, p.text) for p in paper.passages] == [("results", "PKC activates Raf in T cells.")]


def test_binary_file_named_txt(tmp_path: Path) -> None:
    p = tmp_path / "image.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(ReaderError, match="binary content"):
        read_file(p)


def test_pdf_named_txt(tmp_path: Path, pdf) -> None:
    p = pdf(tmp_path / "x.pdf", ["Raf activates Mek."])
    q = tmp_path / "x.txt"
    q.write_bytes(p.read_bytes())
    with pytest.raises(ReaderError, match="rename it to .pdf"):
        read_file(q)


def test_unknown_encoding_is_refused_and_can_be_forced(tmp_path: Path) -> None:
    p = tmp_path / "latin.txt"
    p.write_bytes("Régulation de Raf par la protéine kinase C dans les cellules T.".encode("latin-1"))
    with pytest.raises(ReaderError, match=r"not UTF-8 \(byte 0xe9 at line 1, byte 2 of the line, offset 1\).*iconv"):
        read_file(p)
    (paper,) = read_file(p, cfg=ReaderConfig(encoding="latin-1")).papers
    assert paper.passages[0].text.startswith("Régulation")


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    p = tmp_path / "u16.txt"
    p.write_bytes("Raf activates Mek in T cells.".encode("utf-16"))
    assert read_file(p).papers[0].passages[0].text == "Raf activates Mek in T cells."


def test_jsonl_bad_line_is_reported_and_others_read(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    good = {"id": "p1", "title": "Raf and Mek", "abstract": "Raf activates Mek.", "authors": ["Smith, J", "Doe, A"],
            "year": 2003, "doi": "10.1/x"}  # fmt: skip
    p.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"title": "no text"}) + "\n" + json.dumps([1]) + "\n")
    res = read_file(p)
    assert [x.citation.doi for x in res.papers] == ["10.1/x"]
    assert res.papers[0].citation.short() == "Smith et al. 2003"
    assert [(x.location, x.error) for x in res.problems] == [
        ("line 2", "JSONDecodeError"), ("line 3", "ReaderError"), ("line 4", "ReaderError"),
    ]  # fmt: skip
    assert "not JSON" in res.problems[0].reason


def test_bibtex_entry_without_abstract_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "refs.bib"
    p.write_text(
        "@article{smith2003, title={{Raf} activates {MEK}}, author={Smith, John and Doe, Jane}, year={2003},\n"
        "  journal={Nature}, abstract={Raf-1 activates MEK1 in T cells.}, doi={10.1/y}}\n"
        "@article{noabs, title={Only a title}, author={X, Y}, year={2001}}\n"
    )
    res = read_file(p)
    assert [x.citation.title for x in res.papers] == ["Raf activates MEK"]
    assert res.papers[0].citation.authors == ("Smith, John", "Doe, Jane")
    (prob,) = res.problems
    assert prob.location == "entry noabs" and "has no abstract" in prob.reason


def test_pubtator_and_pubmed_xml(tmp_path: Path) -> None:
    p = tmp_path / "d.pubtator"
    p.write_text("123|t|Raf and Mek\n123|a|Raf activates Mek.\n123\t0\t3\tRaf\tGene\t5894\n123\tPositive_Correlation\t5894\t5604\tNovel\n\n")
    (paper,) = read_file(p).papers
    assert paper.citation.pmid == "123" and paper.passages[1].start == len("Raf and Mek") + 1
    x = tmp_path / "e.xml"
    x.write_text(
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>42</PMID><Article><Journal><JournalIssue><PubDate>"
        "<Year>2005</Year></PubDate></JournalIssue><Title>Science</Title></Journal><ArticleTitle>Causal networks"
        "</ArticleTitle><Abstract><AbstractText Label='RESULTS'>PKC activates Raf.</AbstractText></Abstract>"
        "<AuthorList><Author><LastName>Sachs</LastName><ForeName>Karen</ForeName></Author></AuthorList></Article>"
        "</MedlineCitation></PubmedArticle><PubmedArticle><MedlineCitation><PMID>43</PMID><Article><ArticleTitle>"
        "No abstract</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    res = read_file(x)
    (paper,) = res.papers
    assert paper.citation == paper.citation.__class__("Causal networks", ("Sachs, Karen",), 2005, "Science", None, "42")
    assert paper.passages[1].text == "RESULTS: PKC activates Raf."
    assert res.problems[0].location == "PMID 43"
    bad = tmp_path / "bad.xml"
    bad.write_text("<PubmedArticleSet><unclosed>")
    with pytest.raises(ReaderError, match="not well-formed XML"):
        read_file(bad)


BEL_DOC = '''SET DOCUMENT Name = "test"
SET Citation = {"PubMed","J Biol","111","2001-01-01","Smith J|Doe A",""}
SET Evidence = "PKC activates Raf, which
in turn phosphorylates MEK1."
kin(p(HGNC:PRKCA)) increases kin(p(HGNC:RAF1))
kin(p(HGNC:RAF1)) directlyIncreases p(HGNC:MAP2K1,pmod(P)) // a comment
p(HGNC:RAF1) positiveCorrelation p(HGNC:MAP2K1)
SET Evidence = "PKA had no effect on Akt."
kin(p(HGNC:PRKACA)) causesNoChange kin(p(HGNC:AKT1))
a(CHEBI:x) decreases (p(HGNC:A) increases p(HGNC:B))
'''


def test_bel_statements_become_curated_claims(tmp_path: Path) -> None:
    p = tmp_path / "f.bel"
    p.write_text(BEL_DOC)
    res = read_file(p)
    assert res.problems == []
    (paper,) = res.papers
    assert paper.citation.pmid == "111" and paper.citation.short() == "Smith et al. 2001"
    assert [x.text for x in paper.passages] == ["PKC activates Raf, which in turn phosphorylates MEK1.", "PKA had no effect on Akt."]
    got = [(c.cause, c.effect, c.relation, c.direct, c.extractor, c.evidence.passage_index) for c in paper.curated_claims]
    assert got == [
        ("PRKCA", "RAF1", Relation.ACTIVATES, False, "bel-curated", 0),
        ("RAF1", "MAP2K1", Relation.ACTIVATES, True, "bel-curated", 0),
        ("PRKACA", "AKT1", Relation.NO_EFFECT, False, "bel-curated", 1),
    ]


def test_unsupported_suffix(tmp_path: Path) -> None:
    p = tmp_path / "a.docx"
    p.write_bytes(b"PK")
    with pytest.raises(ReaderError, match="no reader for '.docx'"):
        read_file(p)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Raf activates Mek (Smith et al. 2003). The effect was significant (p < 0.05).",
         ["Raf activates Mek (Smith et al. 2003).", "The effect was significant (p < 0.05)."]),
        ("As shown by Jones et al. the kinase, i.e. PKC, acts on Raf-1 (Fig. 2B). Erk was 2.5-fold higher vs. control.",
         ["As shown by Jones et al. the kinase, i.e. PKC, acts on Raf-1 (Fig. 2B).", "Erk was 2.5-fold higher vs. control."]),
    ],
)  # fmt: skip
def test_sentence_splitter_keeps_offsets(text: str, expected: list[str]) -> None:
    spans = split_text(text)
    assert [text[s:e] for s, e in spans] == expected
