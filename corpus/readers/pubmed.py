"""PubMed XML reader (efetch ``PubmedArticleSet``): one paper per ``PubmedArticle`` with an abstract.

Parsed with the standard library's expat-based ElementTree, which does not fetch external entities;
the document is untrusted data and only its text nodes are used.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, RecordProblem, title_abstract_paper, year_of
from theorycov.corpus.types import Citation, ReaderError


def _text(el: ET.Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def read_pubmed_xml(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Articles with title and abstract become papers; the others are problems naming the PMID."""
    if not data.strip():
        raise ReaderError(f"{path}: the file is empty")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ReaderError(f"{path}: not well-formed XML ({exc})") from exc
    articles = root.findall(".//PubmedArticle") if root.tag != "PubmedArticle" else [root]
    if not articles:
        raise ReaderError(f"{path}: no PubmedArticle elements; is this PubMed XML (efetch rettype=xml)?")
    res = ReadResult("pubmed")
    for i, art in enumerate(articles, start=1):
        pmid = _text(art.find(".//MedlineCitation/PMID")) or f"#{i}"
        title = _text(art.find(".//Article/ArticleTitle"))
        parts = []
        for node in art.findall(".//Article/Abstract/AbstractText"):
            label = node.get("Label")
            body = _text(node)
            parts.append(f"{label}: {body}" if label and body else body)
        abstract = " ".join(p for p in parts if p)
        loc = f"PMID {pmid}"
        if not title or not abstract:
            res.problems.append(RecordProblem(loc, "ReaderError", f"{path} {loc}: needs an ArticleTitle and an AbstractText"))
            continue
        authors = tuple(
            f"{_text(a.find('LastName'))}, {_text(a.find('ForeName')) or _text(a.find('Initials'))}".strip(", ")
            for a in art.findall(".//Article/AuthorList/Author")
            if a.find("LastName") is not None
        )
        year = year_of(_text(art.find(".//Article/Journal/JournalIssue/PubDate/Year")) or _text(art.find(".//PubDate/MedlineDate")))
        doi = next((_text(x) for x in art.findall(".//ArticleIdList/ArticleId") if x.get("IdType") == "doi"), None)
        cit = Citation(title=title, authors=authors, year=year, venue=_text(art.find(".//Article/Journal/Title")) or None, doi=doi, pmid=pmid)
        res.papers.append(title_abstract_paper(path, pmid, cit, abstract))
    return res


__all__ = ["read_pubmed_xml"]
