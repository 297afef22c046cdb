"""What BEL dev says about the translator's decision thresholds, honestly: grouped cross-validation.

    .venv/bin/python bench/extract_cv.py            # needs the answer cache of bench/extract_eval.py (no model calls)

The branch translator's last step (corpus/llm/direction.decide) turns the model's label probabilities, the
second opinion and the tie-breaks into claims under a handful of thresholds (the mix's lam / accept /
sign_weight / gate, the direction margin; or the model alone with its accept). They were picked on BioRED
Train. This replays every BEL dev sentence's decision from the cached answers (the same pipeline as
bench/extract_eval.py, answers from bench/results/.llm_cache.sqlite only) under a grid of thresholds, and asks
what picking them on BEL itself would give: 5 folds grouped by paper (PMID), each fold scored with the
setting that is best on the other four; the folds' counts summed give the cross-validated F1, the figure a
BEL-picked setting can claim. The in-sample best of the grid is printed for scale, never as a result.

Gate: the pairs the default gate (0.2) leaves unasked have no cached answer, so the grid can raise the gate
but not lower it. Prints a table; appends a section to bench/RESULTS.md unless --no-record.
"""
from __future__ import annotations

import argparse
import collections
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract_common import DATA, RESULTS, CacheOnly, Tolerant  # noqa: E402
from gfn_common import command, machine  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.lexicon import load_lexicon  # noqa: E402
from theorycov.corpus.llm import AnswerCache, LLMTranslator  # noqa: E402
from theorycov.corpus.llm import direction as dr  # noqa: E402
from theorycov.corpus.llm import second  # noqa: E402
from theorycov.corpus.llm import translator as tr_mod  # noqa: E402
from theorycov.corpus.llm.second import Mix  # noqa: E402
from theorycov.corpus.llm.translator import TranslatorConfig  # noqa: E402

Counts = tuple[int, int, int]


def capture(gold: ev.GoldSet) -> tuple[list[tuple[str, dict, list | None, dict]], ev.Scores]:
    """Every decide() call of the default translator over ``gold``: (item id, answers, dists, keyword args)."""
    rec: list[tuple[str, dict, list | None, dict]] = []
    current = {"id": ""}
    orig = dr.decide

    def spy(answers, dists, **kw):  # noqa: ANN001, ANN202
        rec.append((current["id"], dict(answers), dists, dict(kw)))
        return orig(answers, dists, **kw)

    def follow(items):  # noqa: ANN001, ANN202
        for it in items:
            current["id"] = it.id
            yield it

    tr_mod.direction.decide = spy
    try:
        made = LLMTranslator(CacheOnly(), cache=AnswerCache(RESULTS / ".llm_cache.sqlite"), config=TranslatorConfig())
        preds = ev.run_extractor(gold, Tolerant(made), progress=follow)
    finally:
        tr_mod.direction.decide = orig
    return rec, ev.score_predictions(gold, preds)


def replay(rec: list, p: dict) -> dict[str, set]:
    """Predicted triples per item under the thresholds ``p``."""
    preds: dict[str, set] = collections.defaultdict(set)
    for iid, answers, dists, kw in rec:
        kw = dict(kw)
        if dists is not None and p["gate"] is not None and kw.get("opinions"):
            ks = list(answers)
            keep = [i for i in range(0, len(ks), 2) if second.related(kw["opinions"].get(frozenset(ks[i]), (1.0, 0, 0, 0))) >= p["gate"]]
            answers = {ks[j]: answers[ks[j]] for i in keep for j in (i, i + 1)}
            dists = [dists[j] for i in keep for j in (i, i + 1)]
        if p["opinions"]:
            kw["mix"] = Mix(lam=p["lam"], accept=p["accept"], sign_weight=p["sw"], gate=0.2)
        else:
            kw["opinions"], kw["mix"], kw["accept"] = None, None, p["accept"]
        kw["margin"] = p["margin"]
        for c, e, lab, _ in dr.decide(answers, dists, **kw):
            preds[iid].add((c, e, 1 if lab == "activates" else -1))
    return preds


def counts(gold: ev.GoldSet, preds: dict[str, set], ids: list[str]) -> Counts:
    """(tp, fp, fn) over the items ``ids``, scored as corpus.evaluate.score_predictions scores them."""
    by_id = {it.id: it for it in gold.items}
    tp = fp = fn = 0
    for i in ids:
        it, got = by_id[i], preds.get(i, set())
        want = set(it.triples)
        for t in got:
            if gold.scope is not None and not (t[0] in gold.scope and t[1] in gold.scope):
                continue
            if t in want:
                tp += 1
            elif (t[0], t[1]) not in it.ignore:
                fp += 1
        fn += len(want - got)
    return tp, fp, fn


def f1(c: Counts) -> float:
    return 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0


def grid() -> list[dict]:
    out = [{"opinions": True, "lam": lam, "accept": acc, "sw": sw, "gate": gate, "margin": m}
           for lam, acc, sw, gate, m in itertools.product([0.0, 0.25, 0.5, 0.75, 1.0], [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45],
                                                         [0.0, 1.0], [None, 0.3, 0.4], [0.05, 0.1, 0.2])]
    out += [{"opinions": False, "accept": acc, "gate": gate, "margin": m}
            for acc, gate, m in itertools.product([0.2, 0.25, 0.3, 0.35, 0.4, 0.5], [None, 0.3], [0.05, 0.1, 0.2])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    gold = ev.load_bel_gold(DATA / "bel" / "small_corpus_dev.bel", lexicon=load_lexicon(), proteins_only=True)
    rec, base = capture(gold)
    pmids = sorted({it.id.split(":")[0] for it in gold.items})
    random.Random(args.seed).shuffle(pmids)
    fold_of = {p: k % args.folds for k, p in enumerate(pmids)}
    ids = [[it.id for it in gold.items if fold_of[it.id.split(":")[0]] == k] for k in range(args.folds)]
    settings = grid()
    per = []
    for p in settings:
        pr = replay(rec, p)
        per.append([counts(gold, pr, ids[k]) for k in range(args.folds)])
    total = lambda j, skip=-1: tuple(sum(per[j][q][x] for q in range(args.folds) if q != skip) for x in range(3))  # noqa: E731
    cv = [0, 0, 0]
    rows = []
    for k in range(args.folds):
        j = max(range(len(settings)), key=lambda j: f1(total(j, k)))
        cv = [cv[x] + per[j][k][x] for x in range(3)]
        rows.append(f"| {k} | {len(ids[k])} | {settings[j]} | {f1(total(j, k)):.4f} | {per[j][k]} |")
    best = max(range(len(settings)), key=lambda j: f1(total(j)))
    lines = [f"default thresholds (picked on BioRED Train): F1 {base.f1:.4f} (tp {base.tp} fp {base.fp} fn {base.fn})",
             f"grouped {args.folds}-fold CV of picking on BEL dev: F1 {f1(tuple(cv)):.4f} (tp {cv[0]} fp {cv[1]} fn {cv[2]}) over {len(settings)} settings",
             f"in-sample best of the grid (not a result): F1 {f1(total(best)):.4f} {settings[best]}",
             "", "| fold | items | picked on the other folds | their F1 | held-out (tp, fp, fn) |", "|---|---|---|---|---|", *rows]
    print("\n".join(lines))
    if not args.no_record:
        with open(Path(__file__).resolve().parent / "RESULTS.md", "a") as fh:
            fh.write(f"\n## extract_cv: BEL dev decision thresholds under grouped cross-validation ({machine()})\n\n`{command()}`\n\n"
                     + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
