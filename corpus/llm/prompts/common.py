"""What every prompt of the translator shares: the prompt version, how paper text is made safe to show
the model, and the one place where a model answer is parsed as JSON and checked field by field.

Paper text is data: it is defused (tag-like text and chat-template control tokens broken up) and shown
as one JSON string between ``<sentence>`` tags (:func:`data_block`), and the instructions say that
nothing inside the tags is an instruction. The claims that come back are checked once more against the
sentence itself (corpus/untrusted.py). Changing any prompt text
changes :data:`PROMPT_VERSION`, which is part of every cache key, so cached answers of an older prompt
are never reused.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from theorycov.corpus.types import ExtractionError, Relation

#: Version of the one-question-per-sentence prompt (prompts/sentence.py); part of PROMPT_VERSION.
SENTENCE_PROMPT_VERSION = "sentence-v4q"  # v2 + the sentence as a JSON string (v3 was a reverted example set)
PROMPT_VERSION = "verify-v2q+" + SENTENCE_PROMPT_VERSION
#: Labels the model may give a pair; "none" means the sentence states no relation from CAUSE to EFFECT.
RELATION_LABELS = ("activates", "inhibits", "causes", "no_effect", "none")
FLAGS = ("direct", "negated", "hedged")
MAX_SENTENCE_CHARS = 1500  # longer "sentences" are splitter failures (tables, reference lists)


class MalformedOutputError(ExtractionError):
    """The model's output is not valid JSON or does not follow the schema (e.g. cut off at max_tokens)."""


_TAG = re.compile(r"<\s*/?\s*sentence\s*>", re.IGNORECASE)


def defuse(text: str) -> str:
    """Make paper text safe to place between the delimiters: no text can close the data block early."""
    text = _TAG.sub(lambda m: m.group(0).replace("<", "(").replace(">", ")"), text)
    # chat-template control tokens (<|im_start|>, <|eot_id|>, ...) are tokenized as such: break them up
    text = text.replace("<|", "< |").replace("|>", "| >")
    text = " ".join(text.split())
    return text[:MAX_SENTENCE_CHARS]


def data_block(sentence: str) -> str:
    """The paper's sentence as the model sees it: defused, then written as one JSON string between the
    tags, so that no text of the paper can close the string, the block, the schema or the prompt (a
    quote in the paper is ``\\"``, a brace stays inside the string)."""
    return f"<sentence>\n{json.dumps(defuse(sentence), ensure_ascii=False)}\n</sentence>"


def quote_forms(surface: list[str]) -> str:
    """Up to three surface forms of an entity, each a JSON string: '"ERK2", "p42 MAPK"'."""
    return ", ".join(json.dumps(s, ensure_ascii=False) for s in surface[:3])


@dataclass(frozen=True)
class PairAnswer:
    """A validated answer about one pair: who acts on whom, how, and the flags."""

    cause: str | None  # None for "no claim"
    effect: str | None
    relation: str  # one of RELATION_LABELS ("none" for "no claim")
    direct: bool
    negated: bool
    hedged: bool

    def to_relation(self) -> Relation | None:
        """The claim's relation, or None when the model said there is none."""
        return None if self.relation == "none" else Relation(self.relation)


def load_json(text: str) -> Any:
    """The answer as JSON; anything else is a MalformedOutputError (the one JSON parse of every task)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise MalformedOutputError(f"model output is not JSON ({exc}): {str(text)[:200]!r}") from exc


def check_fields(obj: Any, first: str, allowed: list[str], extra: tuple[str, ...] = ()) -> dict:
    """``obj`` as an object with exactly ``first`` (one of ``allowed``), the three boolean flags and ``extra``."""
    if not isinstance(obj, dict):
        raise MalformedOutputError(f"model output is not a JSON object: {str(obj)[:200]!r}")
    expected = {first, *FLAGS, *extra}
    if set(obj) != expected:
        raise MalformedOutputError(f"model output has fields {sorted(obj)}, expected {sorted(expected)}")
    if obj[first] not in allowed:
        raise MalformedOutputError(f"model output {first} {obj[first]!r} is not one of {allowed}")
    for flag in FLAGS:
        if not isinstance(obj[flag], bool):
            raise MalformedOutputError(f"model output field {flag!r} is {obj[flag]!r}, not true/false")
    return obj


def value_span(text: str, field: str) -> tuple[int, int] | None:
    """Character span of the string value of ``field`` in a JSON answer (for its token log-probabilities)."""
    match = re.search(r'"' + re.escape(field) + r'"\s*:\s*"([^"]*)"', text)
    return (match.start(1), match.end(1)) if match else None


__all__ = ["FLAGS", "MAX_SENTENCE_CHARS", "MalformedOutputError", "PROMPT_VERSION", "PairAnswer", "RELATION_LABELS",
           "SENTENCE_PROMPT_VERSION", "check_fields", "data_block", "defuse", "load_json", "quote_forms", "value_span"]
