"""The direction question of the "branch" strategy: "which of X and Y acts on the other", asked from the
sentence's evaluated prompt; its one key takes one of the two asked names, nothing else."""
from __future__ import annotations

from typing import Any

from theorycov.corpus.llm.prompts.common import MalformedOutputError, load_json

#: Version of the direction question; part of its cache key (the pair labels keep theirs).
DIRECTION_PROMPT_VERSION = "direction-v1"


def direction_key(x: str, y: str) -> str:
    """The answer's key for the direction question about {x, y} (x named first)."""
    return f"which of {x} and {y} acts on the other"


def direction_schema(x: str, y: str) -> dict[str, Any]:
    """One key whose value is one of the two asked names: nothing else can come out."""
    return {"type": "object", "properties": {direction_key(x, y): {"type": "string", "enum": [x, y]}},
            "required": [direction_key(x, y)], "additionalProperties": False}


def parse_direction_answer(text: str, x: str, y: str) -> str:
    """The name the answer picks; MalformedOutputError unless it is exactly {key: x or y}."""
    obj = load_json(text)
    key = direction_key(x, y)
    if not isinstance(obj, dict) or set(obj) != {key}:
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise MalformedOutputError(f"model output has keys {got}, expected [{key!r}]")
    if obj[key] not in (x, y):
        raise MalformedOutputError(f"model output {key!r}: {obj[key]!r} is not one of {[x, y]!r}")
    return str(obj[key])


__all__ = ["DIRECTION_PROMPT_VERSION", "direction_key", "direction_schema", "parse_direction_answer"]
