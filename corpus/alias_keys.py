"""Alias keys: the one normalization every alias comparison goes through (case, punctuation, spaces and Greek
letters folded), and the looser variants grounding tries when the exact key is not an alias.

Split out of :mod:`theorycov.corpus.domain` (which re-exports :func:`alias_key` and :func:`key_variants`):
the lexicon, coreference and gold scoring use the keys without needing a domain.
"""
from __future__ import annotations

import re
import unicodedata

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
    "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon",
    "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}  # fmt: skip
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# Isoform and subunit suffixes that keep the family: ERK1, ERK1/2 (-> "erk12"), PKCalpha, PLCgamma1.
_ISOFORM_DIGITS = re.compile(r"\d{1,3}$")
_ISOFORM_GREEK = re.compile(r"(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa|lambda|mu)$")
_ISOFORM_GREEK_DIGITS = re.compile(r"^(.*?\d?)(alpha|beta|gamma|delta|epsilon|zeta|theta|iota|kappa)(\d{0,2})$")
_ISOFORM_PREFIX = re.compile(r"^(?:deltan|delta)([a-z].{2,})$|^ta(p\d.*)$")


def alias_key(text: str) -> str:
    """Case-, punctuation-, space- and Greek-insensitive key: 'PI(4,5)P2' -> 'pi45p2', 'PLCγ' -> 'plcgamma'."""
    s = unicodedata.normalize("NFKC", text).lower()
    s = "".join(GREEK.get(ch, ch) for ch in s)
    return _NON_ALNUM.sub("", s)


def key_variants(key: str) -> list[str]:
    """Looser keys to try, in order, when the exact key is not an alias:

    - a plural 's': 'erks' -> 'erk';
    - a Greek isoform letter written as HGNC writes it, its Latin initial: 'gsk3alpha' (GSK-3α) -> 'gsk3a'
      (GSK3A), 'cebpbeta' -> 'cebpb', 'pkacalpha' -> 'pkaca';
    - 'receptor' as the symbol's R: 'il6receptor' (IL-6 receptor) -> 'il6r';
    - an N-terminal isoform prefix: 'deltanp63' (ΔNp63) -> 'p63', 'tap63' -> 'p63';
    - isoform suffixes (digits, a Greek letter, both): 'erk12' -> 'erk', 'pkcalpha' -> 'pkc', 'plcgamma1' -> 'plcgamma'.
    """
    out: list[str] = []
    if len(key) > 3 and key.endswith("s"):
        out.append(key[:-1])
    greek = _ISOFORM_GREEK_DIGITS.match(key)
    if greek and len(greek.group(1)) >= 2:
        out.append(greek.group(1) + greek.group(2)[0] + greek.group(3))
    if len(key) > 9 and key.endswith(("receptor", "receptors")):
        out.append(key[: key.rindex("receptor")] + "r")
    prefix = _ISOFORM_PREFIX.match(key)
    rest = (prefix.group(1) or prefix.group(2)) if prefix else ""
    if rest and (len(rest) <= 5 or any(c.isdigit() for c in rest)):  # ΔFosB, ΔNp63; not δ-catenin
        out += [rest, *key_variants(rest)]
    stem = key
    for _ in range(3):  # 'erk12' -> 'erk'; 'plcgamma1' -> 'plcgamma' -> 'plc'
        new = _ISOFORM_DIGITS.sub("", stem)
        new = new if new != stem else _ISOFORM_GREEK.sub("", stem)
        if new == stem or len(new) < 2:
            break
        out.append(new)
        stem = new
    return list(dict.fromkeys(v for v in out if v != key))
