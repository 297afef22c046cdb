"""Expert linear-Gaussian Bayesian networks as a known ground truth: loading, sampling, exact do().

A linear-Gaussian network is the SEM  x_j = c_j + sum_{i in pa(j)} W_ij x_i + e_j,  e_j ~ N(0, v_j),
over a DAG. The networks in ``shared/data/networks`` (ecoli70: 46 nodes, 70 arcs; arth150: 107 nodes,
150 arcs; from the pgmpy wheel, fitted by Scutari & co. to published expression data) are stored in
pgmpy's JSON layout:

    {"nodes": [...], "arcs": [[parent, child], ...],
     "cpds": {child: {"coefficients": {"(Intercept)": [c], parent: [w], ...},
                      "variance": [v], "parents": [...]}}}

Because the SEM is linear with Gaussian noise, every intervention do(X_K = x_K) gives a Gaussian again:
cut the mechanisms of K (zero the columns K of W, set c_K = x_K and v_K = 0); with T = (I - W')^{-1}
(T[i, j] the total causal effect of i on j, rows = causes),

    E[x | do]   = c' T,        Cov[x | do] = T^T diag(v') T,

so P(Y in [lo, hi] | do(X_k = x)) is a difference of two normal CDFs: the ground truth the guard
benches (issue 19; DESIGN.md "Measures", guard (1)) compare every estimator with.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr, ndtri

from theorycov.gfn.data import _topological_order
from theorycov.gfn.errors import DataError, ShapeError, UnknownVariableError
from theorycov.gfn.graphs import transitive_closure

__all__ = ["LinearGaussianNetwork", "Gaussian"]

Variable = int | str


@dataclass(frozen=True)
class Gaussian:
    """A joint Gaussian over the d variables: mean (d,), cov (d, d). Degenerate where a node is set."""

    mean: np.ndarray
    cov: np.ndarray

    @property
    def std(self) -> np.ndarray:
        """(d,) marginal standard deviations (0 for an intervened node)."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def quantile(self, q: float | np.ndarray) -> np.ndarray:
        """Marginal q-quantiles: (d,) for a scalar q, (len(q), d) for an array of levels."""
        z = ndtri(np.asarray(q, dtype=np.float64))
        return self.mean + np.multiply.outer(z, self.std)

    def prob_between(self, j: int, low: float, high: float) -> float:
        """P(low < x_j < high); for a set node (variance 0) the indicator of its value."""
        sd = float(self.std[j])
        m = float(self.mean[j])
        if sd == 0.0:
            return float(low < m < high)
        return float(ndtr((high - m) / sd) - ndtr((low - m) / sd))


@dataclass(frozen=True)
class LinearGaussianNetwork:
    """A linear-Gaussian SEM over named variables.

    names: the d variable names (column order of samples and matrices);
    adjacency: (d, d) bool, adjacency[i, j] is the arc i -> j;
    weights: (d, d) float, weights[i, j] the coefficient of x_i in x_j's equation (0 off the arcs);
    intercepts: (d,); noise_var: (d,) residual variances (> 0).
    """

    names: tuple[str, ...]
    adjacency: np.ndarray
    weights: np.ndarray
    intercepts: np.ndarray
    noise_var: np.ndarray

    def __post_init__(self) -> None:
        d = len(self.names)
        adj = np.asarray(self.adjacency, dtype=bool)
        w = np.asarray(self.weights, dtype=np.float64)
        c = np.asarray(self.intercepts, dtype=np.float64)
        v = np.asarray(self.noise_var, dtype=np.float64)
        if adj.shape != (d, d) or w.shape != (d, d) or c.shape != (d,) or v.shape != (d,):
            raise ShapeError(f"a network over {d} names needs adjacency and weights (d, d), intercepts and noise_var (d,); "
                             f"got {adj.shape}, {w.shape}, {c.shape}, {v.shape}")
        if len(set(self.names)) != d:
            raise DataError("variable names must be unique")
        if np.any(w[~adj] != 0.0):
            raise DataError("a nonzero weight lies off the arcs of the adjacency")
        if np.any(v <= 0.0) or not np.all(np.isfinite(v)):
            raise DataError("noise variances must be positive and finite")
        order = _topological_order(adj)  # raises CyclicGraphError (gfn.data's Kahn order)
        for name, arr in (("adjacency", adj), ("weights", w), ("intercepts", c), ("noise_var", v)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "_order", tuple(order))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_json(cls, path: str | Path) -> "LinearGaussianNetwork":
        """Load a pgmpy-style JSON network (module docstring); the arcs must match the CPDs' parents."""
        raw = json.loads(Path(path).read_text())
        try:
            names = tuple(raw["nodes"])
            arcs = [tuple(a) for a in raw["arcs"]]
            cpds = raw["cpds"]
        except KeyError as err:
            raise DataError(f"{path}: not a linear-Gaussian network file (missing {err})") from None
        index = {n: i for i, n in enumerate(names)}
        d = len(names)
        adj = np.zeros((d, d), dtype=bool)
        for parent, child in arcs:
            if parent not in index or child not in index:
                raise UnknownVariableError(f"{path}: arc {parent} -> {child} names an unknown node")
            adj[index[parent], index[child]] = True
        w = np.zeros((d, d))
        c = np.zeros(d)
        v = np.zeros(d)
        for child, cpd in cpds.items():
            j = index[child]
            coefs = dict(cpd["coefficients"])
            c[j] = float(coefs.pop("(Intercept)")[0])
            v[j] = float(cpd["variance"][0])
            if set(coefs) != set(cpd.get("parents", coefs)):
                raise DataError(f"{path}: {child}'s coefficients do not match its parents")
            for parent, coef in coefs.items():
                i = index[parent]
                if not adj[i, j]:
                    raise DataError(f"{path}: {child} has a coefficient for {parent} but no arc {parent} -> {child}")
                w[i, j] = float(coef[0])
        missing = set(names) - set(cpds)
        if missing:
            raise DataError(f"{path}: no CPD for {sorted(missing)}")
        return cls(names, adj, w, c, v)

    # ------------------------------------------------------------------ structure
    @property
    def d(self) -> int:
        return len(self.names)

    @property
    def order(self) -> tuple[int, ...]:
        """A topological order (parents first)."""
        return self._order  # type: ignore[attr-defined]

    @property
    def n_edges(self) -> int:
        return int(self.adjacency.sum())

    def index(self, var: Variable) -> int:
        """Column of a variable given by name or index."""
        if isinstance(var, (int, np.integer)):
            if not 0 <= int(var) < self.d:
                raise UnknownVariableError(f"variable index {var} outside 0..{self.d - 1}")
            return int(var)
        try:
            return self.names.index(var)
        except ValueError:
            raise UnknownVariableError(f"unknown variable {var!r}; known: {', '.join(self.names)}") from None

    def total_effects(self, cut: Sequence[int] = ()) -> np.ndarray:
        """(d, d) T = (I - W)^{-1}: T[i, j] the total causal effect of x_i on x_j (T[i, i] = 1).

        ``cut``: nodes whose incoming arcs are removed first (the mutilated graph of do(X_cut)).
        """
        w = self.weights.copy()
        w[:, list(cut)] = 0.0
        return np.linalg.inv(np.eye(self.d) - w)

    def reachability(self) -> np.ndarray:
        """(d, d) bool, [i, j] True when a directed path i ~> j exists (reflexive)."""
        return transitive_closure(torch.from_numpy(self.adjacency.copy()))[0].numpy()

    def descendants(self, var: Variable) -> np.ndarray:
        """(d,) bool: the strict descendants of ``var``."""
        k = self.index(var)
        out = self.reachability()[k].copy()
        out[k] = False
        return out

    def ancestors(self, var: Variable) -> np.ndarray:
        """(d,) bool: the strict ancestors of ``var``."""
        k = self.index(var)
        out = self.reachability()[:, k].copy()
        out[k] = False
        return out

    def induced(self, keep: Sequence[Variable]) -> "LinearGaussianNetwork":
        """The network on a subset of nodes with the arcs among them and the same coefficients.

        Arcs from dropped nodes are removed and their contribution is not marginalized: the result is a new
        SEM (a smaller ground truth of the same kind), not the marginal of this one.
        """
        idx = [self.index(v) for v in keep]
        sub = np.ix_(idx, idx)
        return LinearGaussianNetwork(tuple(self.names[i] for i in idx), self.adjacency[sub], self.weights[sub],
                                     self.intercepts[idx], self.noise_var[idx])

    # ------------------------------------------------------------------ distributions
    def sample(self, n: int, seed: int) -> np.ndarray:
        """n observational rows by ancestral sampling: (n, d) float64, columns in ``names`` order."""
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((n, self.d)) * np.sqrt(self.noise_var)  # (n, d)
        x = np.zeros((n, self.d))
        for j in self.order:  # d vectorized steps
            x[:, j] = self.intercepts[j] + x @ self.weights[:, j] + noise[:, j]
        return x

    def observational(self) -> Gaussian:
        """The joint distribution of the data: mean c T, covariance T^T diag(v) T."""
        return self.interventional({})

    def interventional(self, do: Mapping[Variable, float]) -> Gaussian:
        """The exact joint distribution under the perfect intervention do(X_k = x_k for k in ``do``)."""
        ks = [self.index(k) for k in do]
        c = self.intercepts.copy()
        v = self.noise_var.copy()
        for k, x in zip(ks, do.values()):
            c[k], v[k] = float(x), 0.0
        t = self.total_effects(cut=ks)  # (d, d)
        mean = c @ t  # (d,)
        cov = t.T @ (v[:, None] * t)  # (d, d)
        return Gaussian(mean, 0.5 * (cov + cov.T))

    def quantiles(self, q: float | np.ndarray) -> np.ndarray:
        """Observational marginal quantiles: (d,) for a scalar level, (len(q), d) for several."""
        return self.observational().quantile(q)

    def do_moments(self, target: Variable, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Marginal means (m, d) and variances (d,) under do(X_target = v) for m values v at once.

        The mean is affine in v (E = E[do(0)] + v T'[k, :]) and the variances do not depend on v.
        """
        k = self.index(target)
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))  # (m,)
        base = self.interventional({k: 0.0})
        t = self.total_effects(cut=[k])
        return base.mean[None, :] + values[:, None] * t[k][None, :], np.diag(base.cov).copy()

    def prob_between(self, target: Variable, value: float, outcome: Variable, low: float, high: float) -> float:
        """Exact P(low < Y < high | do(X_target = value)) with Y = ``outcome``."""
        return self.interventional({target: value}).prob_between(self.index(outcome), low, high)

