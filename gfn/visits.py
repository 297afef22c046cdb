"""Records of structure-MCMC chains' states, kept beside the chains (gfn/warmstart.py's guide).

* :class:`Reservoir`: a uniform sample of the cold chains' history (Vitter's algorithm R), the target of the
  guide's demonstrations and, with ``GuideConfig.history``, the source of its injected transitions;
* :class:`VisitRecord`: the distinct graphs the chains visited, with visit counts and log R, which join the
  posterior's support where the fit weighs distinct graphs by R (coverage.posterior).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["Reservoir", "VisitRecord"]


class Reservoir:
    """A uniform sample of at most ``capacity`` graphs from a stream (reservoir sampling, Vitter's algorithm R).

    Graphs are held as (capacity, d, d) bool on ``device`` (d^2 bytes each: 20,000 graphs of 46 nodes are
    42 MB). Draws use their own generator, so the trainer's random stream is the same with or without it.
    """

    def __init__(self, capacity: int, d: int, device: str | torch.device = "cpu", seed: int = 0) -> None:
        self.capacity = max(0, capacity)
        self.store = torch.zeros(self.capacity, d, d, dtype=torch.bool, device=device)
        self.seen = 0
        self.filled = 0
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.filled

    def add(self, adj: torch.Tensor) -> None:
        """adj (k, d, d) bool: each graph is kept with probability capacity / (graphs seen so far)."""
        for g in adj:
            self.seen += 1
            if self.filled < self.capacity:
                self.store[self.filled] = g
                self.filled += 1
                continue
            j = int(torch.randint(self.seen, (1,), generator=self.generator))
            if j < self.capacity:
                self.store[j] = g

    def graphs(self) -> torch.Tensor:
        """(filled, d, d) bool: the sample so far."""
        return self.store[: self.filled]


class VisitRecord:
    """Distinct graphs visited by chains, with visit counts and log R.

    Keys are the packed adjacency bits (d^2 / 8 bytes a graph), so recording costs O(d^2) bytes per new graph
    and a dictionary lookup per visit. Once ``capacity`` distinct graphs are held, new ones are counted in
    ``dropped`` only.
    """

    def __init__(self, d: int, capacity: int) -> None:
        self.d, self.capacity = d, capacity
        self._rows: dict[bytes, list[float]] = {}  # key -> [visits, log R]
        self.visits = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, adj: torch.Tensor, log_r: torch.Tensor) -> None:
        """adj (k, d, d) bool, log_r (k,): one visit each."""
        bits = np.packbits(adj.detach().cpu().reshape(adj.shape[0], -1).numpy(), axis=1)
        for key, lr in zip((row.tobytes() for row in bits), log_r.detach().cpu().tolist()):
            self.visits += 1
            row = self._rows.get(key)
            if row is not None:
                row[0] += 1
            elif len(self._rows) < self.capacity:
                self._rows[key] = [1.0, float(lr)]
            else:
                self.dropped += 1

    def graphs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, d, d) bool distinct graphs, (N,) int64 visits, (N,) float64 log R (as recorded)."""
        d = self.d
        if not self._rows:
            return torch.zeros(0, d, d, dtype=torch.bool), torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.float64)
        keys = np.frombuffer(b"".join(self._rows), dtype=np.uint8).reshape(len(self._rows), -1)
        adj = np.unpackbits(keys, axis=1, count=d * d).astype(bool).reshape(-1, d, d)
        vals = torch.tensor(list(self._rows.values()), dtype=torch.float64)
        return torch.from_numpy(adj), vals[:, 0].to(torch.int64), vals[:, 1]
