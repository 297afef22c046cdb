"""Rule-model agreement: a claim the rule baseline reads and the model leans to, at a lower threshold.

The branch labels (corpus/llm/direction.py) need ``accept`` probability for a claim. Many true claims
sit below it: the 1.5B model gives "activators of Raf include ... PKC alpha" 0.19 for PKC activates
Raf. The rule reader (corpus/rules.py) is precise on the constructions it knows and silent elsewhere,
so when it reads the same ordered pair with the same sign, the model's probability need only reach
``accept_agree`` (an ensemble of two weak readers: each vouches for the other's claim). A pair the
labels already decide, a coordinated pair, and a pair the rules read both ways are left alone.
"""
from __future__ import annotations

from theorycov.corpus.rules import RuleExtractor
from theorycov.corpus.types import Evidence, Mention, Relation, Sentence

#: The model's label index per signed rule relation; an unsigned causal reading agrees with either.
_LABEL = {Relation.ACTIVATES: 0, Relation.INHIBITS: 1, Relation.CAUSES: None}


def rule_readings(sentence: Sentence, mentions: list[Mention]) -> dict[tuple[str, str], int | None]:
    """Ordered (cause, effect) pairs the rule baseline asserts in the sentence (not negated, not
    no_effect), each with the model label it names (0 activates, 1 inhibits; None: either, for an
    unsigned reading or one read with both signs)."""
    out: dict[tuple[str, str], int | None] = {}
    for c in RuleExtractor().extract(sentence, mentions, evidence=Evidence(sentence.text)):
        if not c.negated and c.relation in _LABEL:
            out[(c.cause, c.effect)] = _LABEL[c.relation] if (c.cause, c.effect) not in out else None
    return out


def agreed(pairs: list[tuple[str, str]], dists: list[tuple[float, ...]], readings: dict[tuple[str, str], int | None], *,
           accept_agree: float | None, decided: list[tuple[str, str, str, float]],
           skip: set[frozenset[str]] = frozenset()) -> list[tuple[str, str, str, float]]:
    """Claims (cause, effect, label, probability) for undecided, uncoordinated pairs that the rules read in
    one direction only, when the model's probability of the rules' label (its best label for an
    unsigned reading) in that direction reaches ``accept_agree``. ``pairs``/``dists`` as in
    direction.decide: the two orders of each unordered pair next to each other. Nothing when ``accept_agree``
    is None (agreement off)."""
    if accept_agree is None:
        return []
    done = {frozenset((c, e)) for c, e, _, _ in decided}
    out = []
    for i, (x, y) in enumerate(pairs):
        pair = frozenset((x, y))
        if (x, y) not in readings or (y, x) in readings or pair in done or pair in skip:
            continue
        k = readings[(x, y)]
        k = (0 if dists[i][0] >= dists[i][1] else 1) if k is None else k
        if dists[i][k] >= accept_agree:
            out.append((x, y, ("activates", "inhibits")[k], dists[i][k]))
    return out


__all__ = ["agreed", "rule_readings"]
