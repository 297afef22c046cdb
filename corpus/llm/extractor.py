"""What every model translator shares: the backend (loaded on first use), the answer cache, the
statistics, and the ask-validate-cache step; and the grounded variables of a sentence, which are all a
translator may ever name."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from theorycov.corpus.llm.backends import Backend, Completion, label_confidence
from theorycov.corpus.llm.cache import AnswerCache, answer_key
from theorycov.corpus.llm.config import TranslatorConfig, TranslatorStats
from theorycov.corpus.llm.prompts import PROMPT_VERSION, MalformedOutputError, PairAnswer
from theorycov.corpus.llm.prompts.direction import DIRECTION_PROMPT_VERSION
from theorycov.corpus.types import Claim, Evidence, Extractor, Mention

log = logging.getLogger(__name__)


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


class ModelExtractor(Extractor):
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
        self.last_opinions: dict[frozenset[str], tuple[float, ...]] | None = None  # branch: the second opinion's
        self._second = None  # the pair classifier, loaded on first use (LLMTranslator.second_opinion)
        self._pool = None  # the few-shot pool, loaded on first use (LLMTranslator.shot_pool)

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
        return f"{PROMPT_VERSION}+{DIRECTION_PROMPT_VERSION}/{self.backend.model_id[:12]}"

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


__all__ = ["ModelExtractor", "grounded_variables"]
