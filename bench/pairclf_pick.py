"""Pick how the language model and the second opinion combine (corpus/llm/second.py: gate, lam, accept,
sign_weight) on BioRED Train, never on BEL dev, BioRED Dev or the Sachs table.

A seeded sample of Train abstracts (all entity types, as BioRED Dev is scored) is read by the branch
translator, its pairs gated by the classifier's OUT-OF-FOLD opinion (bench/results/pairclf_oof.npz from
bench/pairclf_train.py: the opinion on an abstract's pair comes from a fold model that never saw the
abstract); then every combination of the grid is replayed from the cached answers and scored with the
BioRED measure (signed, undirected, per abstract). The model alone is the row lam = 0, sign_weight 0 at
accept 0.35 (on the gated pairs: a pair below the smallest gate is never asked in this sample).

    THEORYCOV_LLM_THREADS=1 python bench/pairclf_pick.py            # asks the sample's pairs (~30 min), then replays
    python bench/pairclf_pick.py --cache-only                        # replay only

Prints the grid's best rows; with --record, appends the pick to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, REPO, RESULTS, CacheOnly, Tolerant, within_budget  # noqa: E402
from pairclf_train import OOF, sentence_key  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.grounding import Grounder  # noqa: E402
from theorycov.corpus.llm import AnswerCache, LLMTranslator, TranslatorConfig  # noqa: E402
from theorycov.corpus.llm.second import Mix, related  # noqa: E402
from theorycov.corpus.pairclf.data import sentence_pairs  # noqa: E402
from theorycov.corpus.sentences import split_text  # noqa: E402
from theorycov.corpus.types import Evidence, Mention, Sentence  # noqa: E402

GRID = {"gate": (0.05, 0.1, 0.2, 0.3), "lam": (0.0, 0.25, 0.5, 0.75, 1.0),
        "accept": (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6), "sign_weight": (0.0, 1.0)}


class OutOfFold(LLMTranslator):
    """The branch translator whose second opinion is read from the out-of-fold file, not the shipped weights."""

    def __init__(self, *args, oof: dict[tuple[str, str, str], tuple[float, ...]], **kw) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kw)
        self.oof = oof

    def _opinions(self, text: str, mentions: list[Mention], names: list[str],
                  skip: set[frozenset[str]]) -> dict[frozenset[str], tuple[float, ...]]:
        h = sentence_key(text)
        out = {}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                op = self.oof.get((h, a, b)) or self.oof.get((h, b, a))
                if op is None:
                    raise KeyError(f"no out-of-fold opinion for ({a}, {b}) in {text[:60]!r}: rerun bench/pairclf_train.py")
                out[frozenset((a, b))] = op
        return out


def load_oof() -> dict[tuple[str, str, str], tuple[float, ...]]:
    import numpy as np

    z = np.load(OOF)
    return {(s, a, b): tuple(float(x) for x in p) for s, a, b, p in zip(z["sentence"], z["a"], z["b"], z["P"])}


def read(gold: ev.GoldSet) -> list[tuple[str, list[tuple[Sentence, list[Mention]]]]]:
    """Per item, its sentences with >= 2 grounded variables and their mentions (grounded once)."""
    out = []
    for item in gold.items:
        spans = split_text(item.text)
        sents = []
        for (s, e), ms in zip(spans, Grounder(item.domain).annotate([item.text[s:e] for s, e in spans])):  # type: ignore[arg-type]
            if len({m.variable for m in ms if m.variable}) >= 2:
                sents.append((Sentence(item.text[s:e], 0, s, e), ms))
        out.append((item.id, sents))
    return out


def sample(gold: ev.GoldSet, oof: dict, budget: int, gate: float, seed: int) -> ev.GoldSet:
    """Train abstracts in seeded order while the ordered pairs at or above ``gate`` fit ``budget``."""
    def cost(i: int) -> int:
        n = 0
        for _, sents in read(ev.GoldSet("one", (gold.items[i],), None, directed=False)):
            for sent, ms in sents:
                _, pairs = sentence_pairs(sent.text, ms)
                h = sentence_key(sent.text)
                n += 2 * sum(1 for a, b in pairs if related(oof.get((h, a, b)) or oof.get((h, b, a)) or (1, 0, 0, 0)) >= gate)
        return n

    keep, used = within_budget(len(gold.items), cost, budget, seed, slack=10)
    return ev.GoldSet(f"biored:Train[{len(keep)} abstracts, {used} ordered pairs at gate {gate}, seed {seed}]",
                      tuple(gold.items[i] for i in keep), None, directed=False)


def gene_view(gold: ev.GoldSet, preds: dict[str, set[ev.Triple]]) -> tuple[ev.GoldSet, dict[str, set[ev.Triple]]]:
    """Gold and predictions restricted to gene-gene pairs (the counterpart of BEL's protein-protein scope)."""
    from theorycov.corpus.readers.pubtator import parse_pubtator

    docs, _ = parse_pubtator((DATA / "biored" / "Train.PubTator").read_text(encoding="utf-8"))
    genes = {d.pmid: {i for *_, t, ids in d.entities if t == "GeneOrGeneProduct" for i in ids.split(",")} for d in docs}
    keep = lambda doc, t: t[0] in genes[doc] and t[1] in genes[doc]  # noqa: E731
    items = tuple(ev.GoldItem(it.id, it.text, frozenset(t for t in it.triples if keep(it.id, t)), it.ignore, it.domain)
                  for it in gold.items)
    return (ev.GoldSet(gold.name + " gene-gene", items, None, directed=False),
            {d: {t for t in ts if keep(d, t)} for d, ts in preds.items()})


def replay(gold: ev.GoldSet, docs, tr: LLMTranslator, genes: bool = False) -> ev.Scores:  # noqa: ANN001
    """Score the translator on pre-grounded sentences (``genes``: gene-gene pairs only)."""
    tol = Tolerant(tr)
    preds = {}
    for doc, sents in docs:
        got = set()
        for sent, ms in sents:
            for c in tol.extract(sent, ms, evidence=Evidence(sent.text)):
                if (t := ev.claim_triple(c)) is not None:
                    got.add(t)
        preds[doc] = got
    return ev.score_predictions(*gene_view(gold, preds)) if genes else ev.score_predictions(gold, preds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=900, help="ordered pairs asked (at the smallest gate)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--gates", default=",".join(map(str, GRID["gate"])), help="gates tried (the smallest one sets what is asked)")
    ap.add_argument("--cache-only", action="store_true")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    GRID["gate"] = tuple(float(g) for g in args.gates.split(","))
    oof = load_oof()
    full = ev.load_biored_gold(DATA / "biored" / "Train.PubTator")
    gmin = min(GRID["gate"])
    gold = sample(full, oof, args.budget, gmin, args.seed)
    docs = read(gold)
    print(gold.name, flush=True)
    cache = AnswerCache(RESULTS / ".llm_cache.sqlite")
    if not args.cache_only:
        from theorycov.corpus.llm import LlamaCppBackend

        tr = OutOfFold(LlamaCppBackend(), cache=cache, config=TranslatorConfig(mix=Mix(gate=gmin)), oof=oof)
        t0 = time.perf_counter()
        replay(gold, docs, tr)
        print(f"asked: {tr.stats.line()} in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for gate, lam, accept, sw in itertools.product(*GRID.values()):
        mix = Mix(lam=lam, accept=accept, sign_weight=sw, gate=gate)
        tr = OutOfFold(CacheOnly(), cache=cache, config=TranslatorConfig(mix=mix), oof=oof)
        sc = replay(gold, docs, tr)
        rows.append((sc.f1, sc.precision, sc.recall, mix, tr.stats.questions))
        if mix in (Mix(lam=0.0, accept=0.35, sign_weight=0.0, gate=gmin), Mix(lam=0.75, accept=0.35, sign_weight=1.0, gate=0.3)):
            g = replay(gold, docs, OutOfFold(CacheOnly(), cache=cache, config=TranslatorConfig(mix=mix), oof=oof), genes=True)
            print(f"gene-gene pairs, {mix}: F1 {g.f1:.3f} (P {g.precision:.3f} R {g.recall:.3f}, tp {g.tp} fp {g.fp} fn {g.fn})")
    rows.sort(key=lambda r: -r[0])
    alone = next(r for r in rows if r[3] == Mix(lam=0.0, accept=0.35, sign_weight=0.0, gate=gmin))
    lines = [f"{f:.3f} (P {p:.3f} R {r:.3f}) {m} questions {q}" for f, p, r, m, q in rows[:12]]
    print("\n".join(lines))
    print(f"model alone (lam 0, accept 0.35, gate {gmin}): F1 {alone[0]:.3f} (P {alone[1]:.3f} R {alone[2]:.3f}) questions {alone[4]}")
    for lam in GRID["lam"]:
        best = max((r for r in rows if r[3].lam == lam), key=lambda r: r[0])
        print(f"best at lam {lam}: {best[0]:.3f} (P {best[1]:.3f} R {best[2]:.3f}) {best[3]}")
    if args.record:
        f, p, r, m, q = rows[0]
        with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\npairclf_pick ({datetime.now(timezone.utc).isoformat(timespec='seconds')}, "
                     f"`python bench/pairclf_pick.py --cache-only --record`): on {gold.name}, out-of-fold opinions, "
                     f"grid {GRID}: best {m} F1 {f:.3f} (P {p:.3f} R {r:.3f}, {q} questions); the model alone on the "
                     f"same gated pairs {alone[0]:.3f} (P {alone[1]:.3f} R {alone[2]:.3f}, {alone[4]} questions).\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
