"""Pick the branch translator's accept threshold on data that is not BEL dev: BioRED Train, gene-gene
relations only (the protein-protein counterpart of the BEL measure; undirected, so it says nothing about
the direction margin). Replays every threshold from the answers cached in bench/results/.llm_cache.sqlite;
answers not cached are asked of the model (llama.cpp, THEORYCOV_LLM_THREADS threads).

    THEORYCOV_LLM_THREADS=1 python bench/extract_tune.py              # 29 abstracts, ~800 ordered pairs, ~15 min
    python bench/extract_tune.py --cache-only                          # replay only (fails on a missing answer)

Abstracts are taken in a seeded order while their ordered pairs (every pair of a
sentence, unless max_variables caps them) fit the budget. Prints P/R/F1 per threshold; nothing is recorded.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, RESULTS, CacheOnly, score, within_budget  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.grounding import Grounder  # noqa: E402
from theorycov.corpus.llm import AnswerCache, LLMTranslator, TranslatorConfig  # noqa: E402
from theorycov.corpus.llm.translator import grounded_variables  # noqa: E402
from theorycov.corpus.sentences import split_text  # noqa: E402

GENES = frozenset({"GeneOrGeneProduct"})


def ordered_pairs(item: ev.GoldItem, cap: int | None) -> int:
    """Ordered pairs the branch strategy can ask about in this item (at most ``cap`` entities a sentence)."""
    spans = split_text(item.text)
    n = 0
    for ms in Grounder(item.domain).annotate([item.text[s:e] for s, e in spans]):  # type: ignore[arg-type]
        k = len(grounded_variables(ms)) if cap is None else min(len(grounded_variables(ms)), cap)
        n += k * (k - 1) if k >= 2 else 0
    return n


def tuning_set(budget: int, seed: int, cap: int | None) -> ev.GoldSet:
    """BioRED Train abstracts with >= 2 gene variables, in seeded order, while the pairs fit ``budget``."""
    gold = ev.load_biored_gold(DATA / "biored" / "Train.PubTator", types=GENES)
    items = [it for it in gold.items if it.domain is not None and len(it.domain.variables) >= 2]
    keep, used = within_budget(len(items), lambda i: ordered_pairs(items[i], cap), budget, seed)
    return ev.GoldSet(f"biored-genes:Train[{len(keep)} abstracts, {used} ordered pairs, seed {seed}]",
                      tuple(items[i] for i in keep), None, directed=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=798, help="ordered pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-only", action="store_true")
    ap.add_argument("--accept", type=float, nargs="+", default=[0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6])
    args = ap.parse_args()
    base = TranslatorConfig()
    gold = tuning_set(args.budget, args.seed, base.max_variables)
    if args.cache_only:
        backend = CacheOnly()
    else:
        from theorycov.corpus.llm import LlamaCppBackend

        backend = LlamaCppBackend()
    cache = AnswerCache(RESULTS / ".llm_cache.sqlite")
    print(f"{gold.name}: {gold.n_triples} gold triples; margin {base.sentence_margin}, tie_break {base.tie_break}")
    for accept in args.accept:
        tr = LLMTranslator(backend, cache=cache, config=dataclasses.replace(base, sentence_accept=accept))
        sc, failures, _ = score(gold, tr)
        print(f"accept {accept:.2f}: P {sc.precision:.3f} R {sc.recall:.3f} F1 {sc.f1:.3f} "
              f"(tp {sc.tp} fp {sc.fp} fn {sc.fn}; {failures} failed)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
