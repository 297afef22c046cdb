"""Rule-model agreement (corpus/llm/agreement.py): a claim the rule reader makes with the same ordered pair
and sign needs only accept_agree of the model; a pair the labels decide, a coordinated pair, a pair the
rules read both ways, or a different sign gives nothing more."""
from __future__ import annotations

import json

from theorycov.corpus.domain import Domain
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.llm import AnswerCache, Completion, LLMTranslator, ScriptedBackend, TranslatorConfig
from theorycov.corpus.llm.agreement import agreed, rule_readings
from theorycov.corpus.llm.direction import decide
from theorycov.corpus.types import Evidence, Relation, Sentence

PAIRS = [("A", "B"), ("B", "A")]
LOW = [(0.05, 0.2, 0.75), (0.02, 0.03, 0.95)]  # A inhibits B at 0.2: nothing reaches accept 0.35


def test_agreement_lowers_the_threshold_only_for_the_rules_pair_and_sign() -> None:
    assert decide(dict.fromkeys(PAIRS, "none"), LOW, accept=0.35, margin=0.1) == []
    assert agreed(PAIRS, LOW, {("A", "B"): 1}, accept_agree=0.15, decided=[]) == [("A", "B", "inhibits", 0.2)]
    assert agreed(PAIRS, LOW, {("A", "B"): 1}, accept_agree=0.25, decided=[]) == []  # below accept_agree
    assert agreed(PAIRS, LOW, {("A", "B"): 0}, accept_agree=0.15, decided=[]) == []  # rules say activates: 0.05
    assert agreed(PAIRS, LOW, {("B", "A"): 1}, accept_agree=0.15, decided=[]) == []  # the other direction: 0.03
    assert agreed(PAIRS, LOW, {("A", "B"): None}, accept_agree=0.15, decided=[]) == [("A", "B", "inhibits", 0.2)]
    assert agreed(PAIRS, LOW, {("A", "B"): 1, ("B", "A"): 1}, accept_agree=0.15, decided=[]) == []  # both ways
    assert agreed(PAIRS, LOW, {("A", "B"): 1}, accept_agree=0.15, decided=[], skip={frozenset("AB")}) == []
    done = [("B", "A", "activates", 0.6)]
    assert agreed(PAIRS, LOW, {("A", "B"): 1}, accept_agree=0.15, decided=done) == []  # the labels decided it


def _read(domain: Domain, text: str) -> tuple[Sentence, list]:
    mentions = Grounder(domain, GroundingConfig(use_embeddings=False)).mentions(text)
    return Sentence(text, 0, 0, len(text)), mentions


SACHS_PKC = ("Other Ras-independent activators of Raf include interferon beta, protein kinase C (PKC) alpha, antiapoptotic "
             "proteins (eg, Bcl-2), scaffolding proteins (eg, ceramide-activated protein kinase), ultraviolet light, ionizing "
             "radiation, retinoids, erythropoietin, and dimerization between Raf isoforms 86-94 (Fig 3).")


class _Scored(ScriptedBackend):
    """Label probabilities per asked pair, keyed by the answer's key."""

    def __init__(self, dists: dict[str, tuple[float, float, float]]) -> None:
        super().__init__(["-"] * 99)
        self.dists = dists

    def complete(self, messages, schema, *, max_tokens, skip_if=None):  # type: ignore[no-untyped-def]
        super().complete(messages, schema, max_tokens=max_tokens)
        (key, prop), = schema["properties"].items()
        dist = self.dists[key]
        return Completion(json.dumps({key: prop["enum"][max(range(3), key=dist.__getitem__)]}), choices=(dist,))


def test_translator_claims_a_listed_activator_the_model_gives_0_19(sachs: Domain) -> None:
    """The Sachs statement PKC increases Raf: the model's 0.19 (cached answer on this sentence) is below
    accept, the rules read "activators of Raf include ... PKC", so with agreement the claim comes out."""
    sent, mentions = _read(sachs, SACHS_PKC)
    assert rule_readings(sent, mentions) == {("PKC", "Raf"): 0}
    dists = {"effect of Raf on PKC": (0.103, 0.052, 0.846), "effect of PKC on Raf": (0.192, 0.072, 0.736)}
    off = LLMTranslator(_Scored(dists), cache=AnswerCache(":memory:"), config=TranslatorConfig(accept_agree=None))
    assert off.extract(sent, mentions, evidence=Evidence(sent.text)) == []
    on = LLMTranslator(_Scored(dists), cache=AnswerCache(":memory:"), config=TranslatorConfig(accept_agree=0.15))
    (claim,) = on.extract(sent, mentions, evidence=Evidence(sent.text))
    assert (claim.cause, claim.effect, claim.relation, claim.confidence) == ("PKC", "Raf", Relation.ACTIVATES, 0.192)
