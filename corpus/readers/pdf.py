"""PDF reader: the text layer through pypdf, one passage per page with its page number and offset.

Refused with a specific :class:`ReaderError`: empty files, files that are not PDFs, corrupt PDFs,
encrypted PDFs that need a password, and PDFs without a text layer (scans).
"""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, sha256_bytes
from theorycov.corpus.types import Citation, Paper, Passage, ReaderError

log = logging.getLogger(__name__)
_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")  # "acti-\nvates" -> "activates"
_SOFT_BREAK = re.compile(r"(?<!\n)\n(?!\n)")  # a line break inside a paragraph


def clean_page_text(text: str) -> str:
    """Undo PDF line hyphenation and soft line breaks; keep blank lines (paragraphs)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHEN_BREAK.sub(r"\1", text)
    text = _SOFT_BREAK.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def read_pdf(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """One paper; passages are pages (section 'body', 1-based ``page``, offsets into the joined text)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.strip():
        raise ReaderError(f"{path}: the file is empty (0 bytes of PDF)")
    if b"%PDF-" not in data[:1024]:
        raise ReaderError(f"{path}: not a PDF (no %PDF- header); check the file type")
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # pypdf signals damage with many exception types; all of them mean the same thing here.
        raise ReaderError(f"{path}: corrupt PDF ({type(exc).__name__}: {exc}); re-download or repair it (qpdf)") from exc
    if encrypted:
        try:
            ok = reader.decrypt("")  # many PDFs are "encrypted" with an empty user password
        except Exception as exc:  # noqa: BLE001 (pypdf raises DependencyError, NotImplementedError, ...)
            raise ReaderError(f"{path}: encrypted PDF that cannot be opened ({exc}); decrypt it first (qpdf --decrypt)") from exc
        if not ok:
            raise ReaderError(f"{path}: encrypted PDF that needs a password; decrypt it first (qpdf --decrypt --password=...)")
    passages: list[Passage] = []
    offset = 0
    try:
        pages = list(reader.pages)
        for i, page in enumerate(pages, start=1):
            text = clean_page_text(page.extract_text() or "")
            if not text:
                continue
            passages.append(Passage(text=text, section="body", start=offset, page=i))
            offset += len(text) + 2  # pages are joined with a blank line in the paper's full text
        meta = reader.metadata
    except ReaderError:
        raise
    except Exception as exc:  # noqa: BLE001 (damage can surface on any page)
        raise ReaderError(f"{path}: corrupt PDF ({type(exc).__name__}: {exc}); re-download or repair it (qpdf)") from exc
    if not pages:
        raise ReaderError(f"{path}: the PDF has no pages")
    if sum(len(p.text) for p in passages) < cfg.min_chars:
        raise ReaderError(f"{path}: no text layer on its {len(pages)} page(s) (a scan?); run OCR (ocrmypdf) first")
    title = (meta.title if meta and meta.title else "") or passages[0].text.split("\n")[0][:200]
    authors = tuple(a.strip() for a in re.split(r";|,|\band\b", meta.author) if a.strip()) if meta and meta.author else ()
    cit = Citation(title=title.strip() or path.stem, authors=authors)
    return ReadResult("pdf", [Paper(cit, str(path), sha256_bytes(data), tuple(passages))])


__all__ = ["clean_page_text", "read_pdf"]
