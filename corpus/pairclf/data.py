"""Training pairs for the second opinion from gold documents (BioRED Train), read as ingest reads them.

Every sentence of a gold item is split and grounded exactly as :func:`theorycov.corpus.evaluate.run_extractor`
does (same splitter, same :class:`~theorycov.corpus.grounding.Grounder`, coreference included); each
unordered pair of grounded variables in a sentence is one example, labelled with the document's relation
between the two (BioRED's relations are stated per abstract, not per sentence: distant supervision, so a
sentence that merely lists both gets the abstract's label too):

    0 none       no relation in the gold
    1 positive   a Positive_Correlation
    2 negative   a Negative_Correlation
    3 other      any other relation (Association, Bind, ...): neither right nor wrong in the measure
"""
from __future__ import annotations

from dataclasses import dataclass

from theorycov.corpus.evaluate.gold import GoldSet
from theorycov.corpus.grounding import Grounder
from theorycov.corpus.llm.extractor import grounded_variables
from theorycov.corpus.sentences import split_text
from theorycov.corpus.types import Mention
from theorycov.corpus.untrusted import stated_mentions

LABELS = ("none", "positive", "negative", "other")


@dataclass(frozen=True)
class PairSet:
    """Sentences with their pairs, and per pair its label and its document (for grouped folds)."""

    sentences: list[tuple[str, list[Mention], list[tuple[str, str]]]]
    labels: list[int]  # index into LABELS, one per pair, in sentence order
    groups: list[str]  # the gold item's id, one per pair

    def __len__(self) -> int:
        return len(self.labels)


def sentence_pairs(text: str, mentions: list[Mention]) -> tuple[list[Mention], list[tuple[str, str]]]:
    """The mentions the translator sees (corpus/untrusted.py) and the unordered pairs of their grounded
    variables, in order of first mention (the order the translator asks them)."""
    ms = stated_mentions(text, mentions)
    names = list(grounded_variables(ms))
    return ms, [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]


def gold_pairs(gold: GoldSet) -> PairSet:
    """Every sentence pair of every item of an undirected gold set (see the module docstring)."""
    if gold.directed:
        raise ValueError(f"{gold.name}: pair labels are read from an undirected gold set (BioRED)")
    sentences, labels, groups = [], [], []
    for item in gold.items:
        dom = item.domain or gold.domain
        if dom is None:
            raise ValueError(f"gold item {item.id} has no domain")
        sign = {frozenset((a, b)): (1 if s > 0 else 2) for a, b, s in item.triples}
        other = {frozenset(p) for p in item.ignore}
        spans = split_text(item.text)
        for (s, e), mentions in zip(spans, Grounder(dom).annotate([item.text[s:e] for s, e in spans])):
            text = item.text[s:e]
            ms, pairs = sentence_pairs(text, mentions)
            if not pairs:
                continue
            sentences.append((text, ms, pairs))
            for a, b in pairs:
                key = frozenset((a, b))
                labels.append(sign.get(key, 3 if key in other else 0))
                groups.append(item.id)
    return PairSet(sentences, labels, groups)


__all__ = ["LABELS", "PairSet", "gold_pairs", "sentence_pairs"]
