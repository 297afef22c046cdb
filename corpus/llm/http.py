"""An OpenAI-compatible server as a backend: a llama.cpp server (``theorycov model-server``) on CPU boxes,
vLLM on a GPU box.

Two ways to answer, chosen per server (``OpenAIConfig.decoding``):

- ``"scored"``: flat schemas (the pair answer) by the same scored decoding as the in-process backend
  (:mod:`.scored`), its two primitives answered by a llama.cpp server: ``/extras/tokenize`` for the tokens
  of a prompt, ``/v1/completions`` with ``logprobs`` (``max_tokens`` 1, streamed, so the server converts
  one row of logits, not the whole prompt's) for the next-token log-probabilities at a branch point. The
  prompt is rendered here with the served model's chat template, so the server evaluates exactly the
  tokens the in-process backend does, and the answers agree (to float rounding of the log-probabilities).
- ``"chat"``: ``/v1/chat/completions`` with the answer schema as ``response_format`` (``json_object`` +
  ``schema`` for llama.cpp's server, OpenAI's ``json_schema`` otherwise); used for schemas that are not
  flat (free extraction) and for servers that cannot score.

``"auto"`` (default) scores when ``/v1/models`` names a model served by ``theorycov model-server`` (its id
is ``theorycov:<sha256 of the GGUF>``): then the server is llama.cpp's, its weights are known, and the
model id (part of every answer-cache key) is the file's SHA-256, the same as in process, so an answer
cached by one backend is reused by the other. Every answer is validated again on our side: a server that
ignores the schema yields MalformedOutputError, never a guess.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from theorycov.corpus.llm.backends import BackendError, Completion
from theorycov.corpus.llm.prompts import MalformedOutputError
from theorycov.corpus.llm.scored import is_flat, scored_completion

log = logging.getLogger(__name__)

DECODINGS = ("auto", "scored", "chat")


@dataclass(frozen=True)
class OpenAIConfig:
    """Where and how to reach the server."""

    base_url: str  # e.g. http://127.0.0.1:8080 (the /v1 prefix is added)
    model: str = "default"  # the server's model name; part of the cache identity (found on the server when "default")
    api_key: str | None = None  # sent as a bearer token when set
    timeout_s: float = 120.0  # per request
    logprobs: bool = True  # ask for token log-probabilities (confidence)
    decoding: str = "auto"  # "scored" | "chat" | "auto" (module docstring)
    top_logprobs: int = 200  # scored: the top-k a branch point asks for (~0.17 s a request whatever k up to 2000) ...
    wide_logprobs: int = 20_000  # ... and, when an allowed token is not among them, asked once more with this k
    chat_template: str | None = None  # Jinja chat template of the served model; None: the pinned model's when served


class OpenAIBackend:
    """Completions over HTTP with httpx; the server is probed on first use (or by :meth:`probe`)."""

    def __init__(self, config: OpenAIConfig) -> None:
        try:
            import httpx
        except ImportError as exc:  # httpx ships with the dev extra and with most installs
            raise BackendError("the HTTP backend needs httpx: pip install httpx") from exc
        if config.decoding not in DECODINGS:
            raise BackendError(f"OpenAIConfig.decoding must be one of {', '.join(DECODINGS)}; got {config.decoding!r}")
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._client = httpx.Client(base_url=config.base_url.rstrip("/"), timeout=config.timeout_s, headers=headers)
        self._model_id: str | None = None
        self._served = config.model
        self._template: str | None = config.chat_template
        self._llama_server = False
        self._pieces: dict[int, str] = {}  # token id -> its text (top_logprobs are keyed by text)
        self._recent: list[tuple[str, list[int]]] = []  # the last tokenized strings: branch prefixes are cut from them
        self.requests = 0  # HTTP requests sent (benchmarks)

    # -- the server ------------------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """The served weights' identity: the GGUF's SHA-256 for ``theorycov model-server``, else the URL and
        model name (a server's weights cannot be hashed from here)."""
        if self._model_id is None:
            self.probe()
        assert self._model_id is not None
        return self._model_id

    @property
    def scores(self) -> bool:
        """Whether flat schemas are answered by scored decoding (probes the server)."""
        _ = self.model_id
        return self._llama_server and self._template is not None and self.config.decoding != "chat"

    def probe(self) -> None:
        """Ask ``/v1/models`` what is served; BackendError, naming the fix, when the server cannot be reached."""
        import httpx

        from theorycov.corpus.llm.server import ALIAS_PREFIX, bundled_template

        try:
            resp = self._client.get("/v1/models")
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the model server at {self.config.base_url}: {exc}; start one with "
                               "`theorycov model-server --port PORT` and pass its URL (--llm-url http://HOST:PORT)") from exc
        ids: list[str] = []
        if resp.status_code == 200:
            try:
                ids = [str(m["id"]) for m in resp.json().get("data", [])]
            except (ValueError, KeyError, TypeError, AttributeError):
                ids = []
        ours = [i for i in ids if i.startswith(ALIAS_PREFIX)]
        if ours and self.config.model in ("default", ours[0]):
            self._served, sha = ours[0], ours[0][len(ALIAS_PREFIX):]
            self._llama_server, self._model_id = True, sha
            if self._template is None:
                self._template = bundled_template(sha)
        else:
            if self.config.decoding == "scored":
                raise BackendError(f"scored decoding needs a llama.cpp server started by `theorycov model-server`; "
                                   f"{self.config.base_url} serves {ids or 'no model list'}; use decoding='chat'")
            if self.config.model == "default" and ids:
                self._served = ids[0]
            self._model_id = "http:" + hashlib.sha256(f"{self.config.base_url}|{self.config.model}".encode()).hexdigest()
        log.info("model server %s: %s (%s decoding)", self.config.base_url, self._served,
                 "scored" if self._llama_server and self._template else "chat")

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        import httpx

        self.requests += 1
        try:
            resp = self._client.post(path, json=body)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the model server at {self.config.base_url}: {exc}") from exc
        self._raise_for(resp)
        try:
            return resp.json()
        except ValueError as exc:
            raise MalformedOutputError(f"model server sent an unexpected body: {resp.text[:200]!r}") from exc

    @staticmethod
    def _raise_for(resp: Any) -> None:
        if resp.status_code >= 500:
            raise MalformedOutputError(f"model server answered HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise BackendError(f"model server refused the request (HTTP {resp.status_code}): {resp.text[:300]}")

    # -- answering -------------------------------------------------------------------------------------

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        if self.scores and is_flat(schema):
            from theorycov.corpus.llm.server import render_chat

            # prompt_tokens stays 0: the server does not say how much of the prompt it evaluated again
            return scored_completion(render_chat(self._template or "", messages), schema, skip_if, self._tokenize, self._next_logprobs)
        return self._chat(messages, schema, max_tokens)

    def _tokenize(self, text: str) -> list[int]:
        data = self._post("/extras/tokenize", {"input": text})
        try:
            ids = [int(t) for t in data["tokens"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedOutputError(f"model server sent an unexpected tokenization: {str(data)[:200]}") from exc
        self._recent = [(text, ids), *self._recent[:7]]
        return ids

    def _piece(self, token: int) -> str:
        if token not in self._pieces:
            self._pieces[token] = str(self._post("/extras/detokenize", {"tokens": [token]}).get("text", ""))
        return self._pieces[token]

    def _text_of(self, ids: list[int]) -> str:
        """The prompt string whose tokens are ``ids``: cut from a recently tokenized string that begins with
        them, at the byte length of the rest (whose tokens are a JSON value's: plain text), and checked."""
        for text, full in self._recent:
            if full[: len(ids)] == ids:
                raw = text.encode("utf-8")
                rest = str(self._post("/extras/detokenize", {"tokens": full[len(ids):]}).get("text", "")).encode("utf-8")
                prefix = raw[: len(raw) - len(rest)].decode("utf-8", errors="strict")
                if self._tokenize(prefix) == ids:
                    return prefix
                break
        raise MalformedOutputError("the server's tokens of a branch prefix do not round-trip through text; use decoding='chat'")

    def _next_logprobs(self, ids: list[int], wanted: Sequence[int]) -> list[float]:
        prompt = self._text_of(ids)
        names = [self._piece(t) for t in wanted]
        if len(set(names)) != len(names):
            raise MalformedOutputError(f"allowed tokens {names} share a text; the server's log-probabilities cannot tell them apart")
        top: dict[str, float] = {}
        for k in (self.config.top_logprobs, self.config.wide_logprobs):
            top = self._top_logprobs(prompt, k)
            if all(n in top for n in names):
                return [top[n] for n in names]
        # below the server's top k: its log-probability is at most the k-th one (a share below ~1e-6)
        floor = min(top.values()) if top else -1e9
        return [top.get(n, floor) for n in names]

    def _top_logprobs(self, prompt: str, k: int) -> dict[str, float]:
        """The top-``k`` next-token log-probabilities after ``prompt`` (text -> log p over the vocabulary)."""
        import httpx

        body = {"prompt": prompt, "max_tokens": 1, "temperature": 0.0, "logprobs": k, "stream": True, "model": self._served}
        self.requests += 1
        try:
            with self._client.stream("POST", "/v1/completions", json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._raise_for(resp)
                for line in resp.iter_lines():
                    if not line.startswith("data:") or line.strip() == "data: [DONE]":
                        continue
                    chunk = json.loads(line[5:])
                    lp = (chunk.get("choices") or [{}])[0].get("logprobs")
                    if lp and lp.get("top_logprobs"):
                        return {str(t): float(v) for t, v in lp["top_logprobs"][0].items()}
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the model server at {self.config.base_url}: {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise MalformedOutputError(f"model server sent unexpected log-probabilities: {exc}") from exc
        raise MalformedOutputError("model server sent no log-probabilities (is it a llama.cpp server with logits_all?)")

    def _chat(self, messages: list[dict], schema: dict[str, Any], max_tokens: int) -> Completion:
        _ = self.model_id  # probed: which response_format the server speaks
        fmt: dict[str, Any] = ({"type": "json_object", "schema": schema} if self._llama_server else
                               {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}})
        body: dict[str, Any] = {"model": self._served, "messages": messages, "temperature": 0.0, "max_tokens": max_tokens,
                                "response_format": fmt}
        if self.config.logprobs:
            body["logprobs"] = True
        data = self._post("/v1/chat/completions", body)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise MalformedOutputError(f"model server sent an unexpected body: {str(data)[:200]!r}") from exc
        logprobs = None
        content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        if content:
            logprobs = tuple((str(t.get("token", "")), float(t.get("logprob", 0.0))) for t in content)
        usage = data.get("usage") or {}
        return Completion(text, logprobs, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))

    def close(self) -> None:
        self._client.close()


__all__ = ["DECODINGS", "OpenAIBackend", "OpenAIConfig"]
