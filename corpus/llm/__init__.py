"""The language-model translator (papers -> structured claims), offline and schema-constrained.

Importing this package is cheap: llama_cpp, transformers and httpx are imported only by the backend
that needs them. See :mod:`.translator` for the default extractor (:mod:`.older` for the strategies kept
for comparison, :mod:`.extractor` for what they share), :mod:`.prompts` for one module per task,
:mod:`.backends` for the model runners (:mod:`.http` for a model server, :mod:`.server` to start llama.cpp's,
:mod:`.scored` for the scored decoding both the in-process and the server backend run), :mod:`.weights` for the
default model's assembly and verification.
"""
from __future__ import annotations

from theorycov.corpus.llm.backends import (
    Backend,
    BackendError,
    Completion,
    ScriptedBackend,
    free_threads,
    label_confidence,
)
from theorycov.corpus.llm.llamacpp import LlamaCppBackend, LlamaCppConfig
from theorycov.corpus.llm.cache import AnswerCache, answer_key, default_cache_path
from theorycov.corpus.llm.prompts import PROMPT_VERSION, MalformedOutputError, PairAnswer
from theorycov.corpus.llm.translator import (
    FreeTranslator,
    LLMTranslator,
    TranslatorConfig,
    TranslatorStats,
    default_extractor,
    grounded_variables,
    llm_available,
)
from theorycov.corpus.llm.weights import MODEL_SHA256, ModelChecksumError, ModelFileError, ModelNotInstalled, default_model_path

__all__ = [
    "AnswerCache",
    "Backend",
    "BackendError",
    "Completion",
    "FreeTranslator",
    "LLMTranslator",
    "LlamaCppBackend",
    "LlamaCppConfig",
    "MODEL_SHA256",
    "MalformedOutputError",
    "ModelChecksumError",
    "ModelFileError",
    "ModelNotInstalled",
    "OpenAIBackend",
    "PROMPT_VERSION",
    "PairAnswer",
    "ScriptedBackend",
    "TransformersBackend",
    "TranslatorConfig",
    "TranslatorStats",
    "answer_key",
    "default_cache_path",
    "default_extractor",
    "default_model_path",
    "free_threads",
    "grounded_variables",
    "label_confidence",
    "llm_available",
]


def __getattr__(name: str):  # noqa: ANN202 (lazy attributes: these modules import httpx / torch)
    if name == "OpenAIBackend":
        from theorycov.corpus.llm.http import OpenAIBackend

        return OpenAIBackend
    if name == "TransformersBackend":
        from theorycov.corpus.llm.hf import TransformersBackend

        return TransformersBackend
    raise AttributeError(name)
