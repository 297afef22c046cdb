"""Value types shared by every stage of the reading pipeline (readers -> sentences -> grounding ->
extractors -> assembly), after INDRA's Statement / Evidence split: a claim is an immutable value with
its evidence, and two hashes, one of the claim alone (equal claims from two papers merge) and one with
provenance.

These types are the contract between readers, extractors (rule-based, BEL-curated, language model) and
the assembly step. The values that travel further (Claim, Evidence, Citation, Constraint, Hypothesis,
Relation) are the theory vocabulary of ``theorycov.db.schemas``, re-exported here.

Exceptions::

    CorpusError
     +-- ReaderError          a file cannot be read (corrupt, empty, encrypted, binary, bad encoding)
     +-- DomainError          a domain file is invalid (duplicate alias, unknown variable, bad TOML)
     +-- ExtractionError      an extractor failed on a sentence (malformed model output, ...)
"""
from __future__ import annotations

from dataclasses import dataclass

# The theory vocabulary lives below corpus and coverage (db/schemas.py); re-exported here for the readers.
from theorycov.db.schemas import Citation, Claim, Constraint, Evidence, Hypothesis, Relation


class CorpusError(Exception):
    """Base class of every error the corpus pipeline raises on bad input."""


class ReaderError(CorpusError):
    """A file could not be read; the message names the file and what to do."""


class DomainError(CorpusError):
    """A domain definition is invalid; the message names the offending entry."""


class ExtractionError(CorpusError):
    """An extractor could not produce claims for a sentence (e.g. malformed model output)."""


@dataclass(frozen=True)
class Passage:
    """A contiguous piece of a paper's text with its provenance (char offsets into the paper's text)."""

    text: str
    section: str = "body"  # title, abstract, body, evidence (BEL), ...
    start: int = 0  # offset of text[0] in the paper's full text
    page: int | None = None  # 1-based PDF page, None for non-paginated sources


@dataclass(frozen=True)
class Paper:
    """A read paper: citation, where it came from, the SHA-256 of the file's bytes, and its passages."""

    citation: Citation
    source_path: str
    sha256: str
    passages: tuple[Passage, ...]
    curated_claims: tuple[Claim, ...] = ()  # claims a curated source (BEL) states directly


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage: text plus offsets into the passage (and thus into the paper)."""

    text: str
    passage_index: int
    start: int  # char offset of text[0] within the passage
    end: int


@dataclass(frozen=True)
class Mention:
    """A span of a sentence grounded to a domain variable (or rejected, with the reason)."""

    text: str
    start: int  # char offsets within the sentence
    end: int
    variable: str | None  # canonical domain variable name; None when rejected
    score: float = 1.0  # 1.0 for alias matches, cosine similarity for embedding matches
    method: str = "alias"  # alias | embedding | rejected
    reason: str = ""  # why it was rejected, when it was


__all__ = [
    "Citation",
    "Claim",
    "Constraint",
    "CorpusError",
    "DomainError",
    "Evidence",
    "ExtractionError",
    "Hypothesis",
    "Mention",
    "Paper",
    "Passage",
    "ReaderError",
    "Relation",
    "Sentence",
]


class Extractor:
    """The one interface of every extractor (rules, BEL-curated, language model), after INDRA's
    ``process_text``: a sentence with its grounded mentions in, claims with evidence out.

    Subclasses set ``name`` and ``version`` (stored on every Claim, part of cache keys) and implement
    :meth:`extract`. Mentions with ``variable is None`` have already been rejected by grounding.
    """

    name: str = "base"
    version: str = "0"

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        raise NotImplementedError


__all__.append("Extractor")
