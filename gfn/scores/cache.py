"""Cache of per-(node, parent set) rows of a local score (the candidate deltas of ``LocalScore.delta``).

A sampler's graphs share most parent sets, within a batch and from one step to the next, so each distinct
(node, parent set) is factorized once and its row of d candidate deltas is kept. Lookups and inserts are
vectorized: keys are int64, kept sorted, found with ``searchsorted``; no Python loop over rows.

Keys. For d <= 57 the key is exact: node * 2^d + the parent set's bitmask. Above that a parent set needs
more than one int64 word, so the key is a hash: the parent set packed 8 to a byte, the bytes weighted by
random integers below 2^40 and summed with a random offset per node, in float64 (exact: every partial sum
stays below 2^53). Every row also stores its exact tag (node, the packed set as ``W = ceil(d / 64)`` int64
words), which a lookup compares: a hash collision can only cost a recomputation, never return another
set's row (what :meth:`RowCache.resolve` guarantees).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["RowCache", "EXACT_MAX_D"]

#: largest d whose (node, parent set) fits one exact int64 key
EXACT_MAX_D = 57
_HASH_BITS = 40  # byte weights below 2^40: 8 bytes a word, at most 2^53 / 2^48 = 32 bytes (d <= 256) stay exact


class _SortedKeys:
    """Sorted int64 keys with the slab row of each, looked up with searchsorted."""

    def __init__(self, device: torch.device) -> None:
        self.keys = torch.empty(0, dtype=torch.int64, device=device)
        self.rows = torch.empty(0, dtype=torch.int64, device=device)

    def find(self, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M,) keys -> (key present (M,) bool, slab row (M,) int64, meaningful where present)."""
        if self.keys.numel() == 0:
            return torch.zeros(keys.shape, dtype=torch.bool, device=keys.device), torch.zeros_like(keys)
        pos = torch.searchsorted(self.keys, keys).clamp(max=self.keys.numel() - 1)
        return self.keys[pos] == keys, self.rows[pos]

    def merge(self, keys: torch.Tensor, rows: torch.Tensor) -> None:
        keys = torch.cat([self.keys, keys])
        order = torch.argsort(keys)
        self.keys, self.rows = keys[order], torch.cat([self.rows, rows])[order]


class RowCache:
    """(node, parent set) -> float64 row of ``width``, no Python loop on lookup or insert.

    Rows live in a preallocated slab (written once, never moved); two sorted levels of (key, slab row)
    find them: new keys go to a small level that is merged into the large one when it fills (amortizing
    the sort, as an LSM tree does), and only int64 keys and row numbers are ever sorted. When the slab is
    full everything is dropped: a sampler's working set of parent sets is small, and a dropped entry is
    only recomputed, never wrong.
    """

    def __init__(self, d: int, width: int, capacity: int, recent: int = 16_384, device: torch.device = torch.device("cpu")) -> None:
        self.d, self.width, self.capacity, self.recent_capacity, self.device = d, width, capacity, recent, device
        self.exact = d <= EXACT_MAX_D
        self.words = 0 if self.exact else -(-d // 64)
        self.tag_width = 0 if self.exact else self.words + 1
        if not self.exact:
            if self.words > 4:
                raise ValueError(f"the hashed cache keys serve d <= 256, got d = {d}")
            g = torch.Generator().manual_seed(16)  # fixed: keys are the same in every run
            self._byte_weights = torch.randint(0, 2**_HASH_BITS, (8 * self.words,), generator=g).to(device, torch.float64)
            self._node_offsets = torch.randint(0, 2**_HASH_BITS, (d,), generator=g).to(device, torch.float64)
        self.hits = 0  # distinct (node, parent set) found, over the cache's life
        self.misses = 0  # distinct (node, parent set) computed
        self.values = torch.empty(0, width, dtype=torch.float64, device=device)  # the slab, allocated on first insert
        self.tags = torch.empty(0, self.tag_width, dtype=torch.int64, device=device)
        self.clear()

    def clear(self) -> None:
        """Drop every row (the slab is kept and overwritten)."""
        self.used = 0
        self.main, self.recent = _SortedKeys(self.device), _SortedKeys(self.device)

    # ---- keys -----------------------------------------------------------------------------------
    def keys(self, nodes: torch.Tensor, parents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M,) nodes, (M, d) bool parents -> (keys (M,) int64, tags (M, T) int64; T = 0 when keys are exact)."""
        M, d = parents.shape
        dev = parents.device
        if self.exact:
            w = 2 ** torch.arange(d, dtype=torch.int64, device=dev)
            return nodes.to(torch.int64) * (2**d) + (parents.to(torch.int64) * w).sum(1), torch.empty(M, 0, dtype=torch.int64, device=dev)
        W = self.words
        padded = torch.zeros(M, W * 64, dtype=torch.uint8, device=dev)
        padded[:, :d] = parents
        shifts = torch.arange(8, dtype=torch.uint8, device=dev)
        packed = (padded.view(M, W * 8, 8) << shifts).sum(-1, dtype=torch.uint8)  # (M, 8 W) bytes
        tags = torch.cat([nodes.to(torch.int64)[:, None], packed.view(torch.int64)], dim=1)  # (M, W + 1)
        h = packed.to(torch.float64) @ self._byte_weights + self._node_offsets[nodes]  # exact integers < 2^53
        return h.to(torch.int64), tags

    # ---- access ---------------------------------------------------------------------------------
    def lookup(self, keys: torch.Tensor, tags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(M,) keys, (M, T) tags -> (found (M,) bool, key present (M,) bool, values (M, width), zeros where not found)."""
        hit, row = self.main.find(keys)
        if self.recent.keys.numel():
            h2, r2 = self.recent.find(keys)
            row = torch.where(h2, r2, row)
            hit = hit | h2
        found = hit
        if self.tag_width and bool(hit.any()):
            found = hit & (self.tags[row] == tags).all(1)
        vals = self.values[row] if self.used else torch.zeros(keys.shape[0], self.width, dtype=torch.float64, device=keys.device)
        return found, hit, torch.where(found[:, None], vals, torch.zeros((), dtype=torch.float64, device=keys.device))

    def insert(self, keys: torch.Tensor, values: torch.Tensor, tags: torch.Tensor) -> None:
        M = keys.shape[0]
        if M > self.capacity:
            return
        if self.values.shape[0] == 0:  # empty pages: memory is touched only as rows are written
            self.values = torch.empty(self.capacity, self.width, dtype=torch.float64, device=self.device)
            self.tags = torch.empty(self.capacity, self.tag_width, dtype=torch.int64, device=self.device)
        if self.used + M > self.capacity:
            self.clear()
        rows = torch.arange(self.used, self.used + M, device=keys.device)
        self.values[self.used : self.used + M] = values
        self.tags[self.used : self.used + M] = tags
        self.used += M
        self.recent.merge(keys, rows)
        if self.recent.keys.numel() > self.recent_capacity:
            self.main.merge(self.recent.keys, self.recent.rows)
            self.recent = _SortedKeys(self.device)

    def resolve(self, nodes: torch.Tensor, parents: torch.Tensor,
                compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``compute(nodes, parents)`` (M, width) as a table of distinct rows and an index: (table (U, width), index (M,)),
        with ``table[index]`` the full result; each distinct (node, parent set) computed once and kept.

        nodes: (M,) int64; parents: (M, d) bool. Exact: rows whose hash clashes with another set's (in the
        batch or in the cache) are computed apart. Callers that read a few entries of each row gather them
        from the table and never build the (M, width) result.
        """
        keys, tags = self.keys(nodes, parents)
        uniq, inverse = torch.unique(keys, return_inverse=True)
        first = torch.zeros(uniq.numel(), dtype=torch.int64, device=keys.device)
        first.scatter_(0, inverse, torch.arange(keys.numel(), device=keys.device))  # some row holding each key
        rep_tags = tags[first]
        found, present, vals = self.lookup(uniq, rep_tags)
        miss = ~found
        n_miss = int(miss.sum())
        self.hits += uniq.numel() - n_miss
        self.misses += n_miss
        if n_miss:
            rows = first[miss]
            new = compute(nodes[rows], parents[rows])
            vals[miss] = new
            fresh = ~present[miss]  # a key held by another set (a clash) is not inserted twice
            self.insert(uniq[miss][fresh], new[fresh], rep_tags[miss][fresh])
        if self.tag_width:
            clash = (tags != rep_tags[inverse]).any(1)  # a different set shares a key with the representative
            if bool(clash.any()):
                at = clash.nonzero().squeeze(1)
                inverse = inverse.clone()
                inverse[at] = vals.shape[0] + torch.arange(at.numel(), device=keys.device)
                vals = torch.cat([vals, compute(nodes[at], parents[at])])
        return vals, inverse

    def rows(self, nodes: torch.Tensor, parents: torch.Tensor,
             compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``compute(nodes, parents)``: (M,), (M, d) bool -> (M, width), through :meth:`resolve`."""
        table, index = self.resolve(nodes, parents, compute)
        return table[index]
