"""What every reader shares: its options, its result, per-record problems, content hashes, and the
decoding of bytes to text.

A reader is a function ``(path, data, config) -> ReadResult``. It raises :class:`ReaderError` when the
whole file is unusable (empty, binary, unknown encoding, corrupt or encrypted PDF, unparseable XML); a
file of many records (JSONL, BibTeX, PubTator, PubMed XML, BEL) reports a bad record as a
:class:`RecordProblem` and keeps the others. Text from papers is untrusted data: it is only ever
stored, split and matched, never evaluated.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from theorycov.corpus.types import Citation, Paper, Passage, ReaderError


@dataclass(frozen=True)
class ReaderConfig:
    """Options shared by the readers."""

    encoding: str | None = None  # force a text encoding; None: UTF-8 (with or without BOM) or UTF-16 with BOM
    min_chars: int = 20  # a paper with less text than this is reported, not stored
    # a paper with more text than this is refused with a message: a book, a flattened table, a dump with no
    # line breaks; splitting runs at ~35,000 characters a second, so this bounds one paper to about a minute
    max_chars: int = 2_000_000


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


Reader = Callable[[Path, bytes, ReaderConfig], ReadResult]


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
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        guess = _guess_encoding(data, exc.start)
        raise ReaderError(
            f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, byte {col} of the line, offset {exc.start})"
            + (f"; it reads as {guess[0]} there ({guess[1]!r})" if guess else "; the encoding is unknown")
            + f"; convert it (iconv -f {guess[2] if guess else '<encoding>'} -t UTF-8) or pass "
            f"ReaderConfig(encoding={guess[2] if guess else '...'!r})"
        ) from exc


def _guess_encoding(data: bytes, at: int) -> tuple[str, str, str] | None:
    """(name, the text around byte ``at`` decoded, codec) for the first single-byte encoding that decodes the
    whole file: Windows-1252 (the usual 'ANSI' of Western text), else Latin-1; None when neither fits."""
    for name, codec in (("Windows-1252", "cp1252"), ("Latin-1 (ISO-8859-1)", "latin-1")):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return name, data[max(0, at - 12): at + 12].decode(codec, errors="replace").replace("\n", " "), codec
    return None


def check_size(path: str | Path, n_chars: int, cfg: ReaderConfig, what: str = "the text") -> None:
    """ReaderError when ``n_chars`` exceed ``cfg.max_chars``, before any slow work is done on the text."""
    if n_chars > cfg.max_chars:
        raise ReaderError(f"{path}: {what} has {n_chars:,} characters, more than the limit of {cfg.max_chars:,} for one paper "
                          "(ReaderConfig.max_chars); split the file into papers, or raise the limit")


def authors_of(value: object) -> tuple[str, ...]:
    """Author names from a list or a string separated by ';', 'and' or '|'."""
    if isinstance(value, list):
        return tuple(str(a).strip() for a in value if str(a).strip())
    if isinstance(value, str):
        return tuple(a.strip() for a in re.split(r";|\band\b|\|", value) if a.strip())
    return ()


def year_of(value: object) -> int | None:
    """The first plausible four-digit year in ``value``, or None."""
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


__all__ = [
    "ReadResult",
    "Reader",
    "ReaderConfig",
    "RecordProblem",
    "authors_of",
    "check_size",
    "decode_text",
    "record_sha",
    "sha256_bytes",
    "title_abstract_paper",
    "year_of",
]
