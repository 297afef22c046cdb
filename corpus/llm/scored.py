"""Scored decoding of a flat schema, shared by every backend that can read next-token log-probabilities.

The JSON answer is written field by field; each field's value is chosen by greedy decoding restricted to the
token trie of its allowed values. Tokens the schema forces are not generated one step at a time: the walk
skips them and asks for the next-token distribution only at a branch point, where the allowed values part.
The chosen value's share of the allowed mass at each branch point gives its confidence.

The algorithm needs two things from a backend, and nothing else:

- ``tokenize(text) -> list[int]``: the model's tokens of a prompt string (control tokens recognized);
- ``next_logprobs(ids, wanted) -> list[float]``: the log-probabilities (over the whole vocabulary) of the
  tokens ``wanted`` right after the token sequence ``ids``.

:class:`~theorycov.corpus.llm.llamacpp.LlamaCppBackend` answers them in process from llama.cpp's logits;
:class:`~theorycov.corpus.llm.http.OpenAIBackend` answers them over a llama.cpp server's ``/extras/tokenize``
and ``/v1/completions`` (``logprobs``). Both walk the same trie with the same numbers, so both give the same
answer (tests/corpus/test_llm_server.py compares them on real sentences).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from theorycov.corpus.llm.backends import Completion
from theorycov.corpus.llm.prompts import MalformedOutputError

Tokenize = Callable[[str], list[int]]
NextLogprobs = Callable[[list[int], Sequence[int]], Sequence[float]]

__all__ = ["NextLogprobs", "Tokenize", "choose", "is_flat", "scored_completion", "value_options"]


def value_options(prop: dict[str, Any]) -> tuple[list[str], list[Any]] | None:
    """JSON renderings (with the leading space of ``"key": value``) and values of a field, or None."""
    if "enum" in prop and all(isinstance(v, str) for v in prop["enum"]):
        return [' "' + v + '"' for v in prop["enum"]], list(prop["enum"])
    if prop.get("type") == "boolean":
        return [" true", " false"], [True, False]
    return None


def is_flat(schema: dict[str, Any]) -> bool:
    """True for an object schema whose every property is a string enum or a boolean."""
    props = schema.get("properties") or {}
    return schema.get("type") == "object" and bool(props) and all(value_options(p) is not None for p in props.values())


def choose(prefix: str, renders: list[str], tokenize: Tokenize, next_logprobs: NextLogprobs) -> tuple[int, float, tuple[float, ...]]:
    """Greedy constrained decoding of one field: walk the token trie of ``prefix + value`` over the allowed
    values; where only one token is allowed it is forced, where several are, the model's next-token
    distribution picks among them. Returns the chosen value, the log of its probability (the product of its
    shares at the branch points), and each value's share at the first branch point (exact when the values
    part there, as one-token labels do)."""
    fulls = [tokenize(prefix + r) for r in renders]
    alive = list(range(len(renders)))
    n, logp_total = 0, 0.0
    dist: list[float] | None = None
    while len(alive) > 1:
        ended = [i for i in alive if len(fulls[i]) <= n]
        if ended:
            raise MalformedOutputError(f"value {renders[ended[0]]!r} is a token prefix of another; use decoding='grammar'")
        nexts = sorted({fulls[i][n] for i in alive})
        if len(nexts) == 1:
            n += 1
            continue
        scores = np.asarray(next_logprobs(fulls[alive[0]][:n], nexts), dtype=np.float64)
        k = int(scores.argmax())
        logp_total += float(scores[k] - np.logaddexp.reduce(scores))
        if dist is None:
            share = np.exp(scores - np.logaddexp.reduce(scores))
            dist = [float(share[nexts.index(fulls[i][n])]) for i in range(len(renders))]
        alive = [i for i in alive if fulls[i][n] == nexts[k]]
        n += 1
    if dist is None:
        dist = [1.0 if i == alive[0] else 0.0 for i in range(len(renders))]
    return alive[0], logp_total, tuple(dist)


def scored_completion(prompt: str, schema: dict[str, Any], skip_if: tuple[str, str] | None,
                      tokenize: Tokenize, next_logprobs: NextLogprobs) -> Completion:
    """The whole answer to a flat ``schema`` after the rendered ``prompt`` (see the module docstring);
    ``prompt_tokens`` is left to the caller, which knows what its backend evaluated."""
    text, pieces, skipping = "{", [("{", 0.0)], False
    dists: list[tuple[float, ...]] = []
    for i, (name, prop) in enumerate(schema["properties"].items()):
        renders, values = value_options(prop)  # type: ignore[misc]
        key = f', "{name}":' if i else f'"{name}":'
        text += key
        pieces.append((key, 0.0))
        if skipping:
            text += " false"
            pieces.append((" false", 0.0))
            continue
        best, logp_best, dist = choose(prompt + text, renders, tokenize, next_logprobs)
        dists.append(dist)
        text += renders[best]
        pieces.append((renders[best], logp_best))
        if skip_if and name == skip_if[0] and values[best] == skip_if[1]:
            skipping = True
    text += "}"
    pieces.append(("}", 0.0))
    return Completion(text=text, token_logprobs=tuple(pieces),
                      completion_tokens=sum(1 for _, lp in pieces if lp != 0.0), choices=tuple(dists))
