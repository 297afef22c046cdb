"""Plain text and Markdown: one paper, passages by paragraph, the title from the first heading or line."""
from __future__ import annotations

import re
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, check_size, decode_text, sha256_bytes
from theorycov.corpus.types import Citation, Paper, Passage, ReaderError


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
    check_size(path, len(text), cfg)  # before the paragraph scan: refused in well under a second, not after minutes
    markdown = path.suffix.lower() in (".md", ".markdown")
    title, passages = passages_from_paragraphs(text, markdown=markdown)
    if sum(len(p.text) for p in passages) < cfg.min_chars:
        raise ReaderError(f"{path}: only {sum(len(p.text) for p in passages)} characters of text; nothing to read")
    cit = Citation(title=title or _first_line(text))
    return ReadResult("text", [Paper(cit, str(path), sha256_bytes(data), tuple(passages))])


__all__ = ["passages_from_paragraphs", "read_text"]
