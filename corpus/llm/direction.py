"""Which of two entities acts on the other: the direction step of the "branch" strategy.

Error analysis of the branch labels on BEL dev (cached answers, corpus/llm/prompts/sentence.py): when a
sentence relates two entities, the 1.5B model gives "effect of X on Y" and "effect of Y on X" nearly the
same probability ("IL-6 activates STAT1": 0.99 and 0.93), so the margin test of :func:`decide` drops the
claim. Three cues break such a tie, cheapest first:

- **coordination**: two entities joined only by "and", commas or a slash ("IL-6, CNTF, LIF and OSM",
  "MKK3 and MKK6") share a role in the sentence; a claim between them is almost always wrong, so the
  pair is not claimed at all (on BEL dev this removed 21 false positives and no true one);
- **a contrastive question**: branching from the same evaluated sentence prompt, the answer key
  "which of X and Y acts on the other" takes one of the two names (its value is constrained to the asked
  pair, like every answer), read from one decoding step; asked in both orders and averaged, so the
  model's preference for the first-named entity cancels;
- **syntax**: the direction the rule baseline reads (passive "X is activated by Y", "Y-mediated X",
  "activation of X by Y", corpus/rules.py); a tie it does not read gives no claim.

Measured on all 412 BEL dev items (protein-protein scope, accept 0.35 picked on BioRED Train gene pairs,
margin 0.1, coordinated pairs skipped): ties dropped F1 0.313, syntax 0.330 (the default), the question
0.307, question then syntax 0.307. The question orients nearly every tie, but 112 of the 133 ties are
pairs the gold does not relate at all; of the 21 it does, the question was right on 15 and syntax on 11
of the 14 it read. The rules' reading doubles as an existence test, which the question is not.
"""
from __future__ import annotations

import math

from theorycov.corpus.llm import second
from theorycov.corpus.llm.prompts.direction import (
    DIRECTION_PROMPT_VERSION,
    direction_key,
    direction_schema,
    parse_direction_answer,
)
from theorycov.corpus.rules import RuleExtractor, coordinated_pairs
from theorycov.corpus.types import Evidence, Mention, Relation, Sentence


def syntax_directions(sentence: Sentence, mentions: list[Mention]) -> set[tuple[str, str]]:
    """Ordered (cause, effect) pairs the rule baseline reads in the sentence, its sign aside."""
    claims = RuleExtractor().extract(sentence, mentions, evidence=Evidence(sentence.text))
    return {(c.cause, c.effect) for c in claims if not c.negated and c.relation is not Relation.NO_EFFECT}


def tied_pairs(pairs: list[tuple[str, str]], dists: list[tuple[float, ...]], *, accept: float,
               margin: float) -> list[tuple[str, str]]:
    """Unordered pairs (as (a, b), in ``pairs`` order) where some label passes ``accept`` but the two
    directions are within ``margin``: the ones :func:`decide` cannot orient by the labels alone."""
    out = []
    for i in range(0, len(pairs), 2):
        pa, pb = max(dists[i][:2]), max(dists[i + 1][:2])
        if max(pa, pb) >= accept and abs(pa - pb) < margin:
            out.append(pairs[i])
    return out


def decide(answers: dict[tuple[str, str], str], dists: list[tuple[float, ...]] | None, *, accept: float,
           margin: float, skip: set[frozenset[str]] = frozenset(), agent: dict[tuple[str, str], float] | None = None,
           syntax: set[tuple[str, str]] = frozenset(), agent_margin: float = 0.0,
           opinions: dict[frozenset[str], tuple[float, ...]] | None = None,
           mix: second.Mix | None = None) -> list[tuple[str, str, str, float]]:
    """At most one claim per unordered pair, as (cause, effect, label, probability).

    A pair in ``skip`` (coordinated) gives none. With probabilities: the best activates/inhibits label of
    either direction must reach ``accept``; the direction is the labels' when one direction's best beats
    the other's by ``margin``; else the contrastive answer's (``agent[(a, b)]`` = P(a acts on b)) when it is
    at least ``agent_margin`` away from 1/2; else the syntactic reading when it names exactly one
    direction; else no claim. The label is the best of the chosen direction. Without probabilities (a
    backend that does not score) the labels are taken as given, unless both directions claim something.
    """
    out = []
    pairs = list(answers)
    agent = agent or {}
    for i in range(0, len(pairs), 2):
        (a, b) = pairs[i]
        if frozenset((a, b)) in skip:
            continue
        if dists is None or len(dists) != len(pairs):
            said = [(x, y, answers[(x, y)]) for x, y in ((a, b), (b, a)) if answers[(x, y)] != "none"]
            if len(said) == 1:
                out.append((*said[0], -1.0))
            continue
        da, db = dists[i], dists[i + 1]
        pa, pb = max(da[:2]), max(db[:2])
        op = opinions.get(frozenset((a, b))) if opinions is not None and mix is not None else None
        if op is not None:
            if not second.exists(max(pa, pb), op, mix):  # type: ignore[arg-type]
                continue
        elif max(pa, pb) < accept:
            continue
        if abs(pa - pb) >= margin:
            forward = pa > pb
        elif (a, b) in agent and abs(agent[(a, b)] - 0.5) > agent_margin:
            forward = agent[(a, b)] > 0.5
        elif ((a, b) in syntax) != ((b, a) in syntax):
            forward = (a, b) in syntax
        else:
            continue
        x, y, dist = (a, b, da) if forward else (b, a, db)
        if op is not None:
            k = second.sign(dist, op, mix)  # type: ignore[arg-type]
            z = (1 - mix.lam) * second.logit(max(pa, pb)) + mix.lam * second.logit(second.related(op))  # type: ignore[union-attr]
            out.append((x, y, ("activates", "inhibits")[k], round(1 / (1 + math.exp(-z)), 4)))
            continue
        k = 0 if dist[0] >= dist[1] else 1
        out.append((x, y, ("activates", "inhibits")[k], dist[k]))
    return out


__all__ = ["DIRECTION_PROMPT_VERSION", "coordinated_pairs", "decide", "direction_key", "direction_schema",
           "parse_direction_answer", "syntax_directions", "tied_pairs"]
