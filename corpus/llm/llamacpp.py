"""The default backend: llama-cpp-python on a verified GGUF file, decoding constrained to a JSON schema.

Two ways to constrain, same contract (the output always follows the schema):

- ``decoding="scored"`` (default, for flat schemas of enums and booleans such as the pair answer):
  the JSON is written field by field, and each field's value is chosen by greedy decoding restricted to
  the token trie of the allowed values (:mod:`.scored`, shared with the llama.cpp server backend).
  Tokens the schema forces are not generated one step at a time but evaluated in one batch at the next
  branch point, which is where the time goes on a CPU (about 70 tokens/s read against 21 tokens/s
  generated). The chosen value's share of the allowed mass at each branch point gives its confidence.
- ``decoding="grammar"``: llama.cpp's JSON-schema grammar (``response_format={"type": "json_object",
  "schema": ...}``), token by token; used for any other schema (free extraction), with token
  log-probabilities recorded by a logits processor.

Prompts are rendered with the chat template stored in the GGUF file. Every prompt shares its beginning
(instructions and examples) and all pairs of a sentence share the sentence: the evaluated state of the
longest common token prefix is kept, so a second pair costs only its own few tokens.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theorycov.corpus.llm.backends import BackendError, Completion
from theorycov.corpus.llm.prompts import MalformedOutputError
from theorycov.corpus.llm.scored import is_flat, scored_completion
from theorycov.corpus.threads import free_threads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LlamaCppConfig:
    """Settings of the llama.cpp backend."""

    n_ctx: int = 2048  # context: instructions and examples (~800 tokens) + a sentence (<= ~450) + answer
    n_threads: int | None = None  # None: free_threads() at load, re-read every retune_s
    retune_s: float = 15.0  # how often to re-read the load average (the CPU is shared)
    n_batch: int = 512  # prompt tokens evaluated per step
    seed: int = 0
    decoding: str = "scored"  # "scored" for flat enum/boolean schemas, else "grammar" (see module doc)
    logprobs: bool = True  # grammar decoding: record token log-probabilities (confidence)


class _LogprobRecorder:
    """A logits processor that keeps (token, log-probability) of each sampled token.

    It sees the raw logits of every step (before the grammar masks them); at step k+1 the token sampled
    at step k is the last input id. This avoids ``logits_all=True``, which keeps n_ctx x 152k floats
    and computes the output layer for every prompt token.
    """

    def __init__(self) -> None:
        self.tokens: list[tuple[int, float]] = []
        self._last: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np

        if self._last is not None and len(input_ids) > 0:
            tok = int(input_ids[-1])
            self.tokens.append((tok, float(self._last[tok])))
        shifted = scores - scores.max()
        self._last = shifted - np.log(np.exp(shifted).sum())
        return scores


class LlamaCppBackend:
    """llama-cpp-python, greedy, schema-constrained."""

    def __init__(self, model_path: Path | None = None, config: LlamaCppConfig = LlamaCppConfig(), *,
                 expected_sha256: str | None = None) -> None:
        from theorycov.corpus.llm import weights

        t0 = time.perf_counter()
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendError(f"llama-cpp-python is not installed; {weights.INSTALL_HINT}") from exc
        if model_path is None:
            model_path = weights.default_model_path()
            self.model_id = weights.MODEL_SHA256
        else:
            # A user's own file: check it is GGUF, and its hash when the caller pinned one.
            weights.verify_model_file(Path(model_path), expected_sha256, architecture="")
            self.model_id = expected_sha256 or weights.sha256_file(Path(model_path))
        self.model_path = Path(model_path)
        self.config = config
        self._threads = config.n_threads or free_threads()
        self._tuned_at = time.monotonic()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.model_path), n_ctx=config.n_ctx, n_threads=self._threads,
                n_threads_batch=self._threads, n_batch=config.n_batch, seed=config.seed, verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load {self.model_path}: {exc}") from exc
        self._formatter = self._chat_formatter()
        self.evaluated_tokens = 0  # prompt tokens actually evaluated (after prefix reuse)
        self.load_s = time.perf_counter() - t0
        log.info("loaded %s in %.1f s with %d thread(s)", self.model_path.name, self.load_s, self._threads)

    # -- prompt rendering and evaluation ---------------------------------------------------------------

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{self.model_path} has no chat template in its metadata; use an instruct model")
        tok = lambda i: self._llm.detokenize([i], special=True).decode("utf-8", errors="replace")  # noqa: E731
        return Jinja2ChatFormatter(template=template, eos_token=tok(self._llm.token_eos()), bos_token=tok(self._llm.token_bos()))

    def render(self, messages: list[dict]) -> str:
        """The prompt text for ``messages`` (the model's own chat template, generation prompt added)."""
        return str(self._formatter(messages=messages).prompt)

    def _tokenize(self, text: str) -> list[int]:
        # special=True so the template's control tokens are recognized; paper text cannot smuggle them
        # in because prompts.defuse() breaks up "<|" and "|>".
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _eval_logprobs(self, ids: list[int]) -> Any:
        """Evaluate ``ids`` reusing the longest common prefix with what is already evaluated, and
        return the log-softmax of the next-token logits, shape (n_vocab,)."""
        import numpy as np

        llm = self._llm
        if len(ids) >= self.config.n_ctx:
            raise MalformedOutputError(f"prompt of {len(ids)} tokens does not fit the context of {self.config.n_ctx}")
        done = llm.input_ids[: llm.n_tokens]
        n, limit = 0, min(len(done), len(ids) - 1)  # re-evaluate at least one token: its logits are needed
        while n < limit and done[n] == ids[n]:
            n += 1
        llm.n_tokens = n
        llm.eval(ids[n:])
        self.evaluated_tokens += len(ids) - n
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        logits -= logits.max()
        return logits - math.log(float(np.exp(logits).sum()))

    def _retune(self) -> None:
        """Follow the free cores; our own busy threads are in the load average, so count them out."""
        if self.config.n_threads or os.environ.get("THEORYCOV_LLM_THREADS"):
            return
        if time.monotonic() - self._tuned_at < self.config.retune_s:
            return
        self._tuned_at = time.monotonic()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        others = max(0.0, os.getloadavg()[0] - self._threads)
        want = max(1, min(cores, int(cores - others + 0.5)))
        if want != self._threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self._llm._ctx.ctx, want, want)
            log.info("llama.cpp threads %d -> %d (load %.2f)", self._threads, want, os.getloadavg()[0])
            self._threads = want

    @property
    def n_threads(self) -> int:
        return self._threads

    # -- decoding -------------------------------------------------------------------------------------

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        self._retune()
        if self.config.decoding == "scored" and is_flat(schema):
            return self._scored(messages, schema, skip_if)
        return self._grammar(messages, schema, max_tokens)

    def _scored(self, messages: list[dict], schema: dict[str, Any], skip_if: tuple[str, str] | None) -> Completion:
        before = self.evaluated_tokens
        out = scored_completion(self.render(messages), schema, skip_if, self._tokenize, self._next_logprobs)
        return dataclasses.replace(out, prompt_tokens=self.evaluated_tokens - before)

    def _next_logprobs(self, ids: list[int], wanted: Sequence[int]) -> list[float]:
        logp = self._eval_logprobs(ids)
        return [float(logp[t]) for t in wanted]

    def _grammar(self, messages: list[dict], schema: dict[str, Any], max_tokens: int) -> Completion:
        recorder = _LogprobRecorder() if self.config.logprobs else None
        out = self._llm.create_chat_completion(
            messages=messages,
            response_format={"type": "json_object", "schema": schema},
            temperature=0.0,
            max_tokens=max_tokens,
            logits_processor=[recorder] if recorder else None,
        )
        text = out["choices"][0]["message"]["content"] or ""
        usage = out.get("usage", {})
        logprobs = None
        if recorder is not None and recorder.tokens:
            # the last sampled token (closing brace or end of turn) has no successor step: not recorded
            logprobs = tuple((self._llm.detokenize([t]).decode("utf-8", errors="replace"), lp) for t, lp in recorder.tokens)
        return Completion(text=text, token_logprobs=logprobs, prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)))


__all__ = ["LlamaCppBackend", "LlamaCppConfig", "is_flat"]
