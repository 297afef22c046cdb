"""Sentence splitting for scientific text, keeping character offsets.

pysbd (rule-based, Golden-Rules tested) copes with "et al.", "e.g.", "Fig. 2", "p < 0.05" and decimal
numbers; we add two guards it lacks for papers: a split right after a common citation/abbreviation
token is undone, and PDF hyphenation/line breaks do not matter because offsets index the passage text
unchanged (pysbd runs with ``clean=False``).

pysbd's time grows with the square of the text it is given (its abbreviation pass rescans the text: 20,000
characters took 2.8 s, 100,000 took 66 s, and a 20 MB text without line breaks never finished), so a long
text is cut into windows of at most :data:`WINDOW` characters first, at paragraph breaks, else at the last
sentence end (". " before a capital), else at a space, and pysbd reads one window at a time: the cost is
linear in the length (about 35,000 characters a second on one busy core).
"""
from __future__ import annotations

import re
from functools import lru_cache

from theorycov.corpus.types import Passage, Sentence

# Tokens after which a period does not end a sentence in papers, if pysbd split there anyway.
_NO_BREAK_AFTER = re.compile(
    r"(?:\bet al|\bi\.e|\be\.g|\bcf|\bvs|\bFigs?|\bref|\bRefs?|\bapprox|\bca|\bEq|\bEqs|\bSupp|\bno|\bNo|\bresp)\.\s*$"
)
_MAX_CHARS = 2000  # a "sentence" longer than this is a table or reference list flattened by PDF extraction
WINDOW = 2000  # pysbd reads at most this many characters at once (its cost per character is flat up to ~2,000)
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[A-Z(\[])")


@lru_cache(maxsize=1)
def _segmenter():  # noqa: ANN202 (pysbd has no types)
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def windows(text: str, size: int = WINDOW) -> list[tuple[int, int]]:
    """(start, end) pieces of ``text`` of at most ``size`` characters that cover it, cut where a sentence
    is least likely to continue: the last paragraph break, else the last sentence end, else the last space."""
    out: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while n - start > size:
        stop = start + size
        cut = None
        for pattern in (_PARAGRAPH, _SENTENCE_END):
            ends = [m.end() for m in pattern.finditer(text, start + size // 4, stop)]
            if ends:
                cut = ends[-1]
                break
        if cut is None:
            space = text.rfind(" ", start + size // 4, stop)
            cut = space + 1 if space > start else stop
        out.append((start, cut))
        start = cut
    out.append((start, n))
    return out


def split_text(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``; whitespace around each sentence is excluded.
    Linear in the length of ``text`` (module docstring)."""
    if not text.strip():
        return []
    if len(text) > WINDOW:
        return [(a + off, b + off) for off, end in windows(text) for a, b in split_text(text[off:end])]
    spans: list[list[int]] = []
    for span in _segmenter().segment(text):
        start, end = span.start, span.end
        if spans and _NO_BREAK_AFTER.search(text[spans[-1][0] : spans[-1][1]]) and text[start:end].strip()[:1].islower():
            spans[-1][1] = end  # undo a split after "et al." before a lower-case continuation
            continue
        spans.append([start, end])
    out: list[tuple[int, int]] = []
    for start, end in spans:
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        s, e = start + lead, end - trail
        if e <= s:
            continue
        while e - s > _MAX_CHARS:  # cut runaway spans at a newline, else hard, so no sentence is unbounded
            cut = text.rfind("\n", s, s + _MAX_CHARS)
            cut = cut if cut > s else s + _MAX_CHARS
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            out.append((s, e))
    return out


def split_passage(passage: Passage, index: int) -> list[Sentence]:
    """The sentences of one passage, offsets relative to the passage text."""
    return [Sentence(passage.text[s:e], index, s, e) for s, e in split_text(passage.text)]


def split_paper_passages(passages: tuple[Passage, ...] | list[Passage]) -> list[Sentence]:
    """Every sentence of every passage, in reading order."""
    return [s for i, p in enumerate(passages) for s in split_passage(p, i)]


__all__ = ["WINDOW", "split_passage", "split_paper_passages", "split_text", "windows"]
