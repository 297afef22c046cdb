"""Data tables with per-row intervention targets, and seeded linear-Gaussian Erdős–Rényi data.

A :class:`DataTable` is what every score reads: values (n, d), a per-row intervention mask (n, d)
(``intervened[r, j]`` is True when node j was set by a perfect intervention in row r, so row r is
left out of j's local score; Eaton & Murphy 2007, Deleu et al. 2022 §5.3), and variable names.
The synthetic generator follows DAG-GFlowNet's experiments (Deleu et al. 2022 §5.1): ER graphs with
a given expected number of edges per node, edge weights N(0, 1), Gaussian noise with std 0.1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from theorycov.gfn.errors import DataError, ShapeError, UnknownVariableError

__all__ = ["DataTable", "sample_erdos_renyi_dag", "sample_linear_gaussian", "make_linear_gaussian_er"]


@dataclass(frozen=True)
class DataTable:
    """A data set over d named variables.

    values: (n, d) float64 for continuous data, int64 codes 0..arity-1 for discrete data.
    intervened: (n, d) bool, True where the node was intervened on in that row (None: all observational).
    names: the d variable names, in column order.
    arities: for discrete data, the number of levels of each variable (d,); None for continuous data.
    """

    values: np.ndarray
    names: tuple[str, ...]
    intervened: np.ndarray | None = None
    arities: tuple[int, ...] | None = None
    conditions: np.ndarray | None = field(default=None, compare=False)  # (n,) optional condition label per row

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 2:
            raise ShapeError(f"values must have shape (n, d), got {values.shape}")
        n, d = values.shape
        if len(self.names) != d:
            raise ShapeError(f"{len(self.names)} names for {d} columns")
        if len(set(self.names)) != d:
            raise DataError(f"variable names must be unique, got {self.names}")
        intervened = np.zeros((n, d), dtype=bool) if self.intervened is None else np.asarray(self.intervened, bool)
        if intervened.shape != (n, d):
            raise ShapeError(f"intervened must have shape {(n, d)}, got {intervened.shape}")
        if self.arities is None:
            values = values.astype(np.float64)
            if not np.all(np.isfinite(values)):
                raise DataError("continuous values contain NaN or inf; drop or impute those rows first")
        else:
            if len(self.arities) != d:
                raise ShapeError(f"{len(self.arities)} arities for {d} columns")
            if not np.issubdtype(values.dtype, np.integer):
                raise DataError("discrete values must be integer codes 0..arity-1")
            values = values.astype(np.int64)
            ar = np.asarray(self.arities)
            if np.any(values < 0) or np.any(values >= ar[None, :]):
                raise DataError("a discrete value lies outside 0..arity-1 of its column")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "intervened", intervened)
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.values.shape[0])

    @property
    def d(self) -> int:
        """Number of variables."""
        return int(self.values.shape[1])

    @property
    def discrete(self) -> bool:
        """True for discrete data (BDeu), False for continuous data (BGe)."""
        return self.arities is not None

    def index(self, name: str) -> int:
        """Column index of a variable; UnknownVariableError lists the known names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownVariableError(f"unknown variable {name!r}; known variables: {', '.join(self.names)}") from None

    def rows(self, mask: np.ndarray) -> DataTable:
        """The sub-table of the rows where ``mask`` (n,) is True."""
        mask = np.asarray(mask, bool)
        cond = None if self.conditions is None else self.conditions[mask]
        return DataTable(self.values[mask], self.names, self.intervened[mask], self.arities, cond)

    def observational(self) -> DataTable:
        """The rows with no intervention at all."""
        return self.rows(~self.intervened.any(axis=1))

    def standardized(self) -> DataTable:
        """Columns centred and scaled to unit variance (continuous data only)."""
        if self.discrete:
            raise DataError("standardization applies to continuous data only")
        std = self.values.std(axis=0)
        if np.any(std == 0):
            const = [self.names[j] for j in np.flatnonzero(std == 0)]
            raise DataError(f"constant columns cannot be standardized: {const}")
        vals = (self.values - self.values.mean(axis=0)) / std
        return DataTable(vals, self.names, self.intervened, None, self.conditions)


def sample_erdos_renyi_dag(d: int, edges_per_node: float, rng: np.random.Generator) -> np.ndarray:
    """A random DAG with d * edges_per_node expected edges: (d, d) bool.

    Edges of a lower-triangular ER graph with p = 2 * edges_per_node / (d - 1), then a random
    permutation of the nodes, as in DAG-GFlowNet's ``sample_erdos_renyi_graph``.
    """
    if d < 1:
        raise ShapeError(f"d must be >= 1, got {d}")
    p = min(1.0, 2.0 * edges_per_node / max(d - 1, 1))
    lower = np.tril(rng.random((d, d)) < p, k=-1)  # i > j: edge j -> i in topological order
    perm = rng.permutation(d)
    adj = lower.T[np.ix_(perm, perm)]  # adj[i, j]: i -> j
    return adj.astype(bool)


def sample_linear_gaussian(
    adj: np.ndarray, n: int, rng: np.random.Generator, weight_std: float = 1.0, noise_std: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Ancestral sampling of x_j = sum_i w_ij x_i + eps_j: returns (values (n, d), weights (d, d))."""
    adj = np.asarray(adj, bool)
    d = adj.shape[0]
    weights = np.where(adj, rng.normal(0.0, weight_std, size=(d, d)), 0.0)
    order = _topological_order(adj)
    x = np.zeros((n, d))
    for j in order:  # d steps, each vectorized over the n rows
        x[:, j] = x @ weights[:, j] + rng.normal(0.0, noise_std, size=n)
    return x, weights


def make_linear_gaussian_er(
    d: int, edges_per_node: float, n: int, seed: int, noise_std: float = 0.1
) -> tuple[DataTable, torch.Tensor]:
    """Seeded ER graph + linear-Gaussian data: (DataTable with names X0..X{d-1}, true adj (d, d) bool)."""
    rng = np.random.default_rng(seed)
    adj = sample_erdos_renyi_dag(d, edges_per_node, rng)
    values, _ = sample_linear_gaussian(adj, n, rng, noise_std=noise_std)
    names = tuple(f"X{j}" for j in range(d))
    return DataTable(values, names), torch.from_numpy(adj)


def _topological_order(adj: np.ndarray) -> list[int]:
    indeg = adj.sum(axis=0).astype(int)
    order: list[int] = []
    ready = [j for j in range(adj.shape[0]) if indeg[j] == 0]
    while ready:
        i = ready.pop()
        order.append(i)
        for j in np.flatnonzero(adj[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
    if len(order) != adj.shape[0]:
        from theorycov.gfn.errors import CyclicGraphError

        raise CyclicGraphError("the graph has a cycle; linear-Gaussian sampling needs a DAG")
    return order
