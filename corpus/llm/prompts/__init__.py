"""Prompts, output schemas and answer parsing of the language-model translator, one module per task:

- :mod:`.sentence` (the default "branch" and the "sentence" strategies): the sentence and its entities
  once, one label per ordered pair;
- :mod:`.direction`: which of two entities acts on the other (the branch strategy's tie-break question);
- :mod:`.pair`: one enum of statements per unordered pair ("choice");
- :mod:`.verify`: yes/no per statement ("verify");
- :mod:`.free`: every claim of a sentence in one answer (the comparison baseline).

:mod:`.common` holds what they share: the prompt version (part of every cache key), how paper text is
made safe to show the model, and the one JSON parse and field check of every answer.
"""
from __future__ import annotations

from theorycov.corpus.llm.prompts.common import (
    FLAGS,
    MAX_SENTENCE_CHARS,
    PROMPT_VERSION,
    RELATION_LABELS,
    SENTENCE_PROMPT_VERSION,
    MalformedOutputError,
    PairAnswer,
    check_fields,
    data_block,
    defuse,
    load_json,
    quote_forms,
    value_span,
)
from theorycov.corpus.llm.prompts.free import FREE_INSTRUCTIONS, free_messages, free_schema, parse_free_answer
from theorycov.corpus.llm.prompts.pair import (
    EXAMPLES,
    INSTRUCTIONS,
    NO_CLAIM,
    pair_messages,
    pair_options,
    pair_schema,
    parse_pair_answer,
    render_answer,
)
from theorycov.corpus.llm.prompts.verify import (
    VERIFY_EXAMPLES,
    VERIFY_INSTRUCTIONS,
    VERIFY_VERBS,
    parse_verify_answer,
    verify_messages,
    verify_schema,
)

__all__ = [
    "EXAMPLES", "FLAGS", "FREE_INSTRUCTIONS", "INSTRUCTIONS", "MAX_SENTENCE_CHARS", "MalformedOutputError", "NO_CLAIM",
    "PROMPT_VERSION", "PairAnswer", "RELATION_LABELS", "SENTENCE_PROMPT_VERSION", "VERIFY_EXAMPLES",
    "VERIFY_INSTRUCTIONS", "VERIFY_VERBS", "check_fields", "data_block", "defuse", "free_messages", "free_schema", "load_json",
    "pair_messages", "pair_options", "pair_schema", "parse_free_answer", "parse_pair_answer", "parse_verify_answer",
    "quote_forms", "render_answer", "value_span", "verify_messages", "verify_schema",
]  # fmt: skip
