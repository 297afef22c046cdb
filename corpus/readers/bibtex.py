"""BibTeX reader (bibtexparser 2.x): one paper per entry with an ``abstract`` field.

An entry without an abstract has no text to read and is reported (the PDF can be ingested instead);
a block bibtexparser cannot parse is reported with its line number.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, RecordProblem, decode_text, title_abstract_paper, year_of
from theorycov.corpus.types import Citation, ReaderError

log = logging.getLogger(__name__)


def _clean(value: str) -> str:
    """Drop the braces LaTeX decoding leaves and collapse whitespace."""
    return re.sub(r"\s+", " ", value.replace("{", "").replace("}", "")).strip()


def _reason(block: object) -> str:
    """What is wrong with a failed block: the parser's exceptions carry it in ``abort_reason`` and have an
    empty str(), which left the reason blank; fall back to the block's first line."""
    err = getattr(block, "error", None)
    text = str(getattr(err, "abort_reason", "") or err or "").strip()
    if not text:
        raw = str(getattr(block, "raw", "") or "").strip().splitlines()
        text = f"cannot parse {raw[0][:80]!r}" if raw else "cannot parse the block"
    return " ".join(text.split())


def read_bibtex(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Entries with title and abstract become papers; the others are problems naming the entry key."""
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    text = decode_text(data, path, cfg)
    try:
        lib = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    except Exception as exc:  # noqa: BLE001 (the parser's errors are not a public hierarchy)
        raise ReaderError(f"{path}: not parseable as BibTeX ({type(exc).__name__}: {exc})") from exc
    res = ReadResult("bibtex")
    for block in lib.failed_blocks:
        line = getattr(block, "start_line", None)
        loc = f"line {line + 1}" if isinstance(line, int) else "a block"
        res.problems.append(RecordProblem(loc, "ReaderError", f"{path} {loc}: BibTeX syntax error: {_reason(block)}"))
    for entry in lib.entries:
        f = {k.lower(): _clean(str(v.value)) for k, v in entry.fields_dict.items()}
        loc = f"entry {entry.key}"
        if not f.get("title"):
            res.problems.append(RecordProblem(loc, "ReaderError", f"{path} {loc}: has no title"))
            continue
        if not f.get("abstract"):
            res.problems.append(
                RecordProblem(loc, "ReaderError", f"{path} {loc}: has no abstract, so there is no text to read; "
                              "add an abstract field or ingest the paper's PDF")
            )
            continue
        authors = tuple(a.strip() for a in re.split(r"\s+and\s+", f.get("author", "")) if a.strip())
        cit = Citation(
            title=f["title"],
            authors=authors,
            year=year_of(f.get("year")),
            venue=f.get("journal") or f.get("booktitle"),
            doi=f.get("doi"),
            pmid=f.get("pmid"),
        )
        res.papers.append(title_abstract_paper(path, entry.key, cit, f["abstract"]))
    return res


__all__ = ["read_bibtex"]
