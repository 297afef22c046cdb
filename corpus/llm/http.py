"""An OpenAI-compatible chat endpoint as a backend (a llama.cpp server or vLLM on a GPU box).

The request asks for the answer schema both ways servers understand it: OpenAI's
``response_format={"type": "json_schema", ...}`` (vLLM, llama.cpp server) ; the answer is validated
again on our side, so a server that ignores the schema yields MalformedOutputError, never a guess.
Token log-probabilities are requested (``logprobs: true``) and used for confidence when returned.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from theorycov.corpus.llm.backends import BackendError, Completion
from theorycov.corpus.llm.prompts import MalformedOutputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenAIConfig:
    """Where and how to reach the server."""

    base_url: str  # e.g. http://127.0.0.1:8080 (the /v1 prefix is added)
    model: str = "default"  # the server's model name; part of the cache identity
    api_key: str | None = None  # sent as a bearer token when set
    timeout_s: float = 120.0  # per request
    logprobs: bool = True  # ask for token log-probabilities (confidence)


class OpenAIBackend:
    """Chat completions over HTTP with httpx."""

    def __init__(self, config: OpenAIConfig) -> None:
        try:
            import httpx
        except ImportError as exc:  # httpx ships with the dev extra and with most installs
            raise BackendError("the HTTP backend needs httpx: pip install httpx") from exc
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._client = httpx.Client(base_url=config.base_url.rstrip("/"), timeout=config.timeout_s, headers=headers)
        # The server's weights cannot be hashed from here; the URL and model name stand for them.
        self.model_id = "http:" + hashlib.sha256(f"{config.base_url}|{config.model}".encode()).hexdigest()

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        import httpx

        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": max_tokens,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}},
        }
        if self.config.logprobs:
            body["logprobs"] = True
        try:
            resp = self._client.post("/v1/chat/completions", json=body)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the model server at {self.config.base_url}: {exc}") from exc
        if resp.status_code >= 500:
            raise MalformedOutputError(f"model server answered HTTP {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            raise BackendError(f"model server refused the request (HTTP {resp.status_code}): {resp.text[:300]}")
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise MalformedOutputError(f"model server sent an unexpected body: {resp.text[:200]!r}") from exc
        logprobs = None
        content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        if content:
            logprobs = tuple((str(t.get("token", "")), float(t.get("logprob", 0.0))) for t in content)
        usage = data.get("usage") or {}
        return Completion(text, logprobs, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))

    def close(self) -> None:
        self._client.close()


__all__ = ["OpenAIBackend", "OpenAIConfig"]
