"""Train the supervised second opinion (corpus/pairclf/) on BioRED Train, and nothing else.

Every sentence pair of the 400 Train abstracts, read as ingest reads them, labelled with the abstract's
relation (none / positive / negative / other); MiniLM features of the marked pair; a multinomial
logistic regression whose L2 strength C is picked by 5-fold cross-validation grouped by abstract (the
sentence-pair F1 of signed labels at the best threshold, "other" pairs unscored). Reports the
out-of-fold figures at the sentence-pair level and at the abstract level (the BioRED measure: signed,
undirected, per abstract), beside the rule baseline's on the same abstracts, then fits on all of Train.

    python bench/pairclf_train.py            # ~6 min on 2 busy cores; writes the weights and the OOF file

Writes theorycov/data/pairclf_biored_train.npz (the shipped weights) and
bench/results/pairclf_oof.npz (out-of-fold probabilities per pair, for bench/pairclf_pick.py: a pair's
opinion there comes from a model that never saw its abstract); prints a summary, appends it to
bench/RESULTS.md unless --no-record.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, REPO, RESULTS, score  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.pairclf.data import gold_pairs  # noqa: E402
from theorycov.corpus.pairclf.features import pair_features  # noqa: E402
from theorycov.corpus.pairclf.model import DEFAULT_WEIGHTS, cross_validated, train  # noqa: E402

OOF = RESULTS / "pairclf_oof.npz"


def sentence_key(text: str) -> str:
    """A short stable key of a sentence's text (the OOF file is looked up by it)."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def pair_f1(P, y, t: float) -> tuple[float, float, float]:  # noqa: ANN001
    """Sentence-pair F1 of signed labels: claimed when P(pos) + P(neg) >= t, with the likelier sign."""
    import numpy as np

    pred = np.where(P[:, 1] + P[:, 2] >= t, np.where(P[:, 1] >= P[:, 2], 1, 2), 0)
    scored = y != 3
    tp = int(((pred == y) & (pred > 0) & scored).sum())
    fp = int(((pred > 0) & (pred != y) & scored).sum())
    fn = int(((y == 1) | (y == 2)).sum()) - tp
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def abstract_f1(gold: ev.GoldSet, keys: list[tuple[str, str, str]], P, t: float) -> ev.Scores:  # noqa: ANN001
    """The BioRED measure for the classifier alone: per abstract, a pair is claimed with the sign of its
    most confident sentence when that sentence's P(pos) + P(neg) >= t."""
    best: dict[tuple[str, tuple[str, str]], tuple[float, int]] = {}
    for (doc, a, b), p in zip(keys, P):
        r, k = float(p[1] + p[2]), (doc, tuple(sorted((a, b))))
        if r >= t and r > best.get(k, (0.0, 0))[0]:
            best[k] = (r, 1 if p[1] >= p[2] else -1)
    preds: dict[str, set[ev.Triple]] = {it.id: set() for it in gold.items}
    for (doc, (a, b)), (_, s) in best.items():
        preds[doc].add((a, b, s))
    return ev.score_predictions(gold, preds)


def main() -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--C", default="0.0003,0.001,0.003", help="L2 strengths tried by cross-validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    gold = ev.load_biored_gold(DATA / "biored" / "Train.PubTator")
    ps = gold_pairs(gold)
    X = pair_features(ps.sentences)
    y, groups = np.asarray(ps.labels), np.asarray(ps.groups)
    keys = [(doc, a, b) for doc, (a, b) in zip(groups, [p for _, _, pairs in ps.sentences for p in pairs])]
    sents = [sentence_key(text) for text, _, pairs in ps.sentences for _ in pairs]
    grid = np.round(np.arange(0.1, 0.8, 0.05), 2)
    tried = {}
    for C in map(float, args.C.split(",")):
        P = cross_validated(X, y, groups, C=C, seed=args.seed)
        f, t = max((pair_f1(P, y, t)[0], t) for t in grid)
        tried[C] = (f, float(t), P)
        print(f"C {C}: out-of-fold sentence-pair F1 {f:.3f} at t {t:.2f}", flush=True)
    C = max(tried, key=lambda c: tried[c][0])
    f, t, P = tried[C]
    doc = {float(tt): abstract_f1(gold, keys, P, tt) for tt in grid}
    t_doc = max(doc, key=lambda tt: doc[tt].f1)
    rules, _, _ = score(gold, __import__("theorycov.corpus.rules", fromlist=["RuleExtractor"]).RuleExtractor())
    note = {"data": "BioRED Train.PubTator, all 400 abstracts, every sentence pair (distant labels per abstract)",
            "pairs": len(y), "labels": {k: int((y == i).sum()) for i, k in enumerate(("none", "positive", "negative", "other"))},
            "C_picked_by": "5-fold GroupKFold by abstract, sentence-pair F1", "C_tried": {str(c): round(v[0], 4) for c, v in tried.items()},
            "cv_pair_f1": round(f, 4), "cv_pair_t": t, "cv_abstract_f1": round(doc[t_doc].f1, 4), "cv_abstract_t": t_doc,
            "cv_abstract_p": round(doc[t_doc].precision, 4), "cv_abstract_r": round(doc[t_doc].recall, 4),
            "rules_abstract_f1": round(rules.f1, 4)}
    clf = train(X, y, C=C, seed=args.seed, note=note)
    DEFAULT_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    clf.save(DEFAULT_WEIGHTS)
    np.savez_compressed(OOF, P=P.astype(np.float32), y=y, doc=np.asarray([k[0] for k in keys]),
                        a=np.asarray([k[1] for k in keys]), b=np.asarray([k[2] for k in keys]), sentence=np.asarray(sents))
    line = (f"pairclf_train ({datetime.now(timezone.utc).isoformat(timespec='seconds')}, `python bench/pairclf_train.py`, "
            f"{time.perf_counter() - t0:.0f} s): C {C} picked by 5-fold CV on BioRED Train ({json.dumps(note['C_tried'])}); "
            f"out-of-fold sentence-pair F1 {f:.3f} (t {t}), abstract-level signed undirected F1 {doc[t_doc].f1:.3f} "
            f"(P {doc[t_doc].precision:.3f} R {doc[t_doc].recall:.3f}, t {t_doc}) against the rules' {rules.f1:.3f} on the same "
            f"400 abstracts; {len(y)} pairs {note['labels']}.")
    print(line)
    if not args.no_record:
        with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write("\n" + line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
