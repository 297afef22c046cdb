"""Signed theories: a hypothesis as an event on (graph, parameters) (DESIGN.md "Hypothesis h").

A required constraint with a sign says what the author predicts: "Raf activates Mek" (directly) is the
event B_Raf,Mek > 0 on the direct weight of the linear-Gaussian SEM, "PKA inhibits Erk (directly or
indirectly)" the event T_PKA,Erk < 0 on the total causal effect T = (I - B)^{-1}. So for a graph G that
satisfies h's structure,

    P(h | G, D) = P(signs of h hold | G, D),   p(h | D) = sum_G P(G | D) 1[G |= structure of h] P(signs | G, D),

and the theory's own prediction averages over the (graph, parameter) pairs consistent with h. Both come
from the conjugate parameter posterior's draws (the harm model's S draws per graph, the same draws its
predictions use, so "consistent with h" and "what h predicts" refer to one set of parameters). Unsigned and
forbidden constraints constrain the structure only.

What is covered and what is weighed: the coverage objective and the audit's coverage verdict work on the
structural part (a sampler over graphs can only be asked to reach graphs); the refutation rule, the human
bound and the guard's theory risk weigh the whole event, signs included. Ville's inequality applies to the
event as a whole, so its prior mass P(h) includes the prior probability of the signs: under BGe's
zero-mean Normal-Wishart prior every sign is a fair coin on its own, but several signs of one theory are not
independent in general (two total effects from one cause share its out-edges), so the prior sign support is
estimated by drawing parameters from the prior (:func:`prior_sign_support`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from theorycov.db.schemas import Hypothesis

if TYPE_CHECKING:
    from theorycov.coverage.prior import FloorPrior

__all__ = ["SignSpec", "prior_sign_support", "signed_prior_mass"]

#: working memory of one chunk of prior_sign_support (its (graphs, draws, d, d) float64 tensors)
_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class SignSpec:
    """The K distinct signed constraints of H hypotheses over d variables.

    pairs (K, 2) long (cause, effect indices), sign (K,) +1/-1, path (K,) bool (total effect instead of the
    direct weight), member (H, K) bool (constraint k belongs to hypothesis h).
    """

    pairs: torch.Tensor
    sign: torch.Tensor
    path: torch.Tensor
    member: torch.Tensor

    @classmethod
    def of(cls, hypotheses: Sequence[Hypothesis], variables: Sequence[str]) -> "SignSpec":
        index = {v: i for i, v in enumerate(variables)}
        keys: dict[tuple[int, int, int, bool], int] = {}
        rows: list[list[int]] = []
        for h in hypotheses:
            ks = []
            for c in h.constraints:
                if c.forbidden or c.sign == 0:
                    continue
                key = (index[c.cause], index[c.effect], int(c.sign), bool(c.path))
                ks.append(keys.setdefault(key, len(keys)))
            rows.append(ks)
        k = len(keys)
        member = torch.zeros(len(hypotheses), k, dtype=torch.bool)
        for h, ks in enumerate(rows):
            member[h, ks] = True
        items = sorted(keys.items(), key=lambda kv: kv[1])
        pairs = torch.tensor([[i, j] for (i, j, _, _), _ in items], dtype=torch.long).reshape(k, 2)
        sign = torch.tensor([s for (_, _, s, _), _ in items], dtype=torch.float64)
        path = torch.tensor([p for (_, _, _, p), _ in items], dtype=torch.bool)
        return cls(pairs, sign, path, member)

    @property
    def signed(self) -> torch.Tensor:
        """(H,) bool: the hypothesis states at least one sign."""
        return self.member.any(1)

    def holds(self, direct: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """(..., d, d) direct weights and total effects of parameter draws -> (..., K) bool: the sign holds
        (a zero weight, as on an absent edge, holds no sign)."""
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        value = torch.where(self.path, total[..., i, j], direct[..., i, j])  # (..., K)
        return value * self.sign > 0

    def consistent(self, holds: torch.Tensor) -> torch.Tensor:
        """(..., K) bool -> (..., H) bool: every signed constraint of h holds (True for an unsigned h)."""
        failed = (~holds).to(torch.float32) @ self.member.T.to(torch.float32)  # (..., H) constraints that fail
        return failed == 0


def prior_sign_support(spec: SignSpec, graphs: torch.Tensor, *, t: float, noise_shape: Sequence[float], n_draws: int = 256,
                       seed: int = 0) -> torch.Tensor:
    """pi(signs of h | G): the probability of each hypothesis' signs under BGe's parameter prior, per graph.

    The prior (the harm model's NIG form of BGe's Normal-Wishart, Geiger & Heckerman 2002 §4) is
    B_.j | s_j^2 ~ N(0, s_j^2 / t I), s_j^2 ~ InvGamma(noise_shape[k_j], t / 2) with k_j = |pa(j)|.

    Args:
        graphs: (N, d, d) bool DAGs; noise_shape: (d + 1,) the prior shape for each parent count.
    Returns:
        (N, H) float64 Monte Carlo estimates from ``n_draws`` prior draws per graph (1 for unsigned h).
    """
    n, d = graphs.shape[0], graphs.shape[-1]
    out = torch.ones(n, spec.member.shape[0], dtype=torch.float64)
    if spec.pairs.shape[0] == 0 or n == 0:
        return out
    rng = np.random.default_rng(seed)
    k = graphs.sum(1)  # (N, d) parents per node
    shape = np.asarray(list(noise_shape), dtype=np.float64)[k.numpy()]  # (N, d)
    # bounded memory: (m, S, d, d) float64 per chunk, about _CHUNK_BYTES (256 graphs at once took 20 GB at d = 107)
    step = max(1, _CHUNK_BYTES // (8 * n_draws * d * d))
    paths = bool(spec.path.any())
    for start in range(0, n, step):
        sl = slice(start, start + step)
        m = graphs[sl].shape[0]
        prec = rng.gamma(shape[sl][:, None, :], 2.0 / t, size=(m, n_draws, d))  # 1 / s^2 ~ Gamma(shape, rate t / 2)
        var = torch.as_tensor(1.0 / prec)  # (m, S, d) noise variances
        z = torch.as_tensor(rng.standard_normal((m, n_draws, d, d)))
        direct = z * (var[:, :, None, :] / t).sqrt() * graphs[sl, None].to(torch.float64)  # column j scaled by s_j
        total = torch.linalg.inv(torch.eye(d, dtype=torch.float64) - direct) if paths else direct  # total effects only for path signs
        out[sl] = spec.consistent(spec.holds(direct, total)).to(torch.float64).mean(1)
    return out


def signed_prior_mass(prior: "FloorPrior", spec: SignSpec, *, t: float, noise_shape: Sequence[float], dags: torch.Tensor | None = None,
                      fallback: torch.Tensor | None = None, n_prior: int = 2_000, n_draws: int = 256, seed: int = 0) -> torch.Tensor:
    """(H,) P(h) of the whole event, signs included: what Ville's rule compares p(h | D) with.

    - d <= 5 (``dags``: every DAG): sum over G of P(G) 1[G |= h] pi(signs | G), exact up to the Monte Carlo of pi;
    - otherwise the structural lower bound lam w_h + (1 - lam) P0(h) of ``prior.prior_mass`` times the prior
      sign support rho_h = E[pi(signs | G) | G |= h] under P0, from ``n_prior`` exact P0 draws (of those that
      satisfy h, the first max(8, min(256, 65536 / d^2)) are used, ``n_draws`` parameter draws each); a theory that
      fewer than 20 of them satisfy takes rho_h over the graphs in ``fallback`` that satisfy it (e.g. the
      sampled ones), and 2^-k (k signs, as if independent) when none does.
    Unsigned theories keep their structural mass.
    """
    from theorycov.coverage.prior import sample_edge_prior_dags

    cs = prior.constraints
    signed = spec.signed
    if dags is not None:
        sat = cs.satisfies(dags)  # (N, H)
        p_g = prior.log_prob(dags).exp()  # (N,)
        mass = (p_g[:, None] * sat.to(torch.float64)).sum(0)
        rows = (sat & signed[None]).any(1).nonzero().flatten()
        if rows.numel():
            pi = prior_sign_support(spec, dags[rows], t=t, noise_shape=noise_shape, n_draws=n_draws, seed=seed)
            signed_mass = (p_g[rows, None] * sat[rows].to(torch.float64) * pi).sum(0)
            mass = torch.where(signed, signed_mass, mass)
        return mass
    mass = prior.prior_mass(None)
    if not bool(signed.any()):
        return mass
    d = len(cs.variables)
    graphs = sample_edge_prior_dags(d, prior.beta, n_prior, seed)
    rho = torch.ones_like(mass)
    for h in signed.nonzero().flatten().tolist():
        pool = graphs[cs.satisfies(graphs)[:, h]]
        if pool.shape[0] < 20 and fallback is not None:
            pool = fallback[cs.satisfies(fallback)[:, h]]
        if pool.shape[0] == 0:
            rho[h] = 0.5 ** int(spec.member[h].sum())
            continue
        # rho_h is one scalar: 256 graphs x n_draws inversions of (d, d) is cheap at d = 20 but took about 20 s a
        # theory at d = 107, so the graphs used shrink with d^2 (at least 8: 2,048 draws; 256 up to d = 16)
        keep = max(8, min(256, 65_536 // (d * d)))
        rho[h] = prior_sign_support(spec, pool[:keep], t=t, noise_shape=noise_shape, n_draws=n_draws, seed=seed + h)[:, h].mean()
    return mass * rho
