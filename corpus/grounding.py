"""Grounding: find the mentions of a domain's variables in a sentence, and refuse the rest with a reason.

1. Alias match: every window of up to ``max_window`` word tokens (joined only by spaces, hyphens,
   slashes, brackets or a comma without a space, so "PI(4,5)P2" and "c-Jun N-terminal kinase" are
   one window) is looked up by :meth:`Domain.lookup`, longest window first. A ``not_alias`` hit is a
   rejection, so "MEKK1" never becomes Mek.
2. Embedding nearest neighbour: a gene-like token group ("STAT3", "PI3K", "Raf1-kinase") that no alias
   matches is embedded with all-MiniLM-L6-v2 and compared with every alias; it grounds when the cosine
   similarity reaches ``threshold`` and is rejected otherwise, with the nearest alias and its score.

A rejected mention has ``variable=None``, ``method='rejected'`` and a ``reason``; it is never guessed.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from theorycov.corpus.domain import Domain, alias_key
from theorycov.corpus.types import Mention

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[^\W_]+")
_JOIN = re.compile(r"^(?:[ \-/()]|,(?! )|\+){1,3}$")  # what may separate the tokens of one name (not [ ]: citations)
# "Akt1 (5)": a bracketed reference number after a name is a citation, not part of the name; joined, the window
# "Akt1 (5" grounded through its isoform variant "akt15" -> "akt" to the AKT family, over the exact "Akt1" (BEL dev)
_CITE = re.compile(r"\s\($")
_GENE_LIKE = re.compile(r"^(?=.*[A-Za-z])(?:.*\d|.*[A-Z].*[A-Z])")
# Gene-like tokens that are never a signalling molecule: units, statistics, assays, roman numerals.
_STOP = {
    "dna", "rna", "mrna", "cdna", "sirna", "shrna", "mirna", "pcr", "rtpcr", "qpcr", "elisa", "facs", "atp", "adp",
    "gtp", "gdp", "nadph", "ic50", "ec50", "ci", "sd", "sem", "se", "hr", "or", "rr", "usa", "uk", "ii", "iii", "iv",
    "vi", "vii", "viii", "ix", "xi", "xii", "ph", "od", "nmr", "ms", "lcms", "uv", "kda", "ser", "thr", "tyr",
    "aa", "wt", "ko", "ko1", "ko2", "h2o2", "ros", "no", "co2", "o2", "ca2", "na", "kcl", "nacl", "dmso", "pbs",
    "bsa", "fbs", "igg", "hek293", "hela", "cos7", "nih3t3", "jurkat", "et", "al", "fig", "figs", "table",
}  # fmt: skip


@dataclass(frozen=True)
class GroundingConfig:
    """How mentions are found and grounded."""

    use_embeddings: bool = True  # False: alias matching only (fast; gene-like leftovers are rejected)
    threshold: float = 0.86  # cosine to the nearest alias; 0.85 lets MEKK1 -> MEK1 (0.852) through
    prefilter: float = 0.4  # trigram Dice with the nearest alias key below this: rejected without embedding
    max_window: int = 8  # longest alias in tokens ("c-Jun NH2-terminal kinase" is 5)
    record_candidates: bool = True  # report gene-like token groups that ground nowhere as rejected mentions
    coreference: bool = True  # abbreviations, stem ellipses and definite descriptions (corpus/coref.py)


@dataclass
class _AliasIndex:
    aliases: list[str]
    variables: list[str]
    matrix: "np.ndarray"  # (n_aliases, 384), unit rows


_ALIAS_CACHE: dict[str, _AliasIndex] = {}


@dataclass
class Grounder:
    """Mentions of one domain's variables; embedding results are cached per surface form."""

    domain: Domain
    config: GroundingConfig = GroundingConfig()
    _cache: dict[str, Mention] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ public API
    def mentions(self, sentence: str) -> list[Mention]:
        """Grounded and rejected mentions of one sentence, in text order."""
        return self.annotate([sentence])[0]

    def annotate(self, sentences: list[str]) -> list[list[Mention]]:
        """Mentions of many sentences; the embedding model sees every unresolved form once, in one batch.
        The sentences of one call are one document: an abbreviation defined in one grounds in the others."""
        found = [self._alias_pass(s) for s in sentences]
        pending = sorted({c for _, cands in found for c, _, _ in cands if c not in self._cache})
        if pending:
            self._resolve(pending)
        out: list[list[Mention]] = []
        for mentions, cands in found:
            for text, start, end in cands:
                m = self._cache[text]
                mentions.append(Mention(text, start, end, m.variable, m.score, m.method, m.reason))
            out.append(sorted(mentions, key=lambda m: (m.start, -m.end)))
        if self.config.coreference:
            from theorycov.corpus.coref import resolve

            out = resolve(sentences, out, self.domain)
        if not self.config.record_candidates:
            out = [[m for m in ms if m.variable is not None or m.method == "rejected" and "not an alias" in m.reason] for ms in out]
        return out

    def prefetch(self, names: list[str]) -> None:
        """Resolve many bare names in one embedding batch (before :meth:`ground_name` on each)."""
        todo = sorted({n for n in names if n not in self._cache and self.domain.lookup(n)[0] is None
                       and not self.domain.lookup(n)[1].startswith("listed as not")})  # fmt: skip
        if todo:
            self._resolve(todo)

    def ground_name(self, name: str) -> Mention:
        """Ground a bare name (a BEL entity, a column header): alias, then embedding."""
        var, how = self.domain.lookup(name)
        if var is not None:
            return Mention(name, 0, len(name), var, 1.0, "alias")
        if how.startswith("listed as not"):
            return Mention(name, 0, len(name), None, 0.0, "rejected", how)
        if name not in self._cache:
            self._resolve([name])
        m = self._cache[name]
        return Mention(name, 0, len(name), m.variable, m.score, m.method, m.reason)

    # ------------------------------------------------------------ internals
    def _alias_pass(self, s: str) -> tuple[list[Mention], list[tuple[str, int, int]]]:
        toks = [(m.start(), m.end()) for m in _TOKEN.finditer(s)]
        mentions: list[Mention] = []
        candidates: list[tuple[str, int, int]] = []
        i = 0
        while i < len(toks):
            hit = None
            last = i
            for j in range(i + 1, min(i + self.config.max_window, len(toks))):
                sep = s[toks[j - 1][1] : toks[j][0]]
                if not _JOIN.match(sep) or (_CITE.search(sep) and s[toks[j][0] : toks[j][1]].isdigit()):
                    break
                last = j
            for j in range(last, i - 1, -1):  # longest window first
                start, end = toks[i][0], toks[j][1]
                var, how = self.domain.lookup(s[start:end])
                if var is not None:
                    hit = (j, Mention(s[start:end], start, end, var, 1.0, "alias"))
                    break
                if how.startswith("listed as not"):
                    hit = (j, Mention(s[start:end], start, end, None, 0.0, "rejected", how))
                    break
            if hit is not None:
                mentions.append(hit[1])
                i = hit[0] + 1
                continue
            # No alias: a hyphen-joined gene-like group ("NF-kappaB", "STAT3") is a candidate.
            j = i
            while j + 1 < len(toks) and s[toks[j][1] : toks[j + 1][0]] in ("-", "/"):
                j += 1
            text = s[toks[i][0] : toks[j][1]]
            if _GENE_LIKE.match(text) and len(text) >= 3 and text.lower().replace("-", "") not in _STOP and not text.isdigit():
                candidates.append((text, toks[i][0], toks[j][1]))
            i = j + 1
        return mentions, candidates

    def _lexical_nearest(self, text: str) -> tuple[float, str]:
        """(Dice coefficient of character trigrams, alias) of the alias spelled most like ``text``."""
        if not hasattr(self, "_trigrams"):
            self._trigrams = [(a, _trigrams(alias_key(a))) for a, _ in self.domain.alias_table()]
        mine = _trigrams(alias_key(text))
        best, best_alias = 0.0, ""
        for alias, grams in self._trigrams:
            dice = 2 * len(mine & grams) / (len(mine) + len(grams) or 1)
            if dice > best:
                best, best_alias = dice, alias
        return best, best_alias

    def _alias_index(self) -> _AliasIndex:
        key = self.domain.content_hash()
        if key not in _ALIAS_CACHE:
            from theorycov.corpus.embed import embed

            table = self.domain.alias_table()
            _ALIAS_CACHE[key] = _AliasIndex([a for a, _ in table], [v for _, v in table], embed([a for a, _ in table]))
        return _ALIAS_CACHE[key]

    def _resolve(self, texts: list[str]) -> None:
        """Ground surface forms no alias matched: embedding nearest neighbour, or a rejection."""
        thr = self.config.threshold
        if not self.config.use_embeddings:
            for t in texts:
                self._cache[t] = Mention(t, 0, len(t), None, 0.0, "rejected", "matches no alias (embedding grounding is off)")
            return
        from theorycov.corpus.embed import embed

        # A cosine of 0.86 between two short names needs shared spelling (MEKK1/MEK1 is 0.85), so forms
        # that share few character trigrams with every alias are refused without running the model.
        close = []
        for t in texts:
            dice, alias = self._lexical_nearest(t)
            if dice >= self.config.prefilter:
                close.append(t)
            else:
                var = self.domain.lookup(alias)[0] if alias else None
                reason = f"matches no alias; nearest spelling is {var} via {alias!r} at trigram Dice {dice:.2f} < {self.config.prefilter:.2f}"
                self._cache[t] = Mention(t, 0, len(t), None, dice, "rejected", reason)
        texts = close
        if not texts:
            return
        idx = self._alias_index()
        sims = embed(texts) @ idx.matrix.T  # (n_texts, n_aliases) cosine similarities
        for t, row in zip(texts, sims):
            k = int(row.argmax())
            score, var, alias = float(row[k]), idx.variables[k], idx.aliases[k]
            if score >= thr:
                self._cache[t] = Mention(t, 0, len(t), var, score, "embedding")
            else:
                reason = f"matches no alias; nearest is {var} via {alias!r} at cosine {score:.2f} < {thr:.2f}"
                self._cache[t] = Mention(t, 0, len(t), None, score, "rejected", reason)


def _trigrams(key: str) -> set[str]:
    padded = f"#{key}#"
    return {padded[i : i + 3] for i in range(max(1, len(padded) - 2))}


def nearest(mention: Mention) -> tuple[str | None, float | None]:
    """The nearest variable named in a rejection reason, and its score (for the database)."""
    m = re.search(r"nearest (?:spelling )?is (\S+) via .* at (?:cosine|trigram Dice) ([0-9.]+)", mention.reason)
    if not m:
        return None, None
    return (None if m.group(1) == "None" else m.group(1)), float(m.group(2))


__all__ = ["Grounder", "GroundingConfig", "nearest"]
