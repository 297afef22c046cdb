"""Backends that run the language model behind one small interface: messages + JSON schema in, a
:class:`Completion` (text that follows the schema, and per-token log-probabilities where the backend
gives them) out.

- :class:`~theorycov.corpus.llm.llamacpp.LlamaCppBackend` (default): llama-cpp-python on a verified GGUF file, decoding constrained
  by a grammar compiled from the JSON schema (``response_format={"type": "json_object", "schema": ...}``).
- :class:`~theorycov.corpus.llm.hf.TransformersBackend`: a user's own model directory.
- :class:`~theorycov.corpus.llm.http.OpenAIBackend`: an OpenAI-compatible server (llama.cpp server, vLLM).

Exceptions::

    CorpusError
     +-- BackendError            the backend cannot run at all (missing extra, server down): stops a run
     +-- ExtractionError
          +-- MalformedOutputError   one answer does not follow the schema: that sentence fails, the run goes on
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from theorycov.corpus.threads import free_threads  # re-exported: theorycov/project.py and cli.py import it from here
from theorycov.corpus.types import CorpusError

log = logging.getLogger(__name__)


class BackendError(CorpusError):
    """A backend cannot be used (its package is missing, its model cannot load, its server is down)."""


@dataclass(frozen=True)
class Completion:
    """One model answer."""

    text: str  # the raw output, JSON following the requested schema
    token_logprobs: tuple[tuple[str, float], ...] | None = None  # (token text, log p) of each output token
    prompt_tokens: int = 0  # tokens the backend had to evaluate for the prompt (after prefix reuse)
    completion_tokens: int = 0
    # Scored decoding of a flat schema: per field, the probability of each allowed value (schema order),
    # read at the branch point(s) where the values part; None when the backend does not score.
    choices: tuple[tuple[float, ...], ...] | None = None


class Backend(Protocol):
    """What the translator needs from a model runner."""

    model_id: str  # identity of the weights (SHA-256 or fingerprint); part of every cache key

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        """Answer ``messages`` with JSON that follows ``schema``; greedy, deterministic.

        ``skip_if=(field, value)``: once ``field`` takes ``value`` the remaining boolean fields may be
        returned as false without being decided (a pair with relation "none" needs no flags). Backends
        that cannot skip ignore it.
        """
        ...


def label_confidence(completion: Completion, field_name: str = "relation") -> float | None:
    """Probability the model gave the string value of ``field_name``: exp of the summed log-probabilities
    of the tokens that spell it. None when the backend gave no log-probabilities."""
    from theorycov.corpus.llm.prompts.common import value_span

    if not completion.token_logprobs:
        return None
    span = value_span(completion.text, field_name)
    if span is None:
        return None
    pos, total, hit = 0, 0.0, False
    for piece, lp in completion.token_logprobs:
        start, end = pos, pos + len(piece)
        pos = end
        if end > span[0] and start < span[1]:
            total += lp
            hit = True
    return math.exp(total) if hit else None


@dataclass
class ScriptedBackend:
    """A backend that returns prepared answers in order: a test double for the model, used by unit tests
    and by anyone checking the pipeline without the llm extra."""

    answers: list[str]
    model_id: str = "scripted"
    calls: list[list[dict]] = field(default_factory=list)

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        self.calls.append(messages)
        if not self.answers:
            raise BackendError("ScriptedBackend ran out of answers")
        return Completion(text=self.answers.pop(0))


__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "ScriptedBackend",
    "free_threads",
    "label_confidence",
]
