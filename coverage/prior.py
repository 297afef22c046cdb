"""The prior with a human floor (DESIGN.md, "Definitions"):

    P(G) = (1 - lam) P0(G) + lam sum_h w_h P0(G | G |= h)
         = P0(G) [(1 - lam) + lam sum_h w_h 1[G |= h] / P0(h)],

so every hypothesis holds prior mass P(h) >= lam w_h =: p_min(h). P0 is gfn's edge-constant prior
(uniform, edge-count beta^|E| or Erdős–Rényi, all of the form P0(G) ∝ beta^|E|), and P0(h), the P0-mass of
the graphs that satisfy h, is

- exact for d <= 5, by enumerating every DAG;
- otherwise a Monte Carlo estimate from *exact* samples of P0: the weighted version of the recursion of
  Kuipers & Moffa (2015, "Uniform random generation of large acyclic digraphs", §2) over the number of
  source nodes, with a Wilson 95% interval per hypothesis. The floor then holds up to the ratio
  P0(h) / P0_hat(h), whose interval :attr:`FloorPrior.floor_error` reports (tested at d = 5 against the
  exact value).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.gfn.graphs import as_adjacency, num_edges
from theorycov.gfn.scores.priors import GraphPrior

__all__ = ["FloorPrior", "HypothesisPriorMass", "log_dag_count", "sample_edge_prior_dags"]


def _logsumexp(xs: Sequence[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs)) if m > -math.inf else -math.inf


@lru_cache(maxsize=None)
def _log_a(n: int, k: int, log1b: float) -> float:
    """log of sum over DAGs on n labelled nodes with exactly k sources of beta^|E|, log1b = log(1 + beta)."""
    if k == n:
        return 0.0
    if k < 1 or k > n:
        return -math.inf
    log_nonempty = math.log(math.expm1(k * log1b))  # log((1 + beta)^k - 1)
    terms = [
        s * log_nonempty + k * (n - k - s) * log1b + _log_a(n - k, s, log1b)
        for s in range(1, n - k + 1)
    ]
    return _log_binom(n, k) + _logsumexp(terms)


def _log_binom(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def log_dag_count(d: int, beta: float = 1.0) -> float:
    """log sum over all DAGs on d labelled nodes of beta^|E| (beta = 1: the number of DAGs)."""
    log1b = math.log1p(beta)
    return _logsumexp([_log_a(d, k, log1b) for k in range(1, d + 1)])


def sample_edge_prior_dags(d: int, beta: float, n: int, seed: int = 0) -> torch.Tensor:
    """Exact draws from P0(G) ∝ beta^|E| over DAGs on d nodes.

    Returns: (n, d, d) bool adjacency matrices.
    The recursion removes the k sources, then the s sources of what remains (each needs a non-empty
    parent set among the k), and so on; labels are a uniform random permutation.
    """
    rng = np.random.default_rng(seed)
    log1b = math.log1p(beta)
    p_edge = beta / (1.0 + beta)
    out = np.zeros((n, d, d), dtype=bool)
    first = np.array([_log_a(d, k, log1b) for k in range(1, d + 1)])
    first = np.exp(first - first.max())
    first /= first.sum()
    for b in range(n):
        layers: list[int] = []
        remaining, k = d, int(rng.choice(np.arange(1, d + 1), p=first))
        while True:
            layers.append(k)
            rest = remaining - k
            if rest == 0:
                break
            log_nonempty = math.log(math.expm1(k * log1b))
            w = np.array([s * log_nonempty + k * (rest - s) * log1b + _log_a(rest, s, log1b) for s in range(1, rest + 1)])
            w = np.exp(w - w.max())
            s = int(rng.choice(np.arange(1, rest + 1), p=w / w.sum()))
            remaining, k = rest, s
        perm = rng.permutation(d)
        start = 0
        bounds = []
        for size in layers:
            bounds.append((start, start + size))
            start += size
        adj = np.zeros((d, d), dtype=bool)
        for li in range(1, len(layers)):
            p0, p1 = bounds[li - 1]  # the previous layer: each node here needs >= 1 parent from it
            c0, c1 = bounds[li]
            for c in range(c0, c1):
                while True:  # a non-empty subset with probability ∝ beta^size, by rejection
                    pick = rng.random(p1 - p0) < p_edge
                    if pick.any():
                        break
                adj[p0:p1, c] = pick
                if p0 > 0:  # any parents among all earlier layers
                    adj[:p0, c] = rng.random(p0) < p_edge
        out[b] = adj[np.ix_(np.argsort(perm), np.argsort(perm))]
    return torch.from_numpy(out)


@dataclass(frozen=True)
class HypothesisPriorMass:
    """P0(h) per hypothesis with a 95% interval; exact when ``exact``."""

    mass: torch.Tensor  # (H,)
    low: torch.Tensor  # (H,)
    high: torch.Tensor  # (H,)
    exact: bool
    n_samples: int = 0

    @classmethod
    def compute(cls, constraints: ConstraintSet, beta: float, *, dags: torch.Tensor | None = None, n_samples: int = 20000, seed: int = 0) -> "HypothesisPriorMass":
        """Exact over ``dags`` (every DAG, d <= 5) when given, else Monte Carlo with exact P0 samples."""
        d = len(constraints.variables)
        if dags is not None:
            logw = num_edges(as_adjacency(dags)).to(torch.float64) * math.log(beta)
            w = torch.softmax(logw, 0)
            m = (w[:, None] * constraints.satisfies(dags).to(torch.float64)).sum(0)
            return cls(m, m, m, True)
        sat = constraints.satisfies(sample_edge_prior_dags(d, beta, n_samples, seed)).to(torch.float64)
        k = sat.sum(0)
        # Wilson score interval at 95%; with no hit the estimate is replaced by the interval's midpoint so
        # that 1 / P0_hat stays finite.
        z, nn = 1.96, float(n_samples)
        phat = k / nn
        centre = (phat + z * z / (2 * nn)) / (1 + z * z / nn)
        half = z * torch.sqrt(phat * (1 - phat) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn)
        mass = torch.where(k > 0, phat, centre)
        return cls(mass, (centre - half).clamp_min(0.0), (centre + half).clamp_max(1.0), False, n_samples)


class FloorPrior(GraphPrior):
    """P(G) = (1 - lam) P0(G) + lam sum_h w_h P0(G | G |= h), as a gfn ``GraphPrior`` (non-decomposable).

    Args:
        constraints: the H hypotheses over the domain's variables.
        weights: (H,) w_h >= 0 summing to 1 (e.g. from evidence counts).
        beta: P0 ∝ beta^|E| (1.0 for the uniform prior).
        lam: the floor's share of prior mass.
        mass: P0(h); computed if omitted (exact when ``dags`` is given).
        policy_features: give the policy the floor's change for every candidate edge (:meth:`delta`);
            default: when d <= FEATURE_MAX_D.
    """

    decomposable = False
    #: d at or below which :meth:`delta` feeds the policy by default. Its cost is O(B H d^3) per batch of
    #: states: on Sachs (d = 11, 30 theories) training ran at 14 it/s with it against 69.5 without, and the
    #: benefit is measured only at d = 5, so larger domains opt in with ``policy_features=True``
    FEATURE_MAX_D = 8

    def __init__(self, constraints: ConstraintSet, weights: torch.Tensor, *, beta: float = 1.0, lam: float = 0.1, mass: HypothesisPriorMass | None = None, dags: torch.Tensor | None = None,
                 policy_features: bool | None = None) -> None:
        if not 0.0 <= lam < 1.0:
            raise ValueError(f"lam must be in [0, 1), got {lam}")
        if weights.shape != (len(constraints),) or bool((weights < 0).any()) or abs(float(weights.sum()) - 1.0) > 1e-6:
            raise ValueError(f"weights must be (H,) = ({len(constraints)},), non-negative, summing to 1")
        self.constraints, self.weights, self.beta, self.lam = constraints, weights.to(torch.float64), beta, lam
        self.mass = mass or HypothesisPriorMass.compute(constraints, beta, dags=dags)
        self.log_z0 = log_dag_count(len(constraints.variables), beta)
        self.feature_delta = len(constraints.variables) <= self.FEATURE_MAX_D if policy_features is None else policy_features

    @property
    def p_min(self) -> torch.Tensor:
        """(H,) lam * w_h: the prior mass every hypothesis is guaranteed."""
        return self.lam * self.weights

    def prior_mass(self, dags: torch.Tensor | None = None) -> torch.Tensor:
        """(H,) P(h): exact over ``dags`` (every DAG, d <= 5); otherwise the lower bound
        lam w_h + (1 - lam) P0(h), so that 'refuted' (p(h|D) < delta P(h)) is never declared too eagerly."""
        if dags is None:
            return self.p_min + (1 - self.lam) * self.mass.mass
        return (self.log_prob(dags).exp()[:, None] * self.constraints.satisfies(dags).to(torch.float64)).sum(0)

    @property
    def floor_error(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(H,) bounds on the realized floor ratio P0(h) / P0_hat(h) (both 1 when exact)."""
        return self.mass.low / self.mass.mass, self.mass.high / self.mass.mass

    def delta(self, adj: torch.Tensor) -> torch.Tensor:
        """log P(G + i->j) - log P(G) for every candidate edge: (B, d, d) -> (B, d, d) float64 (0 on present edges).

        The floor term depends on which hypotheses the graph satisfies, so a "no path between X and Y"
        theory changes the prior of edges far from X and Y; without this input the policy has to learn
        that from the graph alone (measured at d = 5: such a region stayed at 0.87 of its posterior mass).
        """
        adj = as_adjacency(adj)
        coef = self.weights / self.mass.mass.clamp_min(1e-300)  # (H,)
        before = torch.log((1.0 - self.lam) + self.lam * (self.constraints.satisfies(adj).to(torch.float64) @ coef))  # (B,)
        after_sat = self.constraints.satisfies_after_each_edge(adj).to(torch.float64)  # (B, d, d, H)
        after = torch.log((1.0 - self.lam) + self.lam * (after_sat @ coef))  # (B, d, d)
        return (after - before[:, None, None] + math.log(self.beta)) * (~adj).to(torch.float64)

    def log_prob(self, adj: torch.Tensor, *, sat: torch.Tensor | None = None) -> torch.Tensor:
        """(B, d, d) -> (B,) normalized log P(G) (exactly normalized when P0(h) is exact); ``sat`` (B, H) bool:
        ``self.constraints.satisfies(adj)`` where the caller has it already."""
        adj = as_adjacency(adj)
        log_p0 = num_edges(adj).to(torch.float64) * math.log(self.beta) - self.log_z0
        sat = (self.constraints.satisfies(adj) if sat is None else sat).to(torch.float64)  # (B, H)
        bonus = sat @ (self.weights / self.mass.mass.clamp_min(1e-300))  # (B,)
        return log_p0 + torch.log((1.0 - self.lam) + self.lam * bonus)
