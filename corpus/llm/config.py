"""Settings and counters of the model translators."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from theorycov.corpus.llm.second import Mix


@dataclass(frozen=True)
class TranslatorConfig:
    """Settings of the model translators."""

    max_tokens_pair: int = 48  # a pair answer is ~30 tokens; a cut-off answer is malformed, not guessed
    max_tokens_free: int = 320  # room for about eight claims
    # None: every pair of a sentence is asked (the demo logged sentences with 8 and 12 variables, whose
    # pairs past the 6th variable went unasked before); branch cost is linear in the pairs, as each ordered
    # pair is a few tokens branching from the sentence's shared prompt. A number keeps the first ones only.
    max_variables: int | None = None
    batch_pairs: int = 16  # "sentence" strategy: at most this many ordered pairs labelled by one answer
    use_cache: bool = True  # False: always ask the model (benchmarks of speed)
    log_every_s: float = 10.0  # progress and throughput are logged at most this often
    default_confidence: float = 0.9  # used when the backend gives no log-probabilities
    # "branch" (default): one label per ordered pair, each branching from the sentence's shared, evaluated
    # prompt; "sentence": one answer labels all ordered pairs in turn (each label sees the earlier ones);
    # "verify": yes/no per statement, 4 prompts per pair; "choice": one enum of statements per pair.
    # On 60 BEL dev items (seed 0, 1 thread): branch F1 0.345 at 6.3 s/sentence, sentence 0.286 at 7.2 s
    # (thresholds from a sweep on those items: F1 0.33-0.36 for accept 0.33-0.4 at margin 0.1).
    strategy: str = "branch"
    # accept: best F1 at 0.35 on 28 BioRED Train abstracts, gene-gene pairs (bench/extract_tune.py: 0.373;
    # 0.30: 0.333, 0.40: 0.314)
    sentence_accept: float = 0.35  # branch/sentence: a claim's label needs at least this probability ...
    sentence_margin: float = 0.1  # ... and this much more than the other direction's best label, else a tie
    # branch: what orients a tie: "syntax" (the rule baseline's reading), "ask" (a contrastive question),
    # "ask+syntax", "none"; measured in corpus/llm/direction.py's docstring
    tie_break: str = "syntax"
    agent_margin: float = 0.0  # the direction answer must be this far from 1/2 to orient a tie
    skip_coordinated: bool = True  # branch: no claim between coordinated entities ("A, B and C")
    # branch: a supervised second opinion on each pair (corpus/pairclf/, corpus/llm/second.py): a path to
    # its weights, "default" (theorycov/data/pairclf_biored_train.npz, trained on BioRED Train), or None (the
    # model alone). On 72 BioRED Train abstracts it took F1 from 0.162 to 0.323 (Mix's comment). The older
    # strategies ("sentence", "verify", "choice") read without it.
    second_opinion: str | None = "default"
    mix: Mix = Mix()  # how the second opinion gates and mixes with the model's labels
    # branch/sentence: worked examples retrieved per sentence from a labelled pool (corpus/llm/shots.py):
    # this many that state claims and this many that state none, from the pool file ``shot_pool``. Off: on
    # 136 BioRED Train abstracts (bench/extract_shots.py) F1 0.407 without, 0.415 with (1, 0), 0.406 with (2, 1),
    # within noise, at 1.4x and 2.8x the model time (bench/RESULTS.md).
    shots: int = 0
    shots_none: int = 0
    shot_pool: str | None = None
    accept: float = 0.55  # verify: the best statement needs at least this P(yes) ...
    margin: float = 0.1  # ... and this much more than the runner-up (see LLMTranslator._verify_pair)


@dataclass
class TranslatorStats:
    """Counters for progress and throughput reports."""

    sentences: int = 0  # sentences with >= 2 grounded variables seen
    questions: int = 0  # pair (or free) questions asked, cached or not
    cached: int = 0  # answered from the cache
    failures: int = 0  # malformed answers
    claims: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0  # seconds spent inside the backend
    started: float = field(default_factory=time.perf_counter)

    def line(self) -> str:
        """One-line throughput summary for logs and progress bars."""
        wall = max(time.perf_counter() - self.started, 1e-9)
        asked = self.questions - self.cached
        rate = asked / self.model_s if self.model_s else 0.0
        toks = self.completion_tokens / self.model_s if self.model_s else 0.0
        return (
            f"{self.sentences} sentences, {self.questions} questions ({self.cached} cached, {self.failures} failed), "
            f"{self.claims} claims; {rate:.2f} questions/s, {toks:.1f} tokens/s out, {wall:.0f} s"
        )


__all__ = ["TranslatorConfig", "TranslatorStats"]
