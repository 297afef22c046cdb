"""BGe score (Geiger & Heckerman 1994/2002) with perfect interventions.

Parameterization of DAG-GFlowNet (Deleu et al. 2022 §5.1; jax-dag-gflownet ``scores/bge_score.py``):
Normal-Wishart prior with mean 0, alpha_mu = 1, alpha_w = d + 2, prior precision T = t * I with
t = alpha_mu (alpha_w - d - 1) / (alpha_mu + 1). For node j with parent set S (k = |S|):

    local(j, S) = gamma_j[k] + 1/2 (N_j + a_w - d + k) logdet R_SS - 1/2 (N_j + a_w - d + k + 1) logdet R_{S+j}

where R is the posterior scatter matrix of the rows in which j was *not* intervened on (N_j of them;
Cooper & Yoo 1999, Eaton & Murphy 2007). With the Schur complement c = R_jj - R_jS R_SS^-1 R_Sj
this is gamma_j[k] - 1/2 logdet R_SS - 1/2 (N_j + a_w - d + k + 1) log c, which lets us score all d
candidate parents of j from one Cholesky factor (see :meth:`BGeScore.delta`).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import gammaln

from theorycov.gfn.data import DataTable
from theorycov.gfn.errors import DataError, ShapeError
from theorycov.gfn.scores.base import LocalScore
from theorycov.gfn.scores.bge_prior import BGePrior, node_statistics

__all__ = ["BGeScore"]

#: working memory of one local_scores chunk (its (rows, kmax, kmax) and (rows, kmax, d) tensors)
_CHUNK_BYTES = 64 * 2**20


class BGeScore(LocalScore):
    """BGe local scores over a continuous :class:`DataTable`, interventional rows left out per node.

    data: the table (continuous); alpha_mu, alpha_w: Normal-Wishart hyper-parameters (alpha_w
    defaults to d + 2 and must exceed d - 1); mean_obs: prior mean (d,), default 0.
    """

    def __init__(
        self,
        data: DataTable,
        alpha_mu: float = 1.0,
        alpha_w: float | None = None,
        mean_obs: np.ndarray | None = None,
    ) -> None:
        if data.discrete:
            raise DataError("BGe needs continuous data; use BDeuScore for discrete tables")
        d = data.d
        super().__init__(d, data.names)
        prior = BGePrior(d, alpha_mu, alpha_w)  # the one home of the hyper-parameters (the harm model shares it)
        mean_obs = np.zeros(d) if mean_obs is None else np.asarray(mean_obs, float)
        if mean_obs.shape != (d,):
            raise ShapeError(f"mean_obs must have shape ({d},), got {mean_obs.shape}")
        self.prior = prior
        self.alpha_mu, self.alpha_w, self.t = prior.alpha_mu, float(prior.alpha_w), prior.t  # type: ignore[arg-type]
        alpha_mu, alpha_w = self.alpha_mu, self.alpha_w
        stats = node_statistics(data.values, data.intervened)
        n_rows = stats.n_rows
        if np.any(n_rows == 0):
            raise DataError("some node is intervened on in every row; its BGe score is undefined")
        # R[j]: posterior scatter of the rows usable for node j = T + centred Gram + the prior-mean term
        diff = stats.means - mean_obs[None, :]  # (d, d)
        shrink = n_rows * alpha_mu / (n_rows + alpha_mu)  # (d,)
        R = self.t * np.eye(d)[None] + stats.grams + shrink[:, None, None] * diff[:, :, None] * diff[:, None, :]
        k = np.arange(d + 1)
        gamma = (
            0.5 * (math.log(alpha_mu) - np.log(n_rows[:, None] + alpha_mu))
            + gammaln(0.5 * (n_rows[:, None] + alpha_w - d + k[None, :] + 1))
            - gammaln(0.5 * (alpha_w - d + k[None, :] + 1))
            - 0.5 * n_rows[:, None] * math.log(math.pi)
            + 0.5 * (alpha_w - d + 2 * k[None, :] + 1) * math.log(self.t)
        )  # (d, d + 1): gamma[j, k]
        self._tensors = ("R", "n_rows", "gamma")  # what .to(device) moves
        self.R = torch.from_numpy(R)  # (d, d, d) float64
        self.n_rows = torch.from_numpy(n_rows)  # (d,)
        self.gamma = torch.from_numpy(gamma)  # (d, d + 1)

    def local_scores(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """(M,) nodes, (M, d) bool parent sets -> (M,) float64 local scores (batched Cholesky factors).

        Each row works on its parent block only, padded with the identity to kmax (the largest parent set of
        the batch: same determinant), as :meth:`_delta_nodes` does, in chunks of at most ``_CHUNK_BYTES`` of
        (rows, kmax, kmax) float64. Embedding R_SS in the full (d, d) matrix cost O(M d^2) memory and O(M d^3)
        time: 256 graphs at d = 107 (27,392 rows) took over 12 GB in one call (an audit of arth150).
        """
        M, d = parents.shape[0], self.d
        if parents.shape != (M, d) or nodes.shape != (M,):
            raise ShapeError(f"nodes (M,) and parents (M, {d}) expected, got {tuple(nodes.shape)}, {tuple(parents.shape)}")
        if M == 0:
            return torch.zeros(0, dtype=torch.float64, device=parents.device)
        k = parents.sum(1)  # (M,)
        kmax = max(int(k.max()), 1)
        step = max(1, _CHUNK_BYTES // (8 * kmax * max(kmax, d)))
        return torch.cat([self._local_block(nodes[i : i + step], parents[i : i + step], k[i : i + step], kmax)
                          for i in range(0, M, step)])

    def _parent_block(self, nodes: torch.Tensor, parents: torch.Tensor, k: torch.Tensor, kmax: int) -> tuple[torch.Tensor, ...]:
        """The parent block of each row, padded to kmax with the identity (same determinant), factorized.

        Returns idx (m, kmax) the parents first, valid (m, kmax) the real slots, L (m, kmax, kmax) the Cholesky
        factor of R_SS and logdet_s (m,). Shared by :meth:`_local_block` and :meth:`_delta_nodes`.
        """
        dev = parents.device
        idx = torch.argsort((~parents).to(torch.int8), dim=1, stable=True)[:, :kmax]  # (m, kmax): parents first
        valid = torch.arange(kmax, device=dev)[None, :] < k[:, None]  # (m, kmax)
        at = nodes[:, None]
        R_SS = self.R[at[:, :, None], idx[:, :, None], idx[:, None, :]]  # (m, kmax, kmax)
        P = torch.where(valid[:, :, None] & valid[:, None, :], R_SS, torch.eye(kmax, dtype=torch.float64, device=dev))
        L = torch.linalg.cholesky(P)
        return idx, valid, L, 2.0 * torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)

    def _local_block(self, nodes: torch.Tensor, parents: torch.Tensor, k: torch.Tensor, kmax: int) -> torch.Tensor:
        """local_scores of (m,) rows whose parent sets have at most kmax members."""
        idx, valid, L, logdet_s = self._parent_block(nodes, parents, k, kmax)
        at = nodes[:, None]
        b = self.R[at, idx, at] * valid  # (m, kmax): R_Sj
        x = torch.cholesky_solve(b.unsqueeze(-1), L).squeeze(-1)  # (m, kmax)
        c = self.R[nodes, nodes, nodes] - (b * x).sum(1)  # (m,) Schur complement
        a = self.n_rows[nodes] + self.alpha_w - self.d + k + 1
        return self.gamma[nodes, k] - 0.5 * logdet_s - 0.5 * a * torch.log(c)

    def _delta_nodes(self, nodes: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """(M,) nodes with (M, d) parent sets -> (M, d) delta of adding each candidate parent (0 where invalid).

        One Cholesky per row instead of d + 1: with C = R - R_{:,S} R_SS^-1 R_{S,:} (the scatter left
        after regressing on S = Pa(j)), adding parent i gives logdet R_{S+i} = logdet R_SS + log C_ii
        and c' = C_jj - C_ij^2 / C_ii, so all d candidates of node j come from one factorization.
        """
        M, d = parents.shape
        dev = parents.device
        rows = torch.arange(M, device=dev)
        R, at = self.R, nodes[:, None]  # R (d, d, d): node j's matrix is R[j]; no (M, d, d) copy is made
        # Work on the parent block only: S padded to kmax = the largest parent set, identity in the padding.
        # The full (d, d) factorization cost O(d^3) a row, 190x too slow at d = 107 (bench/gfn_scale.py arth150).
        k = parents.sum(1)  # (M,)
        kmax = max(int(k.max()) if M else 0, 1)
        idx, valid, L, logdet_s = self._parent_block(nodes, parents, k, kmax)
        R_S = R[at, idx, :] * valid[:, :, None]  # (M, kmax, d): rows S of R[j]
        X = torch.cholesky_solve(R_S, L)  # (M, kmax, d) = R_SS^-1 R_{S,:}
        # C = R - R_{:,S} R_SS^-1 R_{S,:}: only its diagonal and row j are needed
        c_ii = torch.diagonal(R, dim1=1, dim2=2)[nodes] - (R_S * X).sum(1)  # (M, d)
        c_ij = R[nodes, nodes, :] - (R_S[rows, :, nodes][:, :, None] * X).sum(1)  # (M, d)
        c_jj = c_ij[rows, nodes]  # (M,)
        invalid = parents.clone()
        invalid[rows, nodes] = True
        one = torch.ones((), dtype=torch.float64, device=parents.device)
        safe_ii = torch.where(invalid, one, c_ii)
        n = self.n_rows[nodes]
        before = self.gamma[nodes, k] - 0.5 * logdet_s - 0.5 * (n + self.alpha_w - d + k + 1) * torch.log(c_jj)
        c_new = c_jj[:, None] - c_ij**2 / safe_ii  # (M, d)
        safe_new = torch.where(invalid, one, c_new)
        k1 = (k + 1).clamp(max=d)
        after = (
            self.gamma[nodes, k1][:, None]
            - 0.5 * (logdet_s[:, None] + torch.log(safe_ii))
            - 0.5 * (n + self.alpha_w - d + k + 2)[:, None] * torch.log(safe_new)
        )
        return torch.where(invalid, torch.zeros_like(one), after - before[:, None])
