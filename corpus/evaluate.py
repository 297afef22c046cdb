"""Claim-level scoring of any extractor against gold annotations: precision, recall, F1 of
(cause, effect, polarity) triples, after INDRA's reader benchmarks.

A gold set is a list of items (a sentence or a document) with the triples a reader should find, the
pairs it may mention without penalty (``ignore``: statements outside the measure, such as BEL
phosphorylation statements or BioRED associations) and the domain whose variables name the triples.
Loaders build gold sets from:

- BEL documents (:func:`load_bel_gold`): each evidence text with its activity/amount polarity statements
  (increases, decreases, directlyIncreases, directlyDecreases between abundances or activities); pmod,
  process and correlation statements go to ``ignore``; the domain is built from the gold's own entity
  names (HGNC symbols, Selventa families): fair, since the extractor must still find them in the text;
- the Sachs statement table (:func:`load_sachs_tsv`): the same, grounded to the shipped Sachs domain;
- BioRED PubTator files (:func:`load_biored_gold`): each abstract with its Positive/Negative_Correlation
  relations (undirected, so pairs are compared without order), a per-document domain of the annotated
  entity ids with their mention texts as aliases.

:func:`run_extractor` produces predictions with the same grounding and sentence splitting as ingest;
:func:`score_predictions` compares any predictions (cached model output too) with a gold set.
"""
from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .bel import BelStatement, BelTerm, parse_bel, parse_term
from .domain import Domain, Variable, alias_key, load_domain
from .grounding import Grounder, GroundingConfig
from .lexicon import Lexicon
from .pubtator import parse_pubtator
from .sentences import split_text
from .types import Claim, Evidence, Extractor, Relation, Sentence

Triple = tuple[str, str, int]  # (cause, effect, polarity +1/-1)
SCORED_KINDS = {"activity", "amount"}
POLAR = {"increases": 1, "directlyIncreases": 1, "decreases": -1, "directlyDecreases": -1}


@dataclass(frozen=True)
class GoldItem:
    """One unit of text with its gold triples."""

    id: str
    text: str
    triples: frozenset[Triple]
    ignore: frozenset[tuple[str, str]] = frozenset()  # pairs outside the measure: never a false positive
    domain: Domain | None = None  # overrides the set's domain (BioRED: one per document)


@dataclass(frozen=True)
class GoldSet:
    """Items, their domain, and whether cause and effect are ordered."""

    name: str
    items: tuple[GoldItem, ...]
    domain: Domain | None
    directed: bool = True
    # Variables the measure is about (BEL protein-protein: the protein variables); a prediction with an end
    # outside is neither right nor wrong, as the gold never scores such a pair. None: every variable.
    scope: frozenset[str] | None = None

    @property
    def n_triples(self) -> int:
        return sum(len(i.triples) for i in self.items)


@dataclass
class Scores:
    """Micro-averaged claim-level figures."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    outside: int = 0  # predictions with an end outside the gold set's scope (not scored)
    items: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (item, kind, triple) for inspection

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "outside": self.outside, "items": self.items, "seconds": round(self.seconds, 2)}  # fmt: skip


# ---------------------------------------------------------------- gold loaders
def _scorable(st: BelStatement) -> bool:
    return (st.relation in POLAR and st.object is not None and st.subject.kind in SCORED_KINDS
            and st.object.kind in SCORED_KINDS and bool(st.subject.entity) and bool(st.object.entity))  # fmt: skip


def _entity_domain(name: str, entities: Iterable[tuple[str, str]], lexicon: Lexicon | None = None) -> tuple[Domain, dict[str, str]]:
    """A domain with one variable per distinct entity name (merged by alias key); label -> variable.

    ``entities`` are (label, NS:name) pairs. With a lexicon each variable also answers to the entity's
    synonyms (HGNC, FamPlex: corpus/lexicon.py); a synonym two variables claim at the same rank, or that
    is another variable's own name, is given to none (ambiguous text is not grounded).
    """
    by_key: dict[str, Variable] = {}
    label_var: dict[str, str] = {}
    entity_of: dict[str, str] = {}
    for label, entity in entities:
        key = alias_key(label)
        if not key:
            continue
        if key not in by_key:
            by_key[key] = Variable(label, ())
            entity_of[label] = entity
        label_var[label] = by_key[key].name
    claims: dict[str, dict[int, set[str]]] = {}  # alias key -> rank -> variables
    surface: dict[tuple[str, str], str] = {}
    for key, var in by_key.items():  # "RAF Family" also answers to "RAF", unless that names another entity
        if var.name.lower().endswith(" family"):
            short = var.name[: -len(" family")].strip()
            if alias_key(short):
                claims.setdefault(alias_key(short), {}).setdefault(1, set()).add(var.name)
                surface[(alias_key(short), var.name)] = short
        for text, rank in (lexicon.synonyms(entity_of[var.name]) if lexicon else []):
            k = alias_key(text)
            if k and k != key:
                claims.setdefault(k, {}).setdefault(rank, set()).add(var.name)
                surface.setdefault((k, var.name), text)
    extra: dict[str, list[str]] = {}
    for k, ranks in claims.items():
        if k in by_key:
            continue
        best = ranks[min(ranks)]
        if len(best) == 1:
            (owner,) = best
            extra.setdefault(owner, []).append(surface[(k, owner)])
    variables = tuple(Variable(v.name, tuple(extra.get(v.name, ()))) for v in by_key.values())
    return Domain(name, variables), label_var


_PROTEIN_NS = {"HGNC", "MGI", "RGD", "SPID", "SFAM", "SCOMP", "EGID"}


def _protein(term: BelTerm) -> bool:
    """A gene product, protein family or named complex (its entity's namespace), in any function."""
    return bool(term.entity) and term.entity.split(":", 1)[0] in _PROTEIN_NS  # type: ignore[union-attr]


def load_bel_gold(path: str | Path, *, domain: Domain | None = None, lexicon: Lexicon | None = None,
                  proteins_only: bool = False) -> GoldSet:
    """Evidence texts of a BEL document with their activity/amount polarity statements.

    Without ``domain``, the domain is built from the gold's entity names, plus their HGNC / FamPlex
    synonyms when a ``lexicon`` is given. ``proteins_only``: only statements between proteins (families,
    complexes) are scored, as the extraction issue asks; the others (chemicals, processes) are ignored.
    """
    statements, _ = parse_bel(Path(path).read_text(encoding="utf-8"))
    with_ev = [s for s in statements if s.evidence and s.object is not None and s.subject.entity and s.object.entity]
    terms = [t for s in with_ev for t in (s.subject, s.object) if t is not None and t.label and t.entity]
    if domain is None:
        domain, label_var = _entity_domain(f"gold:{Path(path).stem}", [(t.label, t.entity) for t in terms], lexicon)
        ground = label_var.get
    else:
        ground = lambda lab: domain.lookup(lab)[0]  # noqa: E731
    # proteins_only: a claim about a chemical or a process is outside the measure, even on a pair the
    # curator did not mention (else a correct "H2O2 activates JNK" would count as a false positive)
    scope = frozenset(v for t in terms if _protein(t) and (v := ground(t.label or ""))) if proteins_only else None
    groups: dict[tuple[str | None, str], list[BelStatement]] = {}
    for s in with_ev:
        groups.setdefault((s.pmid, s.evidence), []).append(s)
    items = []
    for (pmid, evidence), sts in groups.items():
        triples, ignore = set(), set()
        for s in sts:
            c, e = ground(s.subject.label or ""), ground(s.object.label or "")  # type: ignore[union-attr]
            if not c or not e or c == e:
                continue
            if _scorable(s) and (not proteins_only or (_protein(s.subject) and _protein(s.object))):  # type: ignore[arg-type]
                triples.add((c, e, POLAR[s.relation]))
            else:
                ignore.add((c, e))
        if triples or ignore:
            items.append(GoldItem(f"{pmid}:{len(items)}", evidence, frozenset(triples), frozenset(ignore)))
    return GoldSet(f"bel:{Path(path).name}", tuple(items), domain, scope=scope)


def load_sachs_tsv(path: str | Path, *, domain: Domain | None = None) -> GoldSet:
    """The Sachs statement table (subject_node, relation, object_node, bel_statement, evidence)."""
    domain = domain or load_domain("sachs")
    groups: dict[str, tuple[set[Triple], set[tuple[str, str]]]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            subj, rel, obj = row["subject_node"], row["relation"], row["object_node"]
            stmt = row["bel_statement"]
            # pmod statements (kin(X) directlyIncreases p(Y, pmod(P,S,259))) are outside the measure
            obj_term = stmt.split(f" {rel} ", 1)[1] if f" {rel} " in stmt else ""
            pmod = "pmod(" in obj_term or (obj_term and parse_term(obj_term).kind == "pmod")
            triples, ignore = groups.setdefault(row["evidence"], (set(), set()))
            if rel in POLAR and not pmod:
                triples.add((subj, obj, POLAR[rel]))
            else:
                ignore.add((subj, obj))
    items = tuple(GoldItem(f"sachs:{i}", ev, frozenset(t), frozenset(ig)) for i, (ev, (t, ig)) in enumerate(groups.items()))
    return GoldSet(f"sachs-tsv:{Path(path).name}", items, domain)


def load_biored_gold(path: str | Path, *, types: frozenset[str] | None = None) -> GoldSet:
    """BioRED abstracts with their signed correlation relations (undirected), one domain per document.
    ``types``: only entities of these types are variables (e.g. {"GeneOrGeneProduct"}, the protein-protein
    counterpart of the BEL measure), so only relations between them are scored."""
    docs, _ = parse_pubtator(Path(path).read_text(encoding="utf-8"))
    items = []
    for doc in docs:
        aliases: dict[str, list[str]] = {}
        for _, _, mention, etype, ids in doc.entities:
            if types is not None and etype not in types:
                continue
            for eid in ids.split(","):
                if eid and eid != "-":
                    aliases.setdefault(eid, []).append(mention)
        seen: set[str] = set()
        variables = []
        for eid, names in aliases.items():
            keep = [n for n in dict.fromkeys(names) if alias_key(n) and alias_key(n) not in seen and alias_key(n) != alias_key(eid)]
            seen.update(alias_key(n) for n in keep)
            if keep:
                variables.append(Variable(eid, tuple(keep)))
        if not variables:
            continue
        dom = Domain(f"biored:{doc.pmid}", tuple(variables))
        triples, ignore = set(), set()
        known = {v.name for v in variables}
        for rtype, a, b, _ in doc.relations:
            if types is not None and not (a in known and b in known):
                continue
            pol = {"Positive_Correlation": 1, "Negative_Correlation": -1}.get(rtype)
            pair = tuple(sorted((a, b)))
            if pol is None:
                ignore.add(pair)
            else:
                triples.add((pair[0], pair[1], pol))
        items.append(GoldItem(doc.pmid, doc.text, frozenset(triples), frozenset(ignore), dom))  # type: ignore[arg-type]
    return GoldSet(f"biored:{Path(path).name}", tuple(items), None, directed=False)


# ---------------------------------------------------------------- predicting and scoring
def claim_triple(claim: Claim) -> Triple | None:
    """The (cause, effect, polarity) a claim asserts; None for unsigned, negated or no-effect claims."""
    if claim.negated or claim.relation not in (Relation.ACTIVATES, Relation.INHIBITS):
        return None
    return claim.cause, claim.effect, claim.relation.sign


def run_extractor(
    gold: GoldSet,
    extractor: Extractor,
    *,
    grounding: GroundingConfig = GroundingConfig(),
    progress: Callable[[Iterable], Iterable] | None = None,
) -> dict[str, set[Triple]]:
    """Predicted triples per item: split, ground and extract exactly as ingest does."""
    grounders: dict[str, Grounder] = {}
    out: dict[str, set[Triple]] = {}
    items: Iterable[GoldItem] = progress(gold.items) if progress else gold.items
    for item in items:
        dom = item.domain or gold.domain
        if dom is None:
            raise ValueError(f"gold item {item.id} has no domain")
        g = grounders.setdefault(dom.name, Grounder(dom, grounding))
        spans = split_text(item.text)
        preds: set[Triple] = set()
        for (s, e), mentions in zip(spans, g.annotate([item.text[s:e] for s, e in spans])):
            if len({m.variable for m in mentions if m.variable}) < 2:
                continue
            sent = Sentence(item.text[s:e], 0, s, e)
            for c in extractor.extract(sent, mentions, evidence=Evidence(sent.text, "", 0, s, e)):
                t = claim_triple(c)
                if t is not None:
                    preds.add(t)
        out[item.id] = preds
        if item.domain is not None:
            grounders.pop(dom.name, None)  # per-document domains are used once
    return out


def _norm(t: Triple, directed: bool) -> Triple:
    if directed:
        return t
    a, b = sorted((t[0], t[1]))
    return a, b, t[2]


def score_predictions(gold: GoldSet, predictions: dict[str, set[Triple]]) -> Scores:
    """Micro TP/FP/FN over items; a prediction on an ``ignore`` pair is neither right nor wrong."""
    sc = Scores(items=len(gold.items))
    for item in gold.items:
        want = {_norm(t, gold.directed) for t in item.triples}
        got = {_norm(t, gold.directed) for t in predictions.get(item.id, set())}
        ignore = item.ignore if gold.directed else {tuple(sorted(p)) for p in item.ignore}
        for t in got:
            if gold.scope is not None and not (t[0] in gold.scope and t[1] in gold.scope):
                sc.outside += 1
            elif t in want:
                sc.tp += 1
            elif (t[0], t[1]) not in ignore:
                sc.fp += 1
                sc.errors.append((item.id, "fp", repr(t)))
        for t in want - got:
            sc.fn += 1
            sc.errors.append((item.id, "fn", repr(t)))
    return sc


def evaluate(gold: GoldSet, extractor: Extractor, *, grounding: GroundingConfig = GroundingConfig()) -> Scores:
    """Run an extractor over a gold set and score it."""
    t0 = time.perf_counter()
    sc = score_predictions(gold, run_extractor(gold, extractor, grounding=grounding))
    sc.seconds = time.perf_counter() - t0
    return sc


__all__ = [
    "GoldItem",
    "GoldSet",
    "Scores",
    "claim_triple",
    "evaluate",
    "load_bel_gold",
    "load_biored_gold",
    "load_sachs_tsv",
    "run_extractor",
    "score_predictions",
]
