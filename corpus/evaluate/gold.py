"""Gold sets for scoring extractors: items (a sentence or a document) with the (cause, effect, polarity)
triples a reader should find, the pairs it may mention without penalty (``ignore``: statements outside
the measure, such as BEL phosphorylation statements or BioRED associations) and the domain whose
variables name the triples. Part of the evaluation harness, apart from the product path.

- BEL documents (:func:`load_bel_gold`): each evidence text with its activity/amount polarity statements
  (increases, decreases, directlyIncreases, directlyDecreases between abundances or activities); pmod,
  process and correlation statements go to ``ignore``; the domain is built from the gold's own entity
  names (HGNC symbols, Selventa families) through :func:`theorycov.corpus.genes.entity_domain`, the same
  lexicon grounding a user's domain gets: fair, since the extractor must still find them in the text;
- the Sachs statement table (:func:`load_sachs_tsv`): the same, grounded to the shipped Sachs domain;
- BioRED PubTator files (:func:`load_biored_gold`): each abstract with its Positive/Negative_Correlation
  relations (undirected, so pairs are compared without order), a per-document domain of the annotated
  entity ids with their mention texts as aliases.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from theorycov.corpus.domain import Domain, Variable, alias_key, load_domain
from theorycov.corpus.genes import entity_domain
from theorycov.corpus.lexicon import Lexicon
from theorycov.corpus.readers.bel import BelStatement, BelTerm, parse_bel, parse_term
from theorycov.corpus.readers.pubtator import parse_pubtator

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


def _scorable(st: BelStatement) -> bool:
    return (st.relation in POLAR and st.object is not None and st.subject.kind in SCORED_KINDS
            and st.object.kind in SCORED_KINDS and bool(st.subject.entity) and bool(st.object.entity))  # fmt: skip


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
        domain, label_var = entity_domain(f"gold:{Path(path).stem}", [(t.label, t.entity) for t in terms], lexicon)
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


__all__ = ["GoldItem", "GoldSet", "POLAR", "SCORED_KINDS", "Triple", "load_bel_gold", "load_biored_gold", "load_sachs_tsv"]
