"""Readers: one interface for every paper format (bytes + path in, Papers + per-record problems out).

One module per format, all built on :mod:`theorycov.corpus.readers.base` (the shared result, options,
hashes and decoding): PDF (``pdf``), plain text and Markdown (``text``), JSONL (``jsonl``), BibTeX
(``bibtex``), PubTator (``pubtator``), PubMed XML (``pubmed``), BEL (``bel``). The format modules import
only the base, never this package, so there is no import cycle; each loads its heavy dependency
(pypdf, bibtexparser) inside the function that needs it.

The registry maps file suffixes to readers; :func:`read_file` picks one.
"""
from __future__ import annotations

from pathlib import Path

from theorycov.corpus.readers import bel, bibtex, jsonl, pdf, pubmed, pubtator, text
from theorycov.corpus.readers.base import (
    Reader,
    ReaderConfig,
    ReadResult,
    RecordProblem,
    decode_text,
    record_sha,
    sha256_bytes,
    title_abstract_paper,
)
from theorycov.corpus.readers.jsonl import read_jsonl
from theorycov.corpus.readers.text import read_text
from theorycov.corpus.types import ReaderError

REGISTRY: dict[str, Reader] = {
    ".pdf": pdf.read_pdf,
    ".txt": text.read_text,
    ".text": text.read_text,
    ".md": text.read_text,
    ".markdown": text.read_text,
    ".jsonl": jsonl.read_jsonl,
    ".ndjson": jsonl.read_jsonl,
    ".bib": bibtex.read_bibtex,
    ".bibtex": bibtex.read_bibtex,
    ".pubtator": pubtator.read_pubtator,
    ".xml": pubmed.read_pubmed_xml,
    ".bel": bel.read_bel,
}


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(REGISTRY))


def read_file(path: str | Path, data: bytes | None = None, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Read one file with the reader its suffix names; ReaderError for unsupported suffixes."""
    path = Path(path)
    reader = REGISTRY.get(path.suffix.lower())
    if reader is None:
        raise ReaderError(f"{path}: no reader for '{path.suffix}' files; supported: {', '.join(supported_suffixes())}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReaderError(f"{path}: cannot read the file: {exc.strerror}") from exc
    return reader(path, data, cfg)


__all__ = [
    "REGISTRY",
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
