"""Approximate nearest-neighbour indexes for large collections (issue 14): IVF lists over an HNSW coarse
quantizer, with product-quantized codes.

The exact index (``IndexFlatIP`` in an ``IndexIDMap2``) keeps every 384-d vector in full: 1.5 KB a passage,
15 GB at 10 M passages, and a query scans them all. Above :data:`LARGE_AT` vectors the index becomes
``IVF{nlist}_HNSW32,PQ{m}`` (Jégou et al. 2011, "Product quantization for nearest neighbor search", §4, the
IVFADC scheme; the coarse quantizer is an HNSW graph over the nlist centroids, Malkov & Yashunin 2018, so
that assigning a vector to its list costs O(log nlist) rather than O(nlist)):

- the centroids and the PQ codebooks are trained once, on a sample of :data:`TRAIN_PER_LIST` vectors per list
  (FAISS's k-means asks for 39 to 256 a centroid), at most :data:`MAX_TRAIN`;
- vectors are then added incrementally with their ids (``add_with_ids``), and ``remove_ids`` works as for the
  flat index, so the database-driven sync and rebuild in :mod:`theorycov.corpus.index` stay as they are;
- a query visits ``nprobe`` lists (:data:`NPROBE`); ``m`` bytes a vector (:data:`PQ_BYTES`) hold the codes.

Metric: inner product over unit vectors (cosine), as for the flat index, so scores mean the same in both.
The parameters are the ones ``bench/scaleout.py`` measured at 1 M vectors (recall@10 against exact search,
p50 latency, memory); its table is in bench/RESULTS.md.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["LARGE_AT", "MIN_IVF", "NPROBE", "PQ_BYTES", "TRAIN_PER_LIST", "MAX_TRAIN", "flat_index", "ivf_index", "ivf_nlist",
           "is_flat", "train_size", "train_sample", "vectors_of", "set_search_params", "large_at"]

#: collections of this many vectors or more get the IVF-HNSW-PQ index (env THEORYCOV_ANN_AT overrides)
LARGE_AT = 200_000
#: inverted lists visited per query
NPROBE = 64
#: bytes of PQ code per vector: 192 sub-quantizers of 2 dims, 8 bits each (8 times smaller than float32). On 20,000
#: embedding-like vectors recall@10 was 0.70 with 48 bytes, 0.85 with 96 and 0.95 with 192 (bench/scaleout.py
#: measures it at 1 M and 10 M); 192 bytes keep 10 M passages near 2 GB.
PQ_BYTES = 192
#: training vectors per inverted list, and the cap on the training sample
TRAIN_PER_LIST = 50
MAX_TRAIN = 250_000
#: below this many vectors an IVF index cannot be trained sensibly: the index stays flat whatever large_at says
MIN_IVF = 64


def large_at() -> int:
    """The size from which a collection is indexed approximately (:data:`LARGE_AT`, or $THEORYCOV_ANN_AT)."""
    raw = os.environ.get("THEORYCOV_ANN_AT")
    if raw is None:
        return LARGE_AT
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"THEORYCOV_ANN_AT must be a whole number of vectors, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"THEORYCOV_ANN_AT must be at least 1, got {value}")
    return value


def ivf_nlist(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4 sqrt(n) (FAISS's guideline), a power of two, 16 to 65,536."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return int(min(65_536, max(16, 2 ** round(math.log2(4 * math.sqrt(n))))))


def flat_index(dim: int) -> Any:
    """The exact index: every vector in full, ids kept (``IndexIDMap2`` can give vectors back)."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def ivf_index(dim: int, n_expected: int, *, pq_bytes: int = PQ_BYTES) -> Any:
    """An untrained ``IVF{nlist}_HNSW32,PQ{pq_bytes}x{bits}`` inner-product index sized for ``n_expected`` vectors.

    k-means wants at least 39 training vectors a centroid: nlist is capped at n_expected // 39, and the PQ codes
    take 8 bits (256 centroids a sub-space) from 256 * 39 vectors on, 4 bits below (small collections, tests)."""
    import faiss

    if dim % pq_bytes:
        raise ValueError(f"PQ bytes {pq_bytes} must divide the dimension {dim}")
    if n_expected < MIN_IVF:
        raise ValueError(f"an IVF index needs at least {MIN_IVF} vectors to train on, got {n_expected}")
    nlist = max(1, min(ivf_nlist(n_expected), n_expected // 39))
    bits = 8 if n_expected >= 256 * 39 else 4
    index = faiss.index_factory(dim, f"IVF{nlist}_HNSW32,PQ{pq_bytes}x{bits}", faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    # The factory turns on polysemous training (a Hamming-distance filter we never use): it made training at
    # 20,000 vectors take 119 s instead of a few (measured on 2 cores).
    ivf.do_polysemous_training = False
    # k-means budgets: 15 iterations, and the PQ codebooks (192 k-means of 256 centroids in 2 dims, which FAISS runs
    # one by one) on at most 64 points a centroid; FAISS's defaults (25 iterations, 256 points) took 277 s to train
    # at 100,000 vectors on 2 busy cores, these 55 s, with the same recall@10 (0.927; bench/scaleout.py).
    ivf.cp.niter = 15
    ivf.pq.cp.niter = 15
    ivf.pq.cp.max_points_per_centroid = 64
    if n_expected < 256 * 39:  # small collections: train on what there is without k-means' warnings
        ivf.cp.min_points_per_centroid = 1
        ivf.pq.cp.min_points_per_centroid = 1
    set_search_params(index)
    return index


def train_size(index: Any) -> int:
    """How many vectors :func:`ivf_index`'s index wants to train on."""
    import faiss

    return min(MAX_TRAIN, TRAIN_PER_LIST * faiss.extract_index_ivf(index).nlist)


def is_flat(index: Any) -> bool:
    """True for the exact index (:func:`flat_index`)."""
    import faiss

    return isinstance(index, faiss.IndexIDMap2) and isinstance(faiss.downcast_index(index.index), faiss.IndexFlat)


def set_search_params(index: Any, nprobe: int = NPROBE, ef_search: int = 128) -> None:
    """Lists visited per query and the HNSW quantizer's search depth (neither is stored in the index file)."""
    import faiss

    if is_flat(index):
        return
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = min(nprobe, ivf.nlist)
    quantizer = faiss.downcast_index(ivf.quantizer)
    if hasattr(quantizer, "hnsw"):
        quantizer.hnsw.efSearch = max(ef_search, ivf.nprobe)


def vectors_of(flat: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids (N,) int64, vectors (N, dim) float32) of an exact index, to move them into an IVF index."""
    import faiss

    n = flat.ntotal
    ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
    vectors = flat.index.reconstruct_n(0, n) if n else np.zeros((0, flat.d), dtype=np.float32)
    return ids, np.ascontiguousarray(vectors, dtype=np.float32)


def train_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """(min(size, N), dim) rows drawn without replacement (seeded), for training."""
    if len(vectors) <= size:
        return vectors
    rows = np.random.default_rng(seed).choice(len(vectors), size=size, replace=False)
    return vectors[np.sort(rows)]
