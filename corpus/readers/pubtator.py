"""PubTator reader (the BioRED format): ``PMID|t|title``, ``PMID|a|abstract``, then annotation lines.

The reader keeps title and abstract (PubTator offsets: the abstract starts one character after the
title); entity and relation lines are gold annotations, read by ``theorycov.corpus.evaluate``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, RecordProblem, decode_text, title_abstract_paper
from theorycov.corpus.types import Citation, ReaderError

_TA = re.compile(r"^(\d+)\|([ta])\|(.*)$")


@dataclass
class PubTatorDoc:
    """One PubTator document with its annotations."""

    pmid: str
    title: str = ""
    abstract: str = ""
    entities: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # start, end, text, type, ids
    relations: list[tuple[str, str, str, str]] = field(default_factory=list)  # type, id1, id2, novelty

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}"


def parse_pubtator(text: str) -> tuple[list[PubTatorDoc], list[RecordProblem]]:
    """Documents and malformed lines of a PubTator file."""
    docs: dict[str, PubTatorDoc] = {}
    problems: list[RecordProblem] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _TA.match(line)
        if m:
            doc = docs.setdefault(m.group(1), PubTatorDoc(m.group(1)))
            setattr(doc, "title" if m.group(2) == "t" else "abstract", m.group(3).strip())
            continue
        cols = line.split("\t")
        doc = docs.get(cols[0])
        if doc is None:
            problems.append(RecordProblem(f"line {n}", "ReaderError", f"line {n}: annotation for unknown document {cols[0]!r}"))
        elif len(cols) >= 6 and cols[1].isdigit() and cols[2].isdigit():
            doc.entities.append((int(cols[1]), int(cols[2]), cols[3], cols[4], cols[5]))
        elif len(cols) >= 4 and not cols[1].isdigit():
            doc.relations.append((cols[1], cols[2], cols[3], cols[4] if len(cols) > 4 else ""))
        else:
            problems.append(RecordProblem(f"line {n}", "ReaderError", f"line {n}: not a PubTator title, abstract, entity or relation line"))
    return list(docs.values()), problems


def read_pubtator(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """One paper per document with a title; documents without one are problems."""
    text = decode_text(data, path, cfg)
    docs, problems = parse_pubtator(text)
    if not docs:
        raise ReaderError(f"{path}: no PubTator documents (expected lines like 'PMID|t|title')")
    res = ReadResult("pubtator", problems=[RecordProblem(p.location, p.error, f"{path} {p.reason}") for p in problems])
    for doc in docs:
        if not doc.title:
            res.problems.append(RecordProblem(f"PMID {doc.pmid}", "ReaderError", f"{path} PMID {doc.pmid}: has no title line"))
            continue
        res.papers.append(title_abstract_paper(path, doc.pmid, Citation(title=doc.title, pmid=doc.pmid), doc.abstract))
    return res


__all__ = ["PubTatorDoc", "parse_pubtator", "read_pubtator"]
