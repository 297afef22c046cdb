"""What the extraction benchmarks share (bench/extract_eval.py, extract_tune.py, extract_errors.py): where
the data and results live, scoring as ingest runs an extractor, seeded subsets, and a cache-only backend."""
from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.llm.backends import BackendError, Completion  # noqa: E402
from theorycov.corpus.llm.weights import MODEL_SHA256  # noqa: E402
from theorycov.corpus.types import Claim, Evidence, Extractor, Mention, Sentence  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


class CacheOnly:
    """A backend that answers nothing: every answer must come from the cache."""

    model_id = MODEL_SHA256

    def complete(self, messages: list[dict], schema: dict, *, max_tokens: int, skip_if: tuple[str, str] | None = None) -> Completion:
        raise BackendError("answer not cached: run bench/extract_eval.py first")


def progress(label: str, every: int = 10):  # noqa: ANN201
    """An iterable wrapper printing one line per ``every`` items with the extractor's rate (long runs)."""
    def wrap(items: Iterable, stats=None):  # noqa: ANN001, ANN202
        items = list(items)
        t0 = time.perf_counter()
        for i, it in enumerate(items, start=1):
            yield it
            if i % every == 0 or i == len(items):
                rate = f"; {stats.line()}" if stats is not None else ""
                print(f"  {label}: {i}/{len(items)} items, {time.perf_counter() - t0:.0f} s{rate}", file=sys.stderr, flush=True)
    return wrap


class Tolerant(Extractor):
    """Scores an extractor as ingest runs it: a sentence whose answer is malformed keeps the claims that
    did come out (ingest records the error and goes on); the failure is counted."""

    def __init__(self, inner: Extractor) -> None:
        self.inner, self.name, self.version, self.failures = inner, inner.name, inner.version, 0

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        from theorycov.corpus.types import ExtractionError

        try:
            return self.inner.extract(sentence, mentions, evidence=evidence)
        except ExtractionError as exc:
            self.failures += 1
            return list(getattr(exc, "partial_claims", []))


def subset(gold: ev.GoldSet, n: int, seed: int) -> ev.GoldSet:
    """A seeded sample of ``n`` items (all when n <= 0 or n >= the size), in file order."""
    if n <= 0 or n >= len(gold.items):
        return gold
    keep = set(random.Random(seed).sample(range(len(gold.items)), n))
    return ev.GoldSet(gold.name + f"[{n} of {len(gold.items)}, seed {seed}]",
                      tuple(it for i, it in enumerate(gold.items) if i in keep), gold.domain, gold.directed, gold.scope)


def within_budget(n: int, cost: Callable[[int], int], budget: int, seed: int, slack: int = 5) -> tuple[list[int], int]:
    """Indices of ``n`` items in a seeded order, taken while their summed ``cost`` fits ``budget`` (stopping once
    within ``slack`` of it); returned sorted, with the cost used."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    keep, used = [], 0
    for i in order:
        c = cost(i)
        if used + c <= budget:
            keep.append(i)
            used += c
        if used >= budget - slack:
            break
    return sorted(keep), used


def pair_budget(gold: ev.GoldSet, budget: int, seed: int) -> ev.GoldSet:
    """Items in a seeded order, taken while the number of grounded pairs the model must judge stays
    within ``budget`` (BioRED abstracts have ~50 pairs each: 4,871 in Dev, hours on 2 cores)."""
    from theorycov.corpus.grounding import Grounder
    from theorycov.corpus.sentences import split_text

    if budget <= 0:
        return gold
    order = list(range(len(gold.items)))
    random.Random(seed).shuffle(order)
    keep, used = set(), 0
    for i in order:
        item = gold.items[i]
        g = Grounder(item.domain or gold.domain)  # type: ignore[arg-type]
        spans = split_text(item.text)
        n = 0
        for ms in g.annotate([item.text[s:e] for s, e in spans]):
            k = len({m.variable for m in ms if m.variable})
            n += k * (k - 1) // 2
        if used + n <= budget:
            keep.add(i)
            used += n
    return ev.GoldSet(gold.name + f"[{len(keep)} of {len(gold.items)}, <= {budget} pairs, seed {seed}]",
                      tuple(it for i, it in enumerate(gold.items) if i in keep), gold.domain, gold.directed, gold.scope)


def score(gold: ev.GoldSet, extractor: Extractor, *, label: str | None = None) -> tuple[ev.Scores, int, dict[str, set[ev.Triple]]]:
    """Scores, malformed-answer count and predictions of ``extractor`` on ``gold``; with ``label``, a
    progress line every ten items with the extractor's rate."""
    tol = Tolerant(extractor)
    stats = getattr(extractor, "stats", None)
    prog = (lambda items: progress(label)(items, stats)) if label else None
    t0 = time.perf_counter()
    preds = ev.run_extractor(gold, tol, progress=prog)
    sc = ev.score_predictions(gold, preds)
    sc.seconds = time.perf_counter() - t0
    return sc, tol.failures, preds


def sachs_statements(path: Path, gold: ev.GoldSet, preds: dict[str, set[ev.Triple]]) -> dict[str, int]:
    """Statement-level recall on the Sachs table: of its 14 rows, the polarity ones (not pmod) each count
    once, found when the (cause, effect, sign) its row names is predicted for its evidence text. Several
    rows share one evidence text and one node-level triple (three Raf -> Mek rows for A-Raf/C-Raf and
    MEK1/MEK2), which is why the triple-level score has only 5 gold triples."""
    import csv

    item_of = {it.text: it.id for it in gold.items}
    n = scorable = found = 0
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            n += 1
            rel, stmt = row["relation"], row["bel_statement"]
            if rel not in ev.POLAR or "pmod(" in stmt.split(f" {rel} ", 1)[-1]:
                continue
            scorable += 1
            found += (row["subject_node"], row["object_node"], ev.POLAR[rel]) in preds.get(item_of[row["evidence"]], set())
    return {"statements": n, "scorable": scorable, "found": found}


__all__ = ["within_budget", "CacheOnly", "DATA", "REPO", "RESULTS", "Tolerant", "pair_budget", "progress", "sachs_statements", "score", "subset"]
