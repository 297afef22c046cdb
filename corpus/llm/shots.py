"""Worked examples retrieved per sentence from a labelled pool (in-context few-shot, issue 17).

The translator's fixed examples (corpus/llm/prompts/sentence.py) are written for this project and are
few. A pool of labelled sentences from another corpus lets each sentence be shown the examples most like
it: the pool's sentences are embedded once (MiniLM, corpus/embed.py) and held in a FAISS inner-product
index; a sentence's nearest examples with claims and nearest examples without are placed, most similar
last, between the fixed examples and the question (Liu et al. 2022, "What makes good in-context
examples for GPT-3?", KATE: nearest neighbours in a sentence-embedding space).

The pool is built from a gold set whose relations carry no direction and are stated per abstract
(BioRED), so its labels are silver. A sentence enters the pool only where its reading is unambiguous:
2-4 grounded variables; every pair the abstract relates with a sign is read by the rule baseline
(corpus/rules.py) in exactly one direction with that sign, which gives the example its direction; every
pair the abstract does not relate has no reading; no pair carries a relation outside the measure
(Association, Bind, ...). Pool files hold sentences of the pool's corpus: build them from the user's
own copy (``build_pool`` then ``ShotPool.save``), never ship them.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theorycov.corpus.evaluate.gold import GoldSet
from theorycov.corpus.evaluate.scoring import claim_triple
from theorycov.corpus.grounding import Grounder
from theorycov.corpus.llm.extractor import grounded_variables
from theorycov.corpus.llm.prompts.sentence import Example
from theorycov.corpus.pairclf.data import sentence_pairs
from theorycov.corpus.rules import RuleExtractor
from theorycov.corpus.sentences import split_text
from theorycov.corpus.types import CorpusError, Evidence, Sentence

__all__ = ["Shot", "ShotPool", "build_pool", "pool_shots"]

MAX_VARIABLES = 4  # longer examples cost prompt tokens on every sentence they are shown with
LABEL = {1: "activates", -1: "inhibits"}
# an example's entity names are shown bare in the prompt's entity list: plain names only (paper text is data)
_PLAIN = re.compile(r"[\w][\w \-+/.,'()]{0,39}")


@dataclass(frozen=True)
class Shot:
    """One worked example: the sentence, its entities (name, written form) and the claims it states
    as (cause, label, effect), the shape of prompts/sentence.py's SENTENCE_EXAMPLES; ``group`` is the
    document it came from."""

    text: str
    entities: tuple[tuple[str, str], ...]
    claims: tuple[tuple[str, str, str], ...]
    group: str = ""

    def example(self) -> Example:
        return self.text, self.entities, self.claims


def pool_shots(gold: GoldSet, *, skip_groups: Iterable[str] = ()) -> list[Shot]:
    """The unambiguous sentences of an undirected gold set (see the module docstring), in document order;
    items whose id is in ``skip_groups`` are left out (e.g. the items a tuning run scores)."""
    if gold.directed:
        raise ValueError(f"{gold.name}: the pool is read from an undirected gold set (BioRED)")
    skip, rules, shots = set(skip_groups), RuleExtractor(), []
    for item in gold.items:
        dom = item.domain or gold.domain
        if item.id in skip or dom is None:
            continue
        sign = {frozenset((a, b)): s for a, b, s in item.triples}
        spans = split_text(item.text)
        for (s, e), mentions in zip(spans, Grounder(dom).annotate([item.text[s:e] for s, e in spans])):
            text = item.text[s:e]
            ms, unordered = sentence_pairs(text, mentions)  # what the translator sees, as the second opinion's data
            names = grounded_variables(ms)
            if not 2 <= len(names) <= MAX_VARIABLES:
                continue
            pairs = {frozenset(p) for p in unordered}
            if pairs & {frozenset(p) for p in item.ignore}:
                continue
            sent = Sentence(text, 0, 0, len(text))
            read = {t for c in rules.extract(sent, ms, evidence=Evidence(text, "", 0, 0, len(text)))
                    if (t := claim_triple(c)) is not None}
            said: dict[frozenset[str], list[tuple[str, str, int]]] = {}
            for c, f, v in read:
                said.setdefault(frozenset((c, f)), []).append((c, f, v))
            if any(p not in said if p in sign else p in said for p in pairs):
                continue
            if any(len(said[p]) != 1 or said[p][0][2] != sign[p] for p in said):
                continue
            # the pool's variables are database ids (MESH, NCBI Gene): the example names each by how it is written
            shown = {n: forms[0] for n, forms in names.items()}
            if len(set(shown.values())) < len(shown) or not all(_PLAIN.fullmatch(w) for w in shown.values()):
                continue
            claims = tuple((shown[c], LABEL[v], shown[f]) for c, f, v in sorted(t for v in said.values() for t in v))
            shots.append(Shot(text, tuple((w, w) for w in shown.values()), claims, item.id))
    return shots


class ShotPool:
    """Shots with their unit-norm MiniLM embeddings (shape (n, 384)) in a FAISS inner-product index."""

    def __init__(self, shots: list[Shot], vectors: np.ndarray) -> None:
        import faiss

        if len(shots) != len(vectors):
            raise ValueError(f"{len(shots)} shots but {len(vectors)} vectors")
        self.shots, self.vectors = shots, np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])  # a few thousand rows: exact search is ~1 ms
        self.index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.shots)

    def nearest(self, text: str, with_claims: int, without: int,
                embed: Callable[[list[str]], np.ndarray] | None = None) -> list[Shot]:
        """The ``with_claims`` most similar shots that state claims and the ``without`` most similar that
        state none, most similar last (nearest the question); never the sentence itself."""
        if embed is None:
            from theorycov.corpus.embed import embed
        want = {True: with_claims, False: without}
        k = min(len(self), max(64, 8 * (with_claims + without)))
        sims, idx = self.index.search(embed([text]), k)
        chosen: list[tuple[float, Shot]] = []
        for sim, i in zip(sims[0], idx[0]):
            if i < 0:  # fewer rows than asked for
                break
            shot = self.shots[int(i)]
            kind = bool(shot.claims)
            if want[kind] > 0 and shot.text.strip() != text.strip():
                want[kind] -= 1
                chosen.append((float(sim), shot))
        return [s for _, s in sorted(chosen, key=lambda t: t[0])]

    def save(self, path: str | Path) -> None:
        """One .npz: the vectors and the shots as JSON."""
        rows = [[s.text, [list(e) for e in s.entities], [list(c) for c in s.claims], s.group] for s in self.shots]
        np.savez_compressed(Path(path), vectors=self.vectors, shots=np.array(json.dumps(rows)))

    @classmethod
    def load(cls, path: str | Path) -> ShotPool:
        """A pool written by :meth:`save`; a missing or foreign file is a CorpusError saying how to build one."""
        p = Path(path)
        if not p.is_file():
            raise CorpusError(f"no few-shot pool at {p}: build one with theorycov.corpus.llm.shots.build_pool(gold).save(path) "
                              "(e.g. python bench/extract_shots.py --build)")
        try:
            with np.load(p) as z:
                rows, vectors = json.loads(str(z["shots"])), z["vectors"]
        except (KeyError, ValueError, OSError) as exc:
            raise CorpusError(f"{p} is not a few-shot pool file ({exc})") from exc
        shots = [Shot(t, tuple(tuple(e) for e in ents), tuple(tuple(c) for c in cl), g) for t, ents, cl, g in rows]
        return cls(shots, vectors)


def build_pool(gold: GoldSet, *, skip_groups: Iterable[str] = ()) -> ShotPool:
    """:func:`pool_shots` of ``gold``, embedded."""
    from theorycov.corpus.embed import embed

    shots = pool_shots(gold, skip_groups=skip_groups)
    if not shots:
        raise CorpusError(f"{gold.name}: no sentence qualifies as a worked example")
    return ShotPool(shots, embed([s.text for s in shots]))
