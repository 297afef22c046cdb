"""Readers: one interface for every paper format (bytes + path in, Papers + per-record problems out).

A reader raises :class:`ReaderError` when the whole file is unusable (empty, binary, unknown
encoding, corrupt or encrypted PDF, unparseable XML); a file of many records (JSONL, BibTeX,
PubTator, PubMed XML, BEL) reports a bad record as a :class:`RecordProblem` and keeps the others.
Text from papers is untrusted data: it is only ever stored, split and matched, never evaluated.

The registry maps file suffixes to readers; :func:`read_file` picks one. Formats: PDF (``pdf``),
plain text and Markdown (``text``), JSONL (``jsonl``), BibTeX (``bibtex``), PubTator (``pubtator``),
PubMed XML (``pubmed``), BEL (``bel``).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .types import Citation, Paper, Passage, ReaderError


@dataclass(frozen=True)
class ReaderConfig:
    """Options shared by the readers."""

    encoding: str | None = None  # force a text encoding; None: UTF-8 (with or without BOM) or UTF-16 with BOM
    min_chars: int = 20  # a paper with less text than this is reported, not stored


@dataclass(frozen=True)
class RecordProblem:
    """One record of a multi-record file that was skipped, and why."""

    location: str  # "line 3", "entry smith2003", "PMID 123"
    error: str  # exception class name, e.g. "ReaderError", "JSONDecodeError"
    reason: str


@dataclass
class ReadResult:
    """What a reader got out of one file."""

    reader: str
    papers: list[Paper] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_sha(*parts: object) -> str:
    """Content hash of one record of a multi-record file (same record in two files: same hash)."""
    return hashlib.sha256(json.dumps([str(p) for p in parts], ensure_ascii=False).encode()).hexdigest()


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def decode_text(data: bytes, path: str | Path, cfg: ReaderConfig = ReaderConfig()) -> str:
    """Bytes to text, refusing binary data and unknown encodings with a message that says what to do."""
    if not data.strip():
        raise ReaderError(f"{path}: the file is empty")
    if cfg.encoding:
        try:
            return data.decode(cfg.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ReaderError(f"{path}: cannot decode as {cfg.encoding}: {exc}") from exc
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ReaderError(f"{path}: has a UTF-16 byte-order mark but is not valid UTF-16: {exc}") from exc
    head = data[:65536]
    if head.startswith(b"%PDF-"):
        raise ReaderError(f"{path}: this is a PDF with a text-file name; rename it to .pdf")
    if b"\x00" in head or len(_CONTROL.findall(head)) > 0.01 * len(head):
        raise ReaderError(f"{path}: binary content (NUL or control bytes), not text; check the file type")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReaderError(
            f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}) and the encoding is unknown; "
            f"convert it (iconv -f <encoding> -t UTF-8) or pass ReaderConfig(encoding=...)"
        ) from exc


def passages_from_paragraphs(text: str, *, markdown: bool = False) -> tuple[str | None, list[Passage]]:
    """Split text on blank lines into passages with offsets into ``text``; Markdown headings name the
    section of what follows (the first level-1 heading is the title). Returns (title, passages)."""
    title: str | None = None
    section = "body"
    out: list[Passage] = []
    for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, flags=re.S):
        block, start = m.group(0), m.start()
        if markdown and block.startswith("#"):
            first, _, rest = block.partition("\n")
            heading = first.lstrip("#").strip()
            if first.startswith("# ") and title is None:
                title = heading
                section = "body"
            else:
                section = heading.lower()[:40] or "body"
            if not rest.strip():
                continue
            offset = block.index(rest.strip()[:1], len(first))
            block, start = block[offset:], start + offset
        out.append(Passage(text=block, section=section, start=start))
    return title, out


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line.lstrip("#").strip()[:limit] or "untitled"


def read_text(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Plain text or Markdown: one paper, passages by paragraph, title from the first heading or line."""
    text = decode_text(data, path, cfg)
    markdown = path.suffix.lower() in (".md", ".markdown")
    title, passages = passages_from_paragraphs(text, markdown=markdown)
    if sum(len(p.text) for p in passages) < cfg.min_chars:
        raise ReaderError(f"{path}: only {sum(len(p.text) for p in passages)} characters of text; nothing to read")
    cit = Citation(title=title or _first_line(text))
    return ReadResult("text", [Paper(cit, str(path), sha256_bytes(data), tuple(passages))])


def _authors(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(a).strip() for a in value if str(a).strip())
    if isinstance(value, str):
        return tuple(a.strip() for a in re.split(r";|\band\b|\|", value) if a.strip())
    return ()


def _year(value: object) -> int | None:
    m = re.search(r"\b(1[6-9]\d\d|20\d\d)\b", str(value)) if value is not None else None
    return int(m.group(1)) if m else None


def title_abstract_paper(
    path: Path, rec_id: str, cit: Citation, abstract: str, *, abstract_section: str = "abstract"
) -> Paper:
    """A paper of a title passage and an abstract (or full-text) passage, PubTator offsets (title, space, abstract)."""
    passages = [Passage(cit.title, "title", 0)]
    if abstract:
        passages.append(Passage(abstract, abstract_section, len(cit.title) + 1))
    return Paper(cit, f"{path}#{rec_id}", record_sha(cit.title, abstract), tuple(passages))


def read_jsonl(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """JSONL: one object a line with ``title`` and ``abstract`` or ``text`` (``id``, ``authors``,
    ``year``, ``doi``, ``pmid``, ``venue`` optional). A bad line is a problem; the rest are read."""
    text = decode_text(data, path, cfg)
    res = ReadResult("jsonl")
    for n, line in enumerate(text.splitlines(), start=1):
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
            authors=_authors(rec.get("authors")),
            year=_year(rec.get("year")),
            venue=rec.get("venue") or rec.get("journal"),
            doi=rec.get("doi"),
            pmid=str(rec["pmid"]) if rec.get("pmid") else None,
        )
        section = "abstract" if rec.get("abstract") else "body"
        res.papers.append(title_abstract_paper(path, str(rec.get("id", n)), cit, body.strip(), abstract_section=section))
    return res


Reader = Callable[[Path, bytes, ReaderConfig], ReadResult]


def _registry() -> dict[str, Reader]:
    # Imported here so that a reader's heavy dependency (pypdf, bibtexparser) loads only when used.
    from . import bel, bibtex, pdf, pubmed, pubtator

    return {
        ".pdf": pdf.read_pdf,
        ".txt": read_text,
        ".text": read_text,
        ".md": read_text,
        ".markdown": read_text,
        ".jsonl": read_jsonl,
        ".ndjson": read_jsonl,
        ".bib": bibtex.read_bibtex,
        ".bibtex": bibtex.read_bibtex,
        ".pubtator": pubtator.read_pubtator,
        ".xml": pubmed.read_pubmed_xml,
        ".bel": bel.read_bel,
    }


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


def read_file(path: str | Path, data: bytes | None = None, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Read one file with the reader its suffix names; ReaderError for unsupported suffixes."""
    path = Path(path)
    reader = _registry().get(path.suffix.lower())
    if reader is None:
        raise ReaderError(f"{path}: no reader for '{path.suffix}' files; supported: {', '.join(supported_suffixes())}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReaderError(f"{path}: cannot read the file: {exc.strerror}") from exc
    return reader(path, data, cfg)


__all__ = [
    "ReadResult",
    "Reader",
    "ReaderConfig",
    "RecordProblem",
    "decode_text",
    "read_file",
    "read_jsonl",
    "read_text",
    "record_sha",
    "sha256_bytes",
    "supported_suffixes",
    "title_abstract_paper",
]
