"""The translator's older strategies, kept selectable for comparison (bench/extract_eval.py): "choice"
(one enum of statements per unordered pair), "verify" (yes/no per statement, four prompts a pair) and
:class:`FreeTranslator` (one answer per sentence for all its claims, names constrained to the grounded
variables): the comparison that shows why pairs are asked one at a time."""
from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

from theorycov.corpus.llm.extractor import ModelExtractor, grounded_variables
from theorycov.corpus.llm.prompts import (
    NO_CLAIM,
    PROMPT_VERSION,
    VERIFY_VERBS,
    MalformedOutputError,
    PairAnswer,
    free_messages,
    free_schema,
    pair_messages,
    pair_schema,
    parse_free_answer,
    parse_pair_answer,
    parse_verify_answer,
    verify_messages,
    verify_schema,
)
from theorycov.corpus.types import Claim, Evidence, Mention, Sentence
from theorycov.corpus.untrusted import stated_mentions

if TYPE_CHECKING:
    from theorycov.corpus.llm.translator import LLMTranslator


def pairwise_claims(tr: "LLMTranslator", sentence: Sentence, variables: dict[str, list[str]],
                    evidence: Evidence) -> list[Claim]:
    """Strategies "choice" and "verify": one question (or four) per unordered pair. A malformed answer
    for some pair raises MalformedOutputError after the other pairs are done, with the claims that did
    come out on the exception (``partial_claims``)."""
    claims: list[Claim] = []
    errors: list[str] = []
    for a, b in combinations(variables, 2):
        if tr.config.strategy == "verify":
            try:
                claims.extend(verify_pair(tr, sentence.text, a, b, variables, evidence))
            except MalformedOutputError as exc:
                errors.append(f"{a}/{b}: {exc}")
            continue
        messages = pair_messages(sentence.text, a, b, variables[a], variables[b])
        parse = lambda t, a=a, b=b: parse_pair_answer(t, a, b)  # noqa: E731
        try:
            text, confidence = tr._ask((a, b, variables[a], variables[b]), sentence.text, messages,
                                       pair_schema(a, b), tr.config.max_tokens_pair, parse,
                                       skip_if=("claim", NO_CLAIM))
        except MalformedOutputError as exc:
            errors.append(f"{a}/{b}: {exc}")
            continue
        claim = tr._claim(parse(text), confidence, evidence)
        if claim is not None:
            claims.append(claim)
    tr.stats.claims += len(claims)
    tr._progress()
    if errors:
        err = MalformedOutputError(f"{len(errors)} malformed answer(s) for {sentence.text[:80]!r}: " + "; ".join(errors))
        err.partial_claims = claims  # type: ignore[attr-defined]
        raise err
    return claims


def verify_pair(tr: "LLMTranslator", text: str, a: str, b: str, variables: dict[str, list[str]],
                evidence: Evidence) -> list[Claim]:
    """Ask yes/no for "x activates y" and "x inhibits y" in both directions, and keep the statement
    with the highest P(yes) when it passes ``accept`` and beats the runner-up by ``margin``.

    A small model says yes too easily to any statement about two entities of a sentence; what it
    does tell apart is which of the four statements fits best (measured on hand-made sentences
    outside the evaluation sets), so the choice is relative, and a sentence yields at most one
    claim per pair.
    """
    written = {a: variables[a], b: variables[b]}
    scored: list[tuple[float, str, str, str]] = []
    for x, y in ((a, b), (b, a)):
        for verb, label in VERIFY_VERBS:
            statement = f"{x} {verb} {y}"
            answer, conf = tr._ask((statement, variables[x], variables[y]), text,
                                   verify_messages(text, statement, written), verify_schema(),
                                   16, parse_verify_answer, label_field="answer")
            c = conf if conf is not None else tr.config.default_confidence
            scored.append((c if parse_verify_answer(answer) else 1.0 - c, x, y, label))
    scored.sort(reverse=True)
    (p_best, x, y, label), p_next = scored[0], scored[1][0]
    if p_best < tr.config.accept or p_best - p_next < tr.config.margin:
        return []
    claim = tr._claim(PairAnswer(x, y, label, False, False, False), p_best, evidence)
    return [claim] if claim is not None else []


class FreeTranslator(ModelExtractor):
    """One question per sentence for all its claims (names constrained to its grounded variables)."""

    name = "llm-free"
    version = PROMPT_VERSION
    task = "free"

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        mentions = stated_mentions(sentence.text, mentions)  # paper text is data (corpus/untrusted.py)
        variables = grounded_variables(mentions)
        if len(variables) < 2:
            return []
        self.stats.sentences += 1
        names = list(variables)
        text, confidence = self._ask(
            tuple(sorted(variables.items())), sentence.text, free_messages(sentence.text, variables),
            free_schema(names), self.config.max_tokens_free, lambda t: parse_free_answer(t, names),
            label_field="relation",
        )
        claims, seen = [], set()
        for cause, effect, answer in parse_free_answer(text, names):
            if cause == effect or (cause, effect) in seen:
                continue  # a self-loop or a repeat is not a claim
            seen.add((cause, effect))
            claim = self._claim(answer, None, evidence)
            if claim is not None:
                claims.append(claim)
        self.stats.claims += len(claims)
        self._progress()
        return claims




__all__ = ["FreeTranslator", "pairwise_claims", "verify_pair"]
