"""The default translator builds its llama.cpp backend lazily from the right module (no model load here)."""
from __future__ import annotations

import pytest

from theorycov.corpus.llm.translator import LLMTranslator, llm_available


def test_default_backend_is_llamacpp(monkeypatch: pytest.MonkeyPatch) -> None:
    if not llm_available():
        pytest.skip("the llm extra (llama-cpp-python + model parts) is not installed")
    import theorycov.corpus.llm.llamacpp as lc

    made = []
    monkeypatch.setattr(lc.LlamaCppBackend, "__init__", lambda self, *a, **k: made.append(True))
    backend = LLMTranslator().backend
    assert made == [True] and isinstance(backend, lc.LlamaCppBackend)
