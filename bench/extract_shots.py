"""Pick the number of retrieved worked examples (corpus/llm/shots.py) on BioRED Train, never on what is scored.

The tuning abstracts (gene-gene pairs, bench/extract_tune.py's tuning_set, seeded) are left out of the pool,
which is built from the rest of BioRED Train (every entity type); each configuration "C,N" (C examples that
state claims, N that state none) is scored on them with the default translator otherwise. ``--build`` writes
the pool of all of Train to bench/results/.shots_biored_train.npz (what extract_eval.py's --shots reads).

    THEORYCOV_LLM_THREADS=1 python bench/extract_shots.py --configs 0,0 2,1   # ~1,200 ordered pairs each
    python bench/extract_shots.py --build

Prints P/R/F1 and model seconds per configuration; nothing is recorded.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, RESULTS, score  # noqa: E402
from extract_tune import tuning_set  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.llm import AnswerCache, LLMTranslator, TranslatorConfig  # noqa: E402
from theorycov.corpus.llm.shots import build_pool  # noqa: E402

TRAIN = DATA / "biored" / "Train.PubTator"
POOL = RESULTS / ".shots_biored_train.npz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=1200, help="ordered pairs of the tuning abstracts")
    ap.add_argument("--seed", type=int, default=1, help="tuning abstracts' order (seed 0 picked the accept threshold)")
    ap.add_argument("--configs", nargs="+", default=["0,0", "2,1"], help="C,N: examples with claims, without")
    ap.add_argument("--cache", default=str(RESULTS / ".llm_cache.sqlite"))
    ap.add_argument("--build", action="store_true", help=f"write the pool of all of Train to {POOL} and stop")
    args = ap.parse_args()
    if not TRAIN.is_file():
        print(f"skipped: {TRAIN} is absent (../shared/data holds BioRED)")
        return 0
    if args.build:
        t0 = time.perf_counter()
        pool = build_pool(ev.load_biored_gold(TRAIN))
        pool.save(POOL)
        n_claims = sum(bool(s.claims) for s in pool.shots)
        print(f"{POOL}: {len(pool)} examples ({n_claims} with claims) in {time.perf_counter() - t0:.0f} s")
        return 0
    from theorycov.corpus.llm import LlamaCppBackend

    base = TranslatorConfig()
    gold = tuning_set(args.budget, args.seed, base.max_variables)
    path = RESULTS / f".shots_tune_s{args.seed}_b{args.budget}.npz"
    if not path.is_file():
        build_pool(ev.load_biored_gold(TRAIN), skip_groups={it.id for it in gold.items}).save(path)
    backend, cache = LlamaCppBackend(), AnswerCache(Path(args.cache))
    print(f"{gold.name}: {gold.n_triples} gold triples; pool {path.name} (the tuning abstracts left out)", flush=True)
    for spec in args.configs:
        c, n = (int(v) for v in spec.split(","))
        cfg = dataclasses.replace(base, shots=c, shots_none=n, shot_pool=str(path) if c + n else None)
        tr = LLMTranslator(backend, cache=cache, config=cfg)
        t0 = time.perf_counter()
        sc, failures, _ = score(gold, tr, label=f"shots {c},{n}")
        print(f"shots {c},{n}: P {sc.precision:.3f} R {sc.recall:.3f} F1 {sc.f1:.3f} (tp {sc.tp} fp {sc.fp} fn {sc.fn}; "
              f"{failures} failed); {time.perf_counter() - t0:.0f} s, {tr.stats.model_s:.0f} s in the model", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
