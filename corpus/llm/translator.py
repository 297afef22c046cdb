"""The language-model translator: grounded sentences in, schema-constrained claims out.

Only sentences with at least two grounded variables reach the model. :class:`LLMTranslator` reads the
sentence and its entities once, then labels each ordered pair ("effect of CAUSE on EFFECT": activates,
inhibits or none) from that shared prompt, the label's probability read from one next-token
distribution (strategy "branch", corpus/llm/sentence_prompts.py); the claim's cause and effect are the
asked pair itself, so the model can never introduce a variable. Older strategies stay selectable
(TranslatorConfig.strategy). :class:`FreeTranslator` asks once per sentence for all claims (the
comparison that shows why pairs are asked one at a time). Answers are cached by (model, prompt
version, sentence, pair); confidence comes from the label's token log-probabilities when the backend
gives them.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable

from theorycov.corpus.llm import direction
from theorycov.corpus.llm.backends import Backend, BackendError, Completion, label_confidence
from theorycov.corpus.llm.cache import AnswerCache, answer_key
from theorycov.corpus.llm.prompts import (
    NO_CLAIM,
    PROMPT_VERSION,
    SENTENCE_PROMPT_VERSION,
    VERIFY_VERBS,
    MalformedOutputError,
    PairAnswer,
    free_messages,
    free_schema,
    pair_messages,
    pair_schema,
    parse_free_answer,
    parse_pair_answer,
    parse_verify_answer,
    verify_messages,
    verify_schema,
)
from theorycov.corpus.llm.sentence_prompts import (
    parse_sentence_answer,
    sentence_messages,
    sentence_pairs,
    sentence_schema,
)
from theorycov.corpus.types import Claim, Evidence, Extractor, Mention, Sentence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslatorConfig:
    """Settings of the model translators."""

    max_tokens_pair: int = 48  # a pair answer is ~30 tokens; a cut-off answer is malformed, not guessed
    max_tokens_free: int = 320  # room for about eight claims
    max_variables: int = 6  # at most 15 pair questions a sentence; the rest are logged, not asked
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


def grounded_variables(mentions: list[Mention]) -> dict[str, list[str]]:
    """Grounded variables of a sentence in order of first mention, each with its distinct surface forms."""
    out: dict[str, list[str]] = {}
    for m in sorted(mentions, key=lambda m: m.start):
        if m.variable is None:
            continue
        forms = out.setdefault(m.variable, [])
        if m.text not in forms:
            forms.append(m.text)
    return out


class _ModelExtractor(Extractor):
    """Backend, cache, statistics and the ask-validate-cache step shared by both translators."""

    task = "base"

    def __init__(self, backend: Backend | Callable[[], Backend] | None = None, *, config: TranslatorConfig = TranslatorConfig(),
                 cache: AnswerCache | None = None, on_progress: Callable[[TranslatorStats], None] | None = None) -> None:
        # The backend may be a factory: loading the model costs seconds and ~1.3 GB, and an ingest of
        # curated BEL files never needs it.
        self._backend = backend
        self.config = config
        self.cache = cache if cache is not None or not config.use_cache else AnswerCache()
        self.stats = TranslatorStats()
        self.on_progress = on_progress
        self._logged_at = time.perf_counter()
        self._last_choices: list[list[float]] | None = None
        self.last_agent: dict[tuple[str, str], float] = {}  # branch: the last sentence's direction answers ...
        self.last_pairs: list[tuple[str, str]] = []  # ... its asked ordered pairs and their label probabilities
        self.last_dists: list[list[float]] | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from theorycov.corpus.llm.llamacpp import LlamaCppBackend

            self._backend = LlamaCppBackend()
        elif callable(self._backend) and not hasattr(self._backend, "complete"):
            self._backend = self._backend()
        return self._backend  # type: ignore[return-value]

    @property
    def extractor_version(self) -> str:
        """Prompt version plus the model's identity: claims say which weights read them."""
        return f"{PROMPT_VERSION}+{direction.DIRECTION_PROMPT_VERSION}/{self.backend.model_id[:12]}"

    def _ask(self, key_parts: tuple[Any, ...], sentence: str, messages: list[dict], schema: dict[str, Any],
             max_tokens: int, parse: Callable[[str], Any], skip_if: tuple[str, str] | None = None,
             label_field: str = "claim", choices: bool = False) -> tuple[str, float | None]:
        """Ask (or read the cache), validate with ``parse``; returns (answer text, confidence). With
        ``choices``, the per-field value probabilities (scored backends) are kept in ``_last_choices``."""
        self.stats.questions += 1
        key = answer_key(self.backend.model_id, PROMPT_VERSION, self.task, sentence, *key_parts)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.stats.cached += 1
            self._last_choices = hit.get("fields")
            return hit["text"], hit["confidence"]
        t0 = time.perf_counter()
        completion: Completion = self.backend.complete(messages, schema, max_tokens=max_tokens, skip_if=skip_if)
        self.stats.model_s += time.perf_counter() - t0
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        try:
            parse(completion.text)
        except MalformedOutputError:
            self.stats.failures += 1
            raise
        confidence = label_confidence(completion, label_field) if label_field else None
        fields = [list(d) for d in completion.choices] if choices and completion.choices is not None else None
        self._last_choices = fields
        if self.cache is not None:
            self.cache.put(key, {"text": completion.text, "confidence": confidence, "fields": fields})
        return completion.text, confidence

    def _claim(self, answer: PairAnswer, confidence: float | None, evidence: Evidence) -> Claim | None:
        relation = answer.to_relation()
        if relation is None or answer.cause is None or answer.effect is None:
            return None
        return Claim(
            cause=answer.cause,
            effect=answer.effect,
            relation=relation,
            direct=answer.direct,
            negated=answer.negated,
            hedged=answer.hedged,
            confidence=round(confidence if confidence is not None else self.config.default_confidence, 4),
            extractor=self.name,
            extractor_version=self.extractor_version,
            evidence=evidence,
        )

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)
        if time.perf_counter() - self._logged_at >= self.config.log_every_s:
            self._logged_at = time.perf_counter()
            log.info("%s: %s", self.name, self.stats.line())


class LLMTranslator(_ModelExtractor):
    """Schema-constrained classification of every pair of grounded variables in a sentence: one
    question per unordered pair, whose enum covers both directions (so both ordered pairs are
    classified at once, and the model compares "A inhibits B" with "B inhibits A" side by side)."""

    name = "llm"
    version = PROMPT_VERSION
    task = "pair"

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        """Claims of one sentence. A malformed answer for some pair raises MalformedOutputError after the
        other pairs are done; the claims that did come out travel on the exception (``partial_claims``)."""
        variables = grounded_variables(mentions)
        if len(variables) < 2:
            return []
        if len(variables) > self.config.max_variables:
            log.warning("sentence names %d variables; asking about the first %d only: %.80s",
                        len(variables), self.config.max_variables, sentence.text)
            variables = dict(list(variables.items())[: self.config.max_variables])
        self.stats.sentences += 1
        if self.config.strategy in ("sentence", "branch"):
            return self._sentence(sentence, variables, evidence, mentions)
        claims: list[Claim] = []
        errors: list[str] = []
        for a, b in combinations(variables, 2):
            if self.config.strategy == "verify":
                try:
                    claims.extend(self._verify_pair(sentence.text, a, b, variables, evidence))
                except MalformedOutputError as exc:
                    errors.append(f"{a}/{b}: {exc}")
                continue
            messages = pair_messages(sentence.text, a, b, variables[a], variables[b])
            parse = lambda t, a=a, b=b: parse_pair_answer(t, a, b)  # noqa: E731
            try:
                text, confidence = self._ask((a, b, variables[a], variables[b]), sentence.text, messages,
                                             pair_schema(a, b), self.config.max_tokens_pair, parse,
                                             skip_if=("claim", NO_CLAIM))
            except MalformedOutputError as exc:
                errors.append(f"{a}/{b}: {exc}")
                continue
            claim = self._claim(parse(text), confidence, evidence)
            if claim is not None:
                claims.append(claim)
        self.stats.claims += len(claims)
        self._progress()
        if errors:
            err = MalformedOutputError(f"{len(errors)} malformed answer(s) for {sentence.text[:80]!r}: " + "; ".join(errors))
            err.partial_claims = claims  # type: ignore[attr-defined]
            raise err
        return claims


    def _sentence(self, sentence: Sentence, variables: dict[str, list[str]], evidence: Evidence,
                  mentions: list[Mention]) -> list[Claim]:
        """The sentence and its entities are read once (corpus/llm/sentence_prompts.py); then either one
        JSON answer labels every ordered pair in turn (strategy "sentence"), or each ordered pair is a
        one-key answer branching from the same evaluated prompt (strategy "branch": no pair's label is
        conditioned on another's). At most one claim per pair is kept (branch: direction.decide, which
        orients ties, corpus/llm/direction.py). A malformed answer raises, with no partial claims."""
        names = list(variables)
        messages = sentence_messages(sentence.text, variables)
        key = (SENTENCE_PROMPT_VERSION, tuple(variables.items()))
        cfg = self.config
        # coordinated entities ("IL-6, LIF and OSM") share a role: no claim between them, so not asked
        skip = direction.coordinated_pairs(mentions, sentence.text) if cfg.skip_coordinated else set()
        if cfg.strategy == "branch":
            answers: dict[tuple[str, str], str] = {}
            dists: list[list[float]] | None = []
            for x, y in [p for p in sentence_pairs(names) if frozenset(p) not in skip]:
                parse = lambda t, x=x, y=y: parse_sentence_answer(t, [x, y], pairs=[(x, y)])  # noqa: E731
                text, _ = self._ask((*key, x, y), sentence.text, messages, sentence_schema(names, [(x, y)]), 16, parse,
                                    label_field="", choices=True)
                answers.update(parse(text))
                dists = dists + self._last_choices if dists is not None and self._last_choices else None
            self._last_choices = dists  # the whole sentence's, for inspection
        else:
            parse = lambda t: parse_sentence_answer(t, names)  # noqa: E731
            text, _ = self._ask(key, sentence.text, messages, sentence_schema(names),
                                8 * len(sentence_pairs(names)) + 8, parse, label_field="", choices=True)
            answers, dists = parse(text), self._last_choices
        if cfg.strategy == "branch" and dists is not None:
            agent: dict[tuple[str, str], float] = {}
            if "ask" in cfg.tie_break:
                ties = direction.tied_pairs(list(answers), dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin)
                agent = self._agents(sentence.text, messages, key, ties)
            syntax = direction.syntax_directions(sentence, mentions) if "syntax" in cfg.tie_break else set()
            decided = direction.decide(answers, dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin,
                                       skip=skip, agent=agent, syntax=syntax, agent_margin=cfg.agent_margin)
            self._last_choices = self.last_dists = dists
            self.last_agent, self.last_pairs = agent, list(answers)
        else:
            decided = direction.decide(answers, dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin)
        claims: list[Claim] = []
        for cause, effect, label, p in decided:
            c = p if p >= 0 else self.config.default_confidence
            claim = self._claim(PairAnswer(cause, effect, label, False, False, False), c, evidence)
            if claim is not None:
                claims.append(claim)
        self.stats.claims += len(claims)
        self._progress()
        return claims

    def _agents(self, text: str, messages: list[dict], key: tuple[Any, ...],
                pairs: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """P(a acts on b) for each (a, b): "which of X and Y acts on the other", asked from the sentence's
        evaluated prompt in both orders (the model leans to the first-named) and averaged."""
        out: dict[tuple[str, str], float] = {}
        for a, b in pairs:
            votes = []
            for x, y in ((a, b), (b, a)):
                parse = lambda t, x=x, y=y: direction.parse_direction_answer(t, x, y)  # noqa: E731
                answer, _ = self._ask((*key, direction.DIRECTION_PROMPT_VERSION, x, y), text, messages,
                                      direction.direction_schema(x, y), 16, parse, label_field="", choices=True)
                share = self._last_choices[0][0] if self._last_choices else float(parse(answer) == x)
                votes.append(share if x == a else 1.0 - share)
            out[(a, b)] = sum(votes) / len(votes)
        return out

    def _verify_pair(self, text: str, a: str, b: str, variables: dict[str, list[str]], evidence: Evidence) -> list[Claim]:
        """Ask yes/no for "x activates y" and "x inhibits y" in both directions, and keep the statement
        with the highest P(yes) when it passes ``accept`` and beats the runner-up by ``margin``.

        A small model says yes too easily to any statement about two entities of a sentence; what it
        does tell apart is which of the four statements fits best (measured on hand-made sentences
        outside the evaluation sets), so the choice is relative, and a sentence yields at most one
        claim per pair.
        """
        written = {a: variables[a], b: variables[b]}
        scored: list[tuple[float, str, str, str]] = []
        for x, y in ((a, b), (b, a)):
            for verb, label in VERIFY_VERBS:
                statement = f"{x} {verb} {y}"
                answer, conf = self._ask((statement, variables[x], variables[y]), text,
                                         verify_messages(text, statement, written), verify_schema(),
                                         16, parse_verify_answer, label_field="answer")
                c = conf if conf is not None else self.config.default_confidence
                scored.append((c if parse_verify_answer(answer) else 1.0 - c, x, y, label))
        scored.sort(reverse=True)
        (p_best, x, y, label), p_next = scored[0], scored[1][0]
        if p_best < self.config.accept or p_best - p_next < self.config.margin:
            return []
        claim = self._claim(PairAnswer(x, y, label, False, False, False), p_best, evidence)
        return [claim] if claim is not None else []


class FreeTranslator(_ModelExtractor):
    """One question per sentence for all its claims (names constrained to its grounded variables)."""

    name = "llm-free"
    version = PROMPT_VERSION
    task = "free"

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        variables = grounded_variables(mentions)
        if len(variables) < 2:
            return []
        self.stats.sentences += 1
        names = list(variables)
        text, confidence = self._ask(
            tuple(sorted(variables.items())), sentence.text, free_messages(sentence.text, variables),
            free_schema(names), self.config.max_tokens_free, lambda t: parse_free_answer(t, names),
            label_field="relation",
        )
        claims, seen = [], set()
        for cause, effect, answer in parse_free_answer(text, names):
            if cause == effect or (cause, effect) in seen:
                continue  # a self-loop or a repeat is not a claim
            seen.add((cause, effect))
            claim = self._claim(answer, None, evidence)
            if claim is not None:
                claims.append(claim)
        self.stats.claims += len(claims)
        self._progress()
        return claims


def default_extractor() -> Extractor:
    """The extractor ingest uses by default: the model translator. Without the llm extra this refuses
    loudly (BackendError naming the fix) rather than falling back to the rules unannounced. The model
    itself loads on the first sentence that needs it."""
    if not llm_available():
        raise BackendError(
            "the language-model translator needs the llm extra: pip install 'theorycov[llm]' (or `make setup`); "
            "pass extractor='rules' to ingest with the rule baseline instead"
        )
    return LLMTranslator()


def llm_available() -> bool:
    """True when llama-cpp-python and the model part packages are importable (nothing is loaded)."""
    import importlib.util

    from theorycov.corpus.llm.weights import parts_installed

    return importlib.util.find_spec("llama_cpp") is not None and parts_installed()


__all__ = ["FreeTranslator", "LLMTranslator", "TranslatorConfig", "TranslatorStats", "default_extractor",
           "grounded_variables", "llm_available"]
