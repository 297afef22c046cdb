"""Approximate nearest-neighbour indexes for large collections (issue 14): IVF lists over an HNSW coarse
quantizer, with RaBitQ codes.

The exact index (``IndexFlatIP`` in an ``IndexIDMap2``) keeps every 384-d vector in full: 1.5 KB a passage,
15 GB at 10 M passages, and a query scans them all. Above :data:`LARGE_AT` vectors the index becomes
``IVF{nlist}_HNSW32,RaBitQ{bits}``: inverted lists (Jégou et al. 2011, "Product quantization for nearest neighbor
search", §4, the IVFADC scheme) whose coarse quantizer is an HNSW graph over the nlist centroids (Malkov &
Yashunin 2018), so that assigning a vector to its list costs O(log nlist) rather than O(nlist); each residual is
stored as an extended RaBitQ code (Gao & Long 2024, "RaBitQ", SIGMOD, and "Practical and Asymptotically Optimal
Quantization of High-Dimensional Vectors in Euclidean Space for Approximate Nearest Neighbor Search", SIGMOD
2025): a random rotation, then ``bits`` bits a dimension, with an unbiased inner-product estimator.

Why RaBitQ and not PQ: at the same 192 bytes a vector, PQ codes (192 sub-quantizers of 2 dims) lost every point of
recall that was lost (1 M embedding-like vectors: IVF lists alone 1.000 at nprobe 64, PQ 0.899, PQ's top 100
re-ranked exactly 1.000), so the codes, not the lists, were the limit. RaBitQ at 4 bits reached 0.949 there in
0.49 ms against PQ's 1.26 ms, and trains no codebooks (the 10 M build spent 500 s training PQ). Measured by
``bench/scaleout.py``; the table is in bench/RESULTS.md.

- the centroids are trained once, on a sample of :data:`TRAIN_PER_LIST` vectors per list (FAISS's k-means asks
  for 39 to 256 a centroid), at most :data:`MAX_TRAIN`;
- vectors are then added incrementally with their ids (``add_with_ids``), and ``remove_ids`` works as for the
  flat index, so the database-driven sync and rebuild in :mod:`theorycov.corpus.index` stay as they are;
- a query visits ``nprobe`` lists (:data:`NPROBE`), its own rotated residual quantized to :data:`QUERY_BITS` bits.

Metric: inner product over unit vectors (cosine), as for the flat index, so scores mean the same in both.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["LARGE_AT", "MIN_IVF", "NPROBE", "CODES", "QUERY_BITS", "TRAIN_PER_LIST", "MAX_TRAIN", "flat_index", "ivf_index",
           "ivf_nlist", "parse_codes", "is_flat", "train_size", "train_sample", "vectors_of", "set_search_params", "large_at"]

#: collections of this many vectors or more get the IVF-HNSW-RaBitQ index (env THEORYCOV_ANN_AT overrides)
LARGE_AT = 200_000
#: inverted lists visited per query (at 1 M, RaBitQ4's recall@10 was 0.946 / 0.949 / 0.950 at nprobe 32 / 64 / 128)
NPROBE = 64
#: the code of each vector: ``RaBitQ{b}`` (b bits a dimension, 1-9: 384 dims at 4 bits are 192 bytes, plus a few
#: bytes of scale factors) or ``PQ{m}`` (m bytes of product quantization, kept for comparison). RaBitQ5 (240 bytes)
#: reached recall@10 0.971 at 1 M; 4 bits keep 10 M passages near 2 GB.
CODES = "RaBitQ4"
#: bits of the query's own quantized residual in RaBitQ's estimator (FAISS's default 4 costs recall for no speed
#: that matters at nprobe 64); not stored in the index file, so set at every load
QUERY_BITS = 8
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


def parse_codes(codes: str, dim: int) -> tuple[str, int]:
    """("rabitq", bits) or ("pq", bytes) from a :data:`CODES` string; ValueError naming what is accepted."""
    import re

    match = re.fullmatch(r"(RaBitQ|PQ)(\d+)", codes)
    if match is None:
        raise ValueError(f"unknown vector codes {codes!r}: use RaBitQ<bits> (1-9 bits a dimension) or PQ<bytes>")
    kind, size = match.group(1).lower(), int(match.group(2))
    if kind == "rabitq" and not 1 <= size <= 9:
        raise ValueError(f"RaBitQ takes 1 to 9 bits a dimension, got {size}")
    if kind == "pq" and (size < 1 or dim % size):
        raise ValueError(f"PQ bytes {size} must divide the dimension {dim}")
    return kind, size


def ivf_index(dim: int, n_expected: int, *, codes: str = CODES) -> Any:
    """An untrained ``IVF{nlist}_HNSW32,{codes}`` inner-product index sized for ``n_expected`` vectors.

    k-means wants at least 39 training vectors a centroid: nlist is capped at n_expected // 39. RaBitQ trains
    nothing but the centroids; PQ codes take 8 bits from 256 * 39 vectors on, 4 bits below (small collections)."""
    import faiss

    kind, size = parse_codes(codes, dim)
    if n_expected < MIN_IVF:
        raise ValueError(f"an IVF index needs at least {MIN_IVF} vectors to train on, got {n_expected}")
    nlist = max(1, min(ivf_nlist(n_expected), n_expected // 39))
    small = n_expected < 256 * 39
    spec = f"RaBitQ{size}" if kind == "rabitq" else f"PQ{size}x{4 if small else 8}"
    index = faiss.index_factory(dim, f"IVF{nlist}_HNSW32,{spec}", faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    # k-means budget: 15 iterations (FAISS's 25 took 277 s to train PQ at 100,000 vectors on 2 busy cores, 15 took
    # 55 s, with the same recall@10).
    ivf.cp.niter = 15
    if kind == "pq":
        # The factory turns on polysemous training (a Hamming-distance filter we never use): it made training at
        # 20,000 vectors take 119 s instead of a few (measured on 2 cores).
        ivf.do_polysemous_training = False
        ivf.pq.cp.niter = 15
        ivf.pq.cp.max_points_per_centroid = 64  # 192 k-means of 256 centroids in 2 dims, run one by one
        if small:
            ivf.pq.cp.min_points_per_centroid = 1
    if small:  # train on what there is without k-means' warnings
        ivf.cp.min_points_per_centroid = 1
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


def set_search_params(index: Any, nprobe: int = NPROBE, ef_search: int = 128, query_bits: int = QUERY_BITS) -> None:
    """Lists visited per query, the HNSW quantizer's search depth and RaBitQ's query bits (none of them is stored
    in the index file)."""
    import faiss

    if is_flat(index):
        return
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    ivf.nprobe = min(nprobe, ivf.nlist)
    quantizer = faiss.downcast_index(ivf.quantizer)
    if hasattr(quantizer, "hnsw"):
        quantizer.hnsw.efSearch = max(ef_search, ivf.nprobe)
    if isinstance(ivf, faiss.IndexIVFRaBitQ):
        ivf.qb = query_bits


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
