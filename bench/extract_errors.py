"""Where the language-model translator goes wrong on BEL dev: every false negative and false positive
of bench/extract_eval.py's BEL dev row, put in one class each, from the answers cached by that run
(bench/results/.llm_cache.sqlite). No model is loaded: a sentence whose answers are not cached is
reported, not asked.

    python bench/extract_errors.py            # after python bench/extract_eval.py --bel-items 0 ...
    python bench/extract_errors.py --show 5   # and a few examples of each class

False negatives: an end not grounded in the item's text (coreference, the curator's isoform or species,
"this cytokine"), both grounded but never in one sentence, a pair past max_variables, the pair asked
and answered "none" (no label reaches accept), a tie the syntax did not orient, the reverse direction
claimed, the opposite sign claimed. False positives: the reverse or opposite sign of a gold triple, a
claim sharing one end and the sign of a gold triple (family vs member, a chain), one touching a gold
entity otherwise, one in an item whose statements are all unscored (pmod, processes), the rest.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, RESULTS, CacheOnly  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.grounding import Grounder  # noqa: E402
from theorycov.corpus.llm import AnswerCache, LLMTranslator  # noqa: E402
from theorycov.corpus.llm.backends import BackendError  # noqa: E402
from theorycov.corpus.llm.translator import grounded_variables  # noqa: E402
from theorycov.corpus.sentences import split_text  # noqa: E402
from theorycov.corpus.types import Evidence, Sentence  # noqa: E402


def read(gold: ev.GoldSet, tr: LLMTranslator) -> tuple[dict, dict, dict, dict, int]:
    """Predictions, per item the grounded variables and the pairs found in one sentence, per (item,
    unordered pair) the two directions' best label probabilities; and the count of uncached sentences."""
    preds: dict[str, set[ev.Triple]] = defaultdict(set)
    grounded: dict[str, set[str]] = defaultdict(set)
    together: dict[str, set[frozenset[str]]] = defaultdict(set)
    probs: dict[tuple[str, frozenset[str]], dict[tuple[str, str], float]] = {}
    missing = 0
    grounder = Grounder(gold.domain)  # type: ignore[arg-type]
    for item in gold.items:
        spans = split_text(item.text)
        for (s, e), mentions in zip(spans, grounder.annotate([item.text[s:e] for s, e in spans])):
            names = list(grounded_variables(mentions))
            grounded[item.id].update(names)
            together[item.id].update(frozenset((a, b)) for a in names for b in names if a != b)
            if len(names) < 2:
                continue
            sent = Sentence(item.text[s:e], 0, s, e)
            try:
                claims = tr.extract(sent, mentions, evidence=Evidence(sent.text))
            except BackendError:
                missing += 1
                continue
            preds[item.id].update(t for c in claims if (t := ev.claim_triple(c)) is not None)
            for (x, y), dist in zip(tr.last_pairs, tr.last_dists or []):
                probs.setdefault((item.id, frozenset((x, y))), {})[(x, y)] = max(dist[:2])
    return preds, grounded, together, probs, missing


def classify(gold: ev.GoldSet, preds: dict, grounded: dict, together: dict, probs: dict, tr: LLMTranslator) -> dict[str, list]:
    """(kind, class) -> [(item, triple)] for every scored error."""
    accept = tr.config.sentence_accept
    out: dict[str, list] = defaultdict(list)
    for item in gold.items:
        want, got = set(item.triples), {t for t in preds.get(item.id, set())
                                         if gold.scope is None or (t[0] in gold.scope and t[1] in gold.scope)}
        for c, e, s in want - got:
            pair, g = frozenset((c, e)), grounded[item.id]
            if c not in g or e not in g:
                k = "an end not grounded in the text"
            elif pair not in together[item.id]:
                k = "ends grounded, never in one sentence"
            elif (item.id, pair) not in probs:
                k = "not asked (coordinated, or past max_variables)"
            elif (e, c, s) in got or (e, c, -s) in got:
                k = "reverse direction claimed"
            elif (c, e, -s) in got:
                k = "opposite sign claimed"
            elif max(probs[(item.id, pair)].values()) < accept:
                k = "answered none (no label reaches accept)"
            else:
                k = "tie not oriented (or the label too weak)"
            out[f"FN {k}"].append((item.id, (c, e, s)))
        for c, e, s in got - want:
            if (c, e) in item.ignore:
                continue
            if (e, c, s) in want or (e, c, -s) in want:
                k = "reverse of a gold triple"
            elif (c, e, -s) in want:
                k = "opposite sign of a gold triple"
            elif not want:
                k = "item with no scored statement (pmod, process only)"
            elif any((c == a) != (e == b) and s == t for a, b, t in want):
                k = "shares one end and the sign with a gold triple (family/member, chain)"
            elif any({c, e} & {a, b} for a, b, _ in want):
                k = "touches a gold entity otherwise"
            else:
                k = "unrelated to the item's gold"
            out[f"FP {k}"].append((item.id, (c, e, s)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", type=int, default=0, help="examples per class")
    args = ap.parse_args()
    from theorycov.corpus.lexicon import load_lexicon

    gold = ev.load_bel_gold(DATA / "bel" / "small_corpus_dev.bel", lexicon=load_lexicon(), proteins_only=True)
    tr = LLMTranslator(CacheOnly(), cache=AnswerCache(RESULTS / ".llm_cache.sqlite"))
    preds, grounded, together, probs, missing = read(gold, tr)
    sc = ev.score_predictions(gold, preds)
    print(f"BEL dev, protein-protein: tp {sc.tp} fp {sc.fp} fn {sc.fn} ({sc.outside} claims out of scope), "
          f"P {sc.precision:.3f} R {sc.recall:.3f} F1 {sc.f1:.3f}; {missing} sentences not cached")
    errors = classify(gold, preds, grounded, together, probs, tr)
    text = {it.id: it.text for it in gold.items}
    for kind in ("FN", "FP"):
        rows = sorted(((len(v), k) for k, v in errors.items() if k.startswith(kind)), reverse=True)
        print(f"{kind} ({sum(n for n, _ in rows)}):")
        for n, k in rows:
            print(f"  {n:4d}  {k[3:]}")
            for item, t in errors[k][: args.show]:
                print(f"          {t}  {text[item][:140]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
