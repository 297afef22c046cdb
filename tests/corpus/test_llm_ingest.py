"""The model translator inside ingest (with a scripted backend): claims land in the database, a
malformed answer is recorded and the run goes on, and the progress bar carries its throughput."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from theorycov.corpus.llm import AnswerCache, Completion, LLMTranslator, TranslatorConfig
from theorycov.corpus.pipeline import IngestConfig, ingest


class _Reader:
    """Answers yes (p = 0.9) to the statements it believes, no (p = 0.8) to the rest; garbage for
    sentences that contain 'garble'."""

    model_id = "scripted-reader"

    def __init__(self, believes: set[str]) -> None:
        self.believes = believes
        self.calls = 0

    def complete(self, messages, schema, *, max_tokens, skip_if=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        user = messages[-1]["content"]
        if "garble" in user:
            return Completion('{"answer": "ye')
        statement = user.split("Statement: ")[1].split("\n")[0]
        yes = statement in self.believes
        text = json.dumps({"answer": "yes" if yes else "no"})
        return Completion(text, (('{"answer": "', 0.0), (text[12:-2], math.log(0.9 if yes else 0.8)), ('"}', 0.0)))


def test_ingest_with_the_model_translator(tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "a.txt").write_text("Raf activates Mek in these cells. PKA was measured. Erk garble Mek.\n")
    backend = _Reader({"Raf activates Mek"})
    tr = LLMTranslator(backend, cache=AnswerCache(":memory:"), config=TranslatorConfig(strategy="verify"))
    summary = ingest([papers], "sachs", f"sqlite:///{tmp_path / 'db.sqlite'}", extractor=tr,
                     config=IngestConfig(index=False, progress=True))
    assert summary.counts["claims"] == 1
    assert summary.counts["extraction_errors"] == 1  # the garbled sentence, recorded; the run finished
    assert any("malformed" in reason for _, _, reason in summary.failures)
    assert tr.stats.sentences == 2 and tr.stats.failures >= 1
    assert "questions/s" in tr.stats.line()
