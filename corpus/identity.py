"""Paper identity: when two read papers are the same paper, so that its evidence is counted once.

A reader hashes what it read (a file's bytes, a record's title and abstract): a PDF saved again, a text
with Windows line breaks or other spacing, or the same abstract in JSONL and in BibTeX gives another hash,
and before this module the same paper's claims were counted twice. Two papers are the same when

- their normalized text is equal (:func:`content_key`: Unicode NFKC, case folded, everything but letters
  and digits dropped, so spacing, line breaks, hyphenation and punctuation do not matter), or
- they carry the same DOI (case-insensitive, without a resolver prefix) or the same PMID.

The first copy stored wins; a later copy is counted as "papers skipped (duplicate)".
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from theorycov.corpus.types import Paper
from theorycov.db import crud

__all__ = ["MIN_KEY_CHARS", "PaperIdentity", "content_key", "doi_variants", "identity", "new_papers", "normalize_doi",
           "normalize_pmid"]

log = logging.getLogger(__name__)

MIN_KEY_CHARS = 40  # less normalized text than this identifies nothing (a title alone, a one-line BEL evidence)
_DROP = re.compile(r"[\W_]+")
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.I)
_RESOLVERS = ("", "doi:", "https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/")


@dataclass(frozen=True)
class PaperIdentity:
    """What makes a paper the same paper: its normalized text's hash, its DOI, its PMID (None when absent)."""

    content_key: str | None
    doi: str | None
    pmid: str | None


def content_key(text: str) -> str | None:
    """SHA-256 of the normalized text, or None when too little text is left to identify a paper."""
    norm = _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())
    return hashlib.sha256(norm.encode()).hexdigest() if len(norm) >= MIN_KEY_CHARS else None


def normalize_doi(doi: str | None) -> str | None:
    """'https://doi.org/10.1000/XYZ ' -> '10.1000/xyz' (DOIs are case-insensitive); None when not a DOI."""
    if not doi:
        return None
    d = _DOI_PREFIX.sub("", doi.strip()).strip().lower()
    return d if d.startswith("10.") and "/" in d else None


def doi_variants(doi: str) -> list[str]:
    """The spellings a stored DOI may have (it is stored as the reader found it, compared lower-cased)."""
    return [r + doi for r in _RESOLVERS]


def normalize_pmid(pmid: str | None) -> str | None:
    """'PMID: 0123' -> '123'; None when not a positive number."""
    digits = re.sub(r"^\s*(?:pmid:?)?\s*", "", str(pmid or ""), flags=re.I).strip()
    return str(int(digits)) if digits.isdigit() and int(digits) > 0 else None


def identity(paper: Paper) -> PaperIdentity:
    """The identity of a read paper (its passages' text, its citation's DOI and PMID)."""
    text = "\n".join(p.text for p in paper.passages)
    return PaperIdentity(content_key(text), normalize_doi(paper.citation.doi), normalize_pmid(paper.citation.pmid))


def new_papers(papers: list[Paper], *, session: Session) -> list[tuple[Paper, PaperIdentity]]:
    """The papers (with their identities) not stored yet and not repeating an earlier paper of the same
    list, by any identity: content hash, normalized text, DOI, PMID."""
    idents = [(p, identity(p)) for p in papers]
    if not idents:
        return []
    rows = crud.known_papers(session=session, shas=[p.sha256 for p, _ in idents],
                             content_keys=[i.content_key for _, i in idents if i.content_key],
                             dois=[v for _, i in idents if i.doi for v in doi_variants(i.doi)],
                             pmids=[i.pmid for _, i in idents if i.pmid])  # fmt: skip
    seen = {"sha": {r.sha256 for r in rows}, "key": {r.content_key for r in rows if r.content_key},
            "doi": {d for r in rows for d in [normalize_doi(r.doi)] if d}, "pmid": {q for r in rows for q in [normalize_pmid(r.pmid)] if q}}
    out = []
    for p, i in idents:
        keys = {"sha": p.sha256, "key": i.content_key, "doi": i.doi, "pmid": i.pmid}
        same = next((k for k, v in keys.items() if v and v in seen[k]), None)
        if same is not None:
            log.info("%s: skipped, the same paper is stored already (same %s)", p.source_path,
                     {"sha": "content hash", "key": "normalized text", "doi": "DOI", "pmid": "PMID"}[same])
            continue
        out.append((p, i))
        for k, v in keys.items():
            if v:
                seen[k].add(v)
    return out
