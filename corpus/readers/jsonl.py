"""JSONL: one paper record a line (``title`` and ``abstract`` or ``text``; ``id``, ``authors``, ``year``,
``doi``, ``pmid``, ``venue`` optional). A bad line is a problem; the others are read."""
from __future__ import annotations

import json
from pathlib import Path

from theorycov.corpus.readers.base import (
    ReaderConfig,
    ReadResult,
    RecordProblem,
    authors_of,
    decode_text,
    title_abstract_paper,
    year_of,
)
from theorycov.corpus.types import Citation


def read_jsonl(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """JSONL: one object a line with ``title`` and ``abstract`` or ``text`` (``id``, ``authors``,
    ``year``, ``doi``, ``pmid``, ``venue`` optional). A bad line is a problem; the rest are read."""
    text = decode_text(data, path, cfg)
    res = ReadResult("jsonl")
    # split on "\n" only: str.splitlines also breaks at U+2028, U+0085, form feeds..., which JSON strings may
    # hold raw; that cut one record in two and shifted every later line number
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        loc = f"line {n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            res.problems.append(RecordProblem(loc, "JSONDecodeError", f"{path} {loc}: not JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(rec, dict):
            res.problems.append(RecordProblem(loc, "ReaderError", f"{path} {loc}: expected a JSON object, got {type(rec).__name__}"))
            continue
        body = rec.get("abstract") or rec.get("text")
        title = rec.get("title")
        if not isinstance(title, str) or not title.strip() or not isinstance(body, str) or not body.strip():
            res.problems.append(
                RecordProblem(loc, "ReaderError", f"{path} {loc}: needs a non-empty string `title` and `abstract` or `text`")
            )
            continue
        cit = Citation(
            title=title.strip(),
            authors=authors_of(rec.get("authors")),
            year=year_of(rec.get("year")),
            venue=rec.get("venue") or rec.get("journal"),
            doi=rec.get("doi"),
            pmid=str(rec["pmid"]) if rec.get("pmid") else None,
        )
        section = "abstract" if rec.get("abstract") else "body"
        res.papers.append(title_abstract_paper(path, str(rec.get("id", n)), cit, body.strip(), abstract_section=section))
    return res


__all__ = ["read_jsonl"]
