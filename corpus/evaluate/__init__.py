"""The evaluation harness: gold sets (BEL, the Sachs statement table, BioRED) and claim-level scoring of
any extractor, apart from the product path (ingest never imports it).

    from theorycov.corpus import evaluate as ev
    gold = ev.load_bel_gold("small_corpus_dev.bel", lexicon=load_lexicon(), proteins_only=True)
    print(ev.evaluate(gold, RuleExtractor()).f1)
"""
from __future__ import annotations

from theorycov.corpus.evaluate.gold import (
    POLAR,
    SCORED_KINDS,
    GoldItem,
    GoldSet,
    Triple,
    load_bel_gold,
    load_biored_gold,
    load_sachs_tsv,
)
from theorycov.corpus.evaluate.scoring import Scores, claim_triple, evaluate, run_extractor, score_predictions

__all__ = [
    "GoldItem",
    "GoldSet",
    "POLAR",
    "SCORED_KINDS",
    "Scores",
    "Triple",
    "claim_triple",
    "evaluate",
    "load_bel_gold",
    "load_biored_gold",
    "load_sachs_tsv",
    "run_extractor",
    "score_predictions",
]
