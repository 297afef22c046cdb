"""Claim-level scoring of any extractor against a gold set: precision, recall, F1 of (cause, effect,
polarity) triples, after INDRA's reader benchmarks. :func:`run_extractor` produces predictions with the
same grounding and sentence splitting as ingest; :func:`score_predictions` compares any predictions
(cached model output too) with a gold set.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from theorycov.corpus.evaluate.gold import GoldItem, GoldSet, Triple
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.sentences import split_text
from theorycov.corpus.types import Claim, Evidence, Extractor, Relation, Sentence


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


__all__ = ["Scores", "claim_triple", "evaluate", "run_extractor", "score_predictions"]
