"""Convergence diagnostics of multi-chain samplers: split R-hat (Gelman et al., "Bayesian Data Analysis",
3rd ed., §11.4) of a scalar series and of every edge indicator, from block sums so that long runs at
d = 107 never hold their samples.

A :class:`ChainRecorder` receives the kept states of C chains step by step and keeps, per chain and per
time block, the sum of every edge indicator and of log R (and the log R series itself, C floats a step).
Split R-hat splits each chain into its first and second half (by blocks), so a chain that drifts counts as
two chains that disagree. For an indicator, the within-half variance is p(1 - p) n / (n - 1), so the block
sums suffice. Edges whose pooled marginal is below ``floor`` or above 1 - floor in every half are left out
of the edge R-hat (their variance is ~0 and R-hat is undefined; they also weigh nothing in a Pearson r).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["split_rhat", "split_rhat_binary", "ChainRecorder"]


def split_rhat(x: np.ndarray) -> float:
    """Split R-hat of a scalar series (C, T) (T >= 4): sqrt(var+ / W) over the 2C half-chains."""
    x = np.asarray(x, np.float64)
    C, T = x.shape
    h = T // 2
    halves = np.concatenate([x[:, :h], x[:, T - h :]], axis=0)  # (2C, h)
    means, var = halves.mean(1), halves.var(1, ddof=1)
    W = var.mean()
    B = h * means.var(ddof=1)
    if W <= 0:
        return 1.0 if B <= 0 else float("inf")
    return float(np.sqrt(((h - 1) / h * W + B / h) / W))


def split_rhat_binary(counts: np.ndarray, n: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """Split R-hat of indicator series from their half-chain sums.

    counts: (2C, K) number of kept states with each indicator on, per half-chain; n: (2C,) kept states per
    half. Returns (K,) R-hat, NaN where the pooled share lies outside [floor, 1 - floor].
    """
    counts = np.asarray(counts, np.float64)
    n = np.asarray(n, np.float64)[:, None]
    p = counts / n  # (2C, K)
    pooled = counts.sum(0) / n.sum()
    W = (p * (1 - p) * n / (n - 1)).mean(0)  # (K,) within-half variance
    hm = float(n.mean())
    B = hm * p.var(0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(((hm - 1) / hm * W + B / hm) / W)
    r = np.where(W > 0, r, np.where(B > 0, np.inf, 1.0))
    return np.where((pooled >= floor) & (pooled <= 1 - floor), r, np.nan)


class ChainRecorder:
    """Block sums of edge indicators and log R of C chains, for marginals and split R-hat.

    Args:
        num_chains: C; d: nodes; block: kept steps per block (a half-chain is a whole number of blocks).
    """

    def __init__(self, num_chains: int, d: int, block: int = 100) -> None:
        self.C, self.d, self.block = num_chains, d, block
        self.blocks: list[np.ndarray] = []  # each (C, d, d) int32 edge counts of one block
        self.block_lr: list[np.ndarray] = []  # each (C,) sum of log R over the block
        self._cur = np.zeros((num_chains, d, d), np.int32)
        self._cur_lr = np.zeros(num_chains)
        self._n = 0
        self.log_r: list[np.ndarray] = []  # (C,) per kept step

    def add(self, adj: torch.Tensor, log_r: torch.Tensor) -> None:
        """One kept step: adj (C, d, d) bool, log_r (C,) float."""
        self._cur += adj.to("cpu", torch.int32).numpy()
        lr = log_r.to("cpu", torch.float64).numpy()
        self._cur_lr += lr
        self.log_r.append(lr)
        self._n += 1
        if self._n == self.block:
            self.blocks.append(self._cur)
            self.block_lr.append(self._cur_lr)
            self._cur = np.zeros_like(self._cur)
            self._cur_lr = np.zeros(self.C)
            self._n = 0

    @property
    def kept(self) -> int:
        """Kept steps per chain in whole blocks (what the statistics use)."""
        return len(self.blocks) * self.block

    def chain_marginals(self) -> np.ndarray:
        """(C, d, d) edge marginals of each chain over whole blocks."""
        return np.sum(self.blocks, axis=0) / max(self.kept, 1)

    def marginals(self, chains: np.ndarray | None = None) -> np.ndarray:
        """(d, d) pooled edge marginals (optionally over a subset of chains, (C,) bool)."""
        m = self.chain_marginals()
        return (m if chains is None else m[chains]).mean(0)

    def rhat(self, chains: np.ndarray | None = None, floor: float = 0.01) -> dict[str, float]:
        """Split R-hat of log R and the largest over edges (chains: (C,) bool subset, e.g. the cold ones)."""
        nb = len(self.blocks)
        if nb < 2:
            return {"rhat_log_r": float("nan"), "rhat_edges_max": float("nan"), "edges_judged": 0}
        h = nb // 2
        blocks = np.stack(self.blocks)  # (nb, C, d, d)
        sel = slice(None) if chains is None else chains
        first, second = blocks[:h].sum(0)[sel], blocks[nb - h :].sum(0)[sel]  # (C', d, d)
        counts = np.concatenate([first, second]).reshape(-1, self.d * self.d)
        n = np.full(counts.shape[0], h * self.block)
        r_edges = split_rhat_binary(counts, n, floor)
        lr = np.stack(self.log_r[: self.kept], axis=1)[sel]  # (C', T)
        judged = np.isfinite(r_edges) | np.isinf(r_edges)
        return {"rhat_log_r": split_rhat(lr), "rhat_edges_max": float(np.nanmax(r_edges)) if judged.any() else 1.0,
                "edges_judged": int(judged.sum())}
