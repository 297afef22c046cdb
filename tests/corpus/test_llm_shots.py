"""Retrieved worked examples (corpus/llm/shots.py): which sentences enter the pool and with what labels,
retrieval, the pool file, and where the examples sit in the translator's prompt."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from theorycov.corpus import evaluate as ev
from theorycov.corpus.domain import Domain, Variable
from theorycov.corpus.llm import AnswerCache, LLMTranslator, ScriptedBackend, TranslatorConfig
from theorycov.corpus.llm.prompts.sentence import SENTENCE_EXAMPLES, sentence_messages
from theorycov.corpus.llm.shots import Shot, ShotPool, build_pool, pool_shots
from theorycov.corpus.types import CorpusError, Evidence, Mention, Sentence

DOMAIN = Domain("toy", tuple(Variable(n) for n in ("PKA", "Raf", "Mek", "Erk", "Akt")), use_lexicon=False)


def _gold(*items: tuple[str, str, set[tuple[str, str, int]], set[tuple[str, str]]]) -> ev.GoldSet:
    return ev.GoldSet("toy", tuple(ev.GoldItem(i, t, frozenset(tr), frozenset(ig), DOMAIN) for i, t, tr, ig in items),
                      None, directed=False)


def test_pool_keeps_unambiguous_sentences_with_the_rules_direction_and_the_gold_sign() -> None:
    gold = _gold(
        ("d1", "Raf is inhibited by PKA. Mek and Erk were measured.", {("PKA", "Raf", -1)}, set()),
        ("d2", "Raf activates Mek.", {("Mek", "Raf", -1)}, set()),  # the gold's sign disagrees with the reading
        ("d3", "Mek activates Erk.", set(), set()),  # read, but the abstract relates nothing: left out
        ("d4", "Akt binds Raf.", set(), {("Akt", "Raf")}),  # a relation outside the measure: left out
        ("d5", "Mek phosphorylates Erk, and Raf was also seen.", {("Erk", "Mek", 1)}, set()),
    )
    shots = pool_shots(gold)
    assert {s.group for s in shots} == {"d1", "d5"}, shots
    by_group = {s.group: s for s in shots if s.claims}
    assert by_group["d1"].claims == (("PKA", "inhibits", "Raf"),)  # the direction is the sentence's, not the gold's order
    mek = [s for s in shots if s.group == "d1" and not s.claims]
    assert [s.text for s in mek] == ["Mek and Erk were measured."]  # a sentence without claims is an example too
    assert ("Mek", "activates", "Erk") in by_group["d5"].claims
    assert [s.group for s in pool_shots(gold, skip_groups={"d1"})] == ["d5"]
    with pytest.raises(ValueError, match="undirected"):
        pool_shots(dataclasses.replace(gold, directed=True))


def test_pool_names_entities_as_written_and_keeps_only_plain_names() -> None:
    dom = Domain("ids", (Variable("5894", aliases=("Raf-1",)), Variable("5566", aliases=("PKA",)),
                         Variable("9", aliases=("X<|im_start|>",))), use_lexicon=False)
    items = (ev.GoldItem("a", "Raf-1 is inhibited by PKA.", frozenset({("5566", "5894", -1)}), frozenset(), dom),
             ev.GoldItem("b", "X<|im_start|> is inhibited by PKA.", frozenset({("5566", "9", -1)}), frozenset(), dom))
    shots = pool_shots(ev.GoldSet("ids", items, None, directed=False))
    assert [(s.entities, s.claims) for s in shots] == [((("Raf-1", "Raf-1"), ("PKA", "PKA")), (("PKA", "inhibits", "Raf-1"),))]


def _pool() -> ShotPool:
    shots = [Shot("Raf is inhibited by PKA.", (("Raf", "Raf"), ("PKA", "PKA")), (("PKA", "inhibits", "Raf"),), "a"),
             Shot("Mek and Erk were measured in lysates.", (("Mek", "Mek"), ("Erk", "Erk")), (), "b"),
             Shot("Insulin strongly activates Akt in muscle.", (("Insulin", "Insulin"), ("Akt", "Akt")),
                  (("Insulin", "activates", "Akt"),), "c"),
             Shot("Akt and Erk were both detected.", (("Akt", "Akt"), ("Erk", "Erk")), (), "d")]
    from theorycov.corpus.embed import embed

    return ShotPool(shots, embed([s.text for s in shots]))


def test_nearest_takes_each_kind_most_similar_last_and_never_the_sentence_itself(tmp_path: Path) -> None:
    pool = _pool()
    got = pool.nearest("Insulin activates Akt in adipocytes.", 2, 1)
    assert sum(bool(s.claims) for s in got) == 2 and sum(not s.claims for s in got) == 1
    assert got[-1].group == "c"  # the most similar example sits next to the question
    assert all(s.text != "Raf is inhibited by PKA." for s in pool.nearest("Raf is inhibited by PKA.", 2, 0))
    assert pool.nearest("Raf is inhibited by PKA.", 0, 0) == []
    pool.save(tmp_path / "pool.npz")
    back = ShotPool.load(tmp_path / "pool.npz")
    assert back.shots == pool.shots and np.array_equal(back.vectors, pool.vectors)
    with pytest.raises(CorpusError, match="no few-shot pool at .*build_pool"):
        ShotPool.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(CorpusError, match="not a few-shot pool"):
        ShotPool.load(tmp_path / "other.npz")
    with pytest.raises(CorpusError, match="no sentence qualifies"):
        build_pool(_gold(("x", "Nothing here.", set(), set())))


def test_retrieved_examples_sit_between_the_fixed_ones_and_the_question(tmp_path: Path) -> None:
    shot = Shot("Insulin strongly activates Akt in muscle.", (("Insulin", "Insulin"), ("Akt", "Akt")),
                (("Insulin", "activates", "Akt"),))
    plain = sentence_messages("Raf is inhibited by PKA.", {"Raf": ["Raf"], "PKA": ["PKA"]})
    shown = sentence_messages("Raf is inhibited by PKA.", {"Raf": ["Raf"], "PKA": ["PKA"]}, [shot.example()])
    n = 1 + 2 * len(SENTENCE_EXAMPLES)
    assert shown[:n] == plain[:n] and shown[-1] == plain[-1] and len(shown) == len(plain) + 2
    assert "Insulin strongly activates Akt" in shown[n]["content"]
    assert shown[n + 1]["content"] == '{"effect of Insulin on Akt": "activates", "effect of Akt on Insulin": "none"}'

    pool = _pool()
    pool.save(tmp_path / "pool.npz")
    text = "Raf is inhibited by PKA."
    ms = [Mention("Raf", 0, 3, "Raf"), Mention("PKA", 20, 23, "PKA")]
    cfg = TranslatorConfig(second_opinion=None, shots=1, shots_none=1, shot_pool=str(tmp_path / "pool.npz"))
    backend = ScriptedBackend(['{"effect of Raf on PKA": "none"}', '{"effect of PKA on Raf": "inhibits"}'])
    tr = LLMTranslator(backend, cache=AnswerCache(tmp_path / "c.sqlite"), config=cfg)
    sent = Sentence(text, 0, 0, len(text))
    claims = tr.extract(sent, ms, evidence=Evidence(text, "", 0, 0, len(text)))
    assert [(c.cause, c.effect) for c in claims] == [("PKA", "Raf")]
    asked = backend.calls[0]
    assert len(asked) == len(plain) + 4  # one example with claims, one without
    assert "Raf is inhibited by PKA." not in asked[n]["content"] + asked[n + 2]["content"]  # never the sentence itself
    with pytest.raises(CorpusError, match="need a pool"):
        LLMTranslator(ScriptedBackend([]), config=dataclasses.replace(cfg, shot_pool=None)).extract(
            sent, ms, evidence=Evidence(text, "", 0, 0, len(text)))
