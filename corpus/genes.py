"""Domains from gene and family identifiers: the HGNC / FamPlex lexicon (corpus/lexicon.py) turned
into aliases, so that grounding finds "ERK2", "C-Raf" and "PKB" where a domain names MAPK1, RAF1, AKT1.

:func:`entity_domain` builds one variable per distinct entity name (an HGNC symbol, a BEL family) and
gives each the entity's synonyms; a synonym two variables claim at the same rank, or that is another
variable's own name, is given to none: ambiguous text is never grounded.
"""
from __future__ import annotations

from collections.abc import Iterable

from theorycov.corpus.domain import Domain, Variable, alias_key
from theorycov.corpus.lexicon import Lexicon


def entity_domain(name: str, entities: Iterable[tuple[str, str]], lexicon: Lexicon | None = None) -> tuple[Domain, dict[str, str]]:
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




__all__ = ["entity_domain"]
