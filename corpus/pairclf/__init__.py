"""A supervised second opinion on each entity pair of a sentence: MiniLM features of the marked pair
(features.py), training pairs from gold documents (data.py), a logistic regression trained on BioRED Train
(model.py). The translator combines it with the language model (corpus/llm/second.py)."""
from __future__ import annotations

__all__: list[str] = []
