"""The harm model: P(H | do(a), G, D) for many graphs at once.

For each graph G the linear-Gaussian SEM  x_j = c_j + sum_{i in pa(j)} B_ij x_i + e_j,  e_j ~ N(0, s_j^2)
gets, node by node, the conjugate Normal-Inverse-Gamma posterior of (B_.j, s_j^2) given the rows where j
was not intervened on (perfect interventions cut j's mechanism, as in the interventional BGe score).
The prior is the regression conditional that BGe's Normal-Wishart prior implies (Geiger & Heckerman 2002,
§4; Kuipers et al. 2014, eq. 2): with precision scale T = t I and alpha_w degrees of freedom,

    B_.j | s_j^2 ~ N(0, s_j^2 / t I),   s_j^2 ~ InvGamma((alpha_w - d + |pa(j)| + 1) / 2, t / 2),

so the harm model and the reward agree on what the data say. For every graph we draw S parameter sets
and precompute the total-effect matrix T_eff = (I - B)^{-1} (T_eff[i, j] = total causal effect of i on j).
A query then needs no linear solve: under do(X_k = x) every path into k is cut, so the effect of node i on
Y becomes T_eff[i, Y] - T_eff[i, k] T_eff[k, Y] (each path visits k at most once in a DAG), and

    E[Y | do(X_k = x)]   = sum_{i != k} A_i c_i + T_eff[k, Y] x,      A_i = T_eff[i, Y] - T_eff[i, k] T_eff[k, Y]
    Var[Y | do(X_k = x)] = sum_{i != k} A_i^2 s_i^2.

A shift X_k := X_k + delta keeps k's mechanism: the observational mean moves by T_eff[k, Y] delta and the
variance is unchanged. P(H) is a Gaussian probability per parameter draw, averaged over the S draws.
This is why queries over 10,000 cached graphs cost O(N S d), not O(N S d^3).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from theorycov.gfn.errors import CyclicGraphError, DataError
from theorycov.gfn.graphs import check_acyclic
from theorycov.coverage.guard.prepared import HarmModelError, PreparedGraphs
from theorycov.coverage.signs import SignSpec
from theorycov.gfn.scores.bge_prior import BGePrior, node_statistics

logger = logging.getLogger(__name__)

__all__ = ["HarmModel", "HarmModelConfig", "HarmModelError", "NodePosterior", "PreparedGraphs"]


@dataclass(frozen=True)
class HarmModelConfig:
    """Settings of the conjugate harm model."""

    alpha_mu: float = 1.0  # BGe: prior pseudo-count on the mean (DAG-GFlowNet's default)
    alpha_w: float | None = None  # BGe: Wishart degrees of freedom; None means d + 2
    n_draws: int = 16  # S: parameter draws per graph (Monte Carlo over weights and noise variances)
    seed: int = 0  # seed of the parameter draws: the same graphs give the same answers
    # eta: the parameter posterior is p(theta | G) p(D | G, theta)^eta, the conjugate NIG of eta copies of the
    # data. A run fitted at likelihood power eta (gfn.scores.tempered) must use the same eta here: the tempered
    # graph posterior treats the data as worth eta * n rows, and a harm model that believed all n rows would be
    # 1/eta times too sure of each graph's weights (too narrow P(H | do(a), G, D)) while its graph weights say
    # the opposite. FittedRun.guard() passes the run's power.
    power: float = 1.0


@dataclass(frozen=True)
class NodePosterior:
    """NIG posterior of one node's regression on a parent set (parents sorted ascending).

    mean: (k,) posterior mean of the weights; prec: (k, k) posterior precision (per unit noise variance);
    a, b: inverse-gamma shape and scale of s^2; x_mean: (k,) and y_mean: () row means used for centring.
    """

    parents: tuple[int, ...]
    mean: torch.Tensor
    prec: torch.Tensor
    a: float
    b: float
    x_mean: torch.Tensor
    y_mean: float

    @property
    def noise_var_mean(self) -> float:
        return self.b / (self.a - 1.0) if self.a > 1.0 else float("nan")


class HarmModel:
    """Interventional predictive distributions for a batch of graphs (vectorized over graphs).

    Args:
        data: (n, d) float observations on the modelling scale (e.g. log-transformed, standardized).
        intervened: (n, d) bool, True where row r's variable j was set by a perfect intervention.
        config: prior and Monte Carlo settings.
    """

    def __init__(self, data: torch.Tensor, intervened: torch.Tensor | None = None, config: HarmModelConfig = HarmModelConfig()) -> None:
        if data.ndim != 2:
            raise HarmModelError(f"data must be (n, d), got shape {tuple(data.shape)}")
        self.data = data.to(torch.float64)
        n, d = self.data.shape
        if intervened is None:
            intervened = torch.zeros(n, d, dtype=torch.bool)
        if intervened.shape != (n, d):
            raise HarmModelError(f"intervened must be {(n, d)} like data, got {tuple(intervened.shape)}")
        self.intervened = intervened.to(torch.bool)
        self.d = d
        self.config = config
        if not (config.power > 0 and config.power == config.power):
            raise HarmModelError(f"the likelihood power must be > 0, got {config.power}")
        # The prior is BGe's own object, so the harm model and the reward agree on what the data say.
        try:
            self.prior = BGePrior(d, config.alpha_mu, config.alpha_w)
        except DataError as err:
            raise HarmModelError(str(err)) from err
        self.alpha_w, self.t = float(self.prior.alpha_w), self.prior.t  # type: ignore[arg-type]
        # Per node: the rows it is fitted on, their means and the centred Gram matrix; every parent set's
        # posterior is a sub-block of these, so a new parent set costs one k x k solve. A likelihood power
        # eta scales the statistics: the tempered NIG posterior is the one of eta copies of the data.
        stats = node_statistics(self.data.numpy(), self.intervened.numpy())
        self._rows = [torch.from_numpy(r) for r in stats.rows]
        self._n = [config.power * float(k) for k in stats.n_rows]
        self._means = [torch.from_numpy(m) for m in stats.means]
        self._grams = [config.power * torch.from_numpy(g) for g in stats.grams]

    # ------------------------------------------------------------------ per node posteriors
    def node_posterior(self, j: int, parents_mask: int) -> NodePosterior:
        """Posterior of node j's regression on the parents in the bitmask ``parents_mask``."""
        pa = tuple(i for i in range(self.d) if parents_mask >> i & 1)
        if j in pa:
            raise HarmModelError(f"node {j} cannot be its own parent")
        mean, prec, a, b, xm, ym = self._posteriors(j, torch.tensor([pa], dtype=torch.long).reshape(1, len(pa)))
        return NodePosterior(pa, mean[0], prec[0], float(a[0]), float(b[0]), xm[0], float(ym))

    def _posteriors(self, j: int, parents: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """NIG posteriors of node j on U parent sets of one size k, batched.

        parents: (U, k) int64. Returns mean (U, k), precision (U, k, k), a (U,), b (U,), parent means
        (U, k), the node's mean ().
        """
        g, k = self._grams[j], parents.shape[1]
        n_j = self._n[j]
        xx = g[parents[:, :, None], parents[:, None, :]]  # (U, k, k)
        xy = g[parents, j]  # (U, k)
        prec = xx + self.t * torch.eye(k, dtype=torch.float64)
        mean = torch.linalg.solve(prec, xy) if k else xy
        a = torch.full((parents.shape[0],), self.prior.noise_shape(k) + n_j / 2.0, dtype=torch.float64)
        b = self.t / 2.0 + 0.5 * (g[j, j] - (xy * mean).sum(-1))
        return mean, prec, a, b, self._means[j][parents], self._means[j][j]

    # ------------------------------------------------------------------ per graph parameters
    def prepare(self, adj: torch.Tensor, signs: SignSpec | None = None) -> PreparedGraphs:
        """Draw S parameter sets per graph and precompute total effects.

        Args:
            adj: (N, d, d) bool, adj[b, i, j] = edge i -> j.
            signs: signed constraints whose truth in every draw to record (coverage.signs), if any.
        Returns:
            PreparedGraphs with total effects (N, S, d, d), intercepts (N, S, d), noise variances (N, S, d),
            posterior-mean weights (N, d, d), and sign_holds (N, S, K) when ``signs`` is given. The direct
            weights of the draws are not kept (N S d^2 more floats); :meth:`weight_draws` recomputes them.
        """
        b_draw, c_draw, v_draw, b_mean, adj = self._parameters(adj)
        d = self.d
        eye = torch.eye(d, dtype=torch.float64)
        # in chunks of graphs, so that the peak is the three kept (N, S, d, d) tensors and not twice that
        # (at d = 107 a graph's S = 8 draws take 0.7 MB a tensor; 4,000 graphs at once were OOM-killed in 24 GB)
        total, cov = torch.empty_like(b_draw), torch.empty_like(b_draw)
        holds = None
        step = max(1, 64 * 2**20 // (8 * max(b_draw[0].numel(), 1)))
        for i in range(0, b_draw.shape[0], step):
            sl = slice(i, i + step)
            total[sl] = torch.linalg.inv(eye - b_draw[sl])  # (n, S, d, d): sum_n B^n, finite because G is a DAG
            torch.matmul(total[sl].transpose(-1, -2), v_draw[sl][..., :, None] * total[sl], out=cov[sl])  # T^T diag(s^2) T
            if signs is not None:
                h = signs.holds(b_draw[sl], total[sl])
                holds = h if holds is None else torch.cat([holds, h])
        mean_obs = (c_draw[..., None, :] @ total).squeeze(-2)  # (N, S, d): E[x_y] = sum_i T[i, y] c_i, no (N, S, d, d) temporary
        if signs is not None and holds is None:  # no graphs
            holds = signs.holds(b_draw, total)
        return PreparedGraphs(total=total, intercept=c_draw, noise_var=v_draw, weight_mean=b_mean, adj=adj, mean_obs=mean_obs, cov=cov,
                              sign_holds=holds)

    def sign_probability(self, adj: torch.Tensor, signs: SignSpec, chunk: int | None = None) -> torch.Tensor:
        """(N, d, d) DAGs -> (N, H) P(signs of h | G, D): the share of each graph's S draws in which every
        signed constraint of h holds (coverage.signs). Chunked (by default about 128 MB of (chunk, S, d, d)
        float64 a tensor), so that every DAG at d = 5 and thousands of graphs at d = 107 fit in memory."""
        if chunk is None:
            chunk = max(1, min(2048, 128 * 2**20 // (8 * self.config.n_draws * self.d * self.d)))
        out = [signs.consistent(self.prepare(adj[i : i + chunk], signs).sign_holds).to(torch.float64).mean(1)  # type: ignore[arg-type]
               for i in range(0, adj.shape[0], chunk)]
        return torch.cat(out) if out else torch.zeros(0, signs.member.shape[0], dtype=torch.float64)

    def weight_draws(self, adj: torch.Tensor) -> torch.Tensor:
        """(N, d, d) bool -> (N, S, d, d) the direct weights of the same S draws :meth:`prepare` uses."""
        return self._parameters(adj)[0]

    def _parameters(self, adj: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per graph S draws of weights (N, S, d, d), intercepts (N, S, d), noise variances (N, S, d), and the
        posterior-mean weights (N, d, d); plus the checked adjacency.

        Work is batched per (node, parent-set size): every distinct parent set of that size is solved and
        drawn at once, so the cost grows with the number of distinct parent sets, not with Python loops.
        """
        if adj.ndim != 3 or adj.shape[1:] != (self.d, self.d):
            raise HarmModelError(f"graphs must be (N, {self.d}, {self.d}), got {tuple(adj.shape)}")
        try:
            adj = check_acyclic(adj, "graph")
        except CyclicGraphError as err:
            raise HarmModelError(f"the harm model needs DAGs: {err}") from err
        n_graphs, d, s = adj.shape[0], self.d, self.config.n_draws
        keys = _graph_keys(adj)  # (N,) uint64: each graph's draws are its own (see _draws)
        b_draw = torch.zeros(n_graphs, s, d, d, dtype=torch.float64)
        c_draw = torch.zeros(n_graphs, s, d, dtype=torch.float64)
        v_draw = torch.zeros(n_graphs, s, d, dtype=torch.float64)
        b_mean = torch.zeros(n_graphs, d, d, dtype=torch.float64)
        s_idx = torch.arange(s)
        for j in range(d):
            # (U, d) parent indicator of each distinct parent set of node j, (N,) each graph's set: rows of bools,
            # not bit masks, so that any d works (arth150 has 107 variables)
            member, inverse = torch.unique(adj[:, :, j], dim=0, return_inverse=True)
            size = member.sum(1)
            for k in size.unique().tolist():
                sel = (size == k).nonzero().squeeze(1)  # distinct sets of size k
                parents = member[sel].nonzero()[:, 1].reshape(len(sel), k)  # (U_k, k) sorted indices
                pos = torch.full((len(member),), -1, dtype=torch.long)
                pos[sel] = torch.arange(len(sel))
                rows = (pos[inverse] >= 0).nonzero().squeeze(1)  # graphs whose node j has a size-k parent set
                u = pos[inverse[rows]]  # (M,) which distinct set
                w, c, v, mean = self._draws(j, parents, u, keys[rows.numpy()], s)  # (M, S, k), (M, S), (M, S), (U_k, k)
                c_draw[rows, :, j] = c
                v_draw[rows, :, j] = v
                if k:
                    pa = parents[u]  # (M, k)
                    b_draw[rows[:, None, None], s_idx[None, :, None], pa[:, None, :], j] = w
                    b_mean[rows[:, None], pa, j] = mean[u]
        return b_draw, c_draw, v_draw, b_mean, adj

    def _draws(self, j: int, parents: torch.Tensor, which: torch.Tensor, keys, s: int) -> tuple[torch.Tensor, ...]:  # noqa: ANN001
        """S draws of node j's (weights (M, S, k), intercepts (M, S), noise variances (M, S)) for M graphs, plus
        the posterior mean weights (U, k) of the U distinct parent sets.

        parents: (U, k) the distinct parent sets (sorted indices); which: (M,) each graph's set; keys: (M,)
        uint64 each graph's key (:func:`_graph_keys`). The posterior is solved once per distinct set; the
        randomness is a hash of (seed, node, the whole graph, draw, component), not a generator stream: a graph
        gets the same draws whichever batch it comes in, so P(H | do(a), G, D) is a function of G alone, and
        two graphs get independent draws even where they share node j's parents. A theory's upper credible
        risk (coverage.guard.credible) is a quantile over the (graph, draw) pairs of its graphs, so it needs
        them independent: keyed by the parent set alone, every graph that shared the harm variable's ancestry
        repeated the same S draws, and the 0.9- and 0.95-quantiles of a theory's risk were both the largest of
        S = 8 draws (bench/guard_networks.py, ecoli70, tuning seeds 10 and 11).
        """
        from scipy.special import ndtri

        mean, prec, a, b, xm, ym = self._posteriors(j, parents)
        k = parents.shape[1]
        u = _hash_uniform(self.config.seed, j, keys, s, k + 1)  # (M, S, k + 1)
        var = 1.0 / _gamma_icdf(a[which][:, None], b[which][:, None], u[..., 0])  # (M, S) inverse-gamma draws
        if k:
            chol = torch.linalg.cholesky(torch.linalg.inv(prec))[which]  # (M, k, k)
            z = torch.as_tensor(ndtri(u[..., 1:].numpy()))  # (M, S, k) standard normals
            w = mean[which][:, None, :] + (z @ chol.transpose(1, 2)) * var.sqrt()[..., None]
            c = ym - (w * xm[which][:, None, :]).sum(-1)
        else:
            w = torch.zeros(len(which), s, 0, dtype=torch.float64)
            c = torch.full((len(which), s), float(ym), dtype=torch.float64)
        return w, c, var, mean


def _graph_keys(adj: torch.Tensor):  # noqa: ANN202 (numpy uint64)
    """(N, d, d) bool -> (N,) uint64: a splitmix64 hash of each whole graph's packed adjacency."""
    import numpy as np

    packed = np.packbits(adj.reshape(adj.shape[0], -1).numpy(), axis=1)  # (N, ceil(d^2 / 8)) uint8
    packed = np.pad(packed, ((0, 0), (0, (-packed.shape[1]) % 8)))
    words = packed.view(np.uint64)  # (N, W)
    h = np.zeros(adj.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for w in range(words.shape[1]):
            z = h ^ (words[:, w] + np.uint64(w + 1) * np.uint64(0x9E3779B97F4A7C15))
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = z ^ (z >> np.uint64(31))
    return h


def _hash_uniform(seed: int, j: int, keys, s: int, m: int) -> torch.Tensor:  # noqa: ANN001
    """Uniforms in (0, 1) from a splitmix64 hash of (seed, node, key, draw, component): (M, S, m) for M keys."""
    import numpy as np

    with np.errstate(over="ignore"):
        key = (np.asarray(keys, dtype=np.uint64)[:, None, None] * np.uint64(0x9E3779B97F4A7C15)
               + np.uint64((seed * 1_000_003 + j) & 0xFFFFFFFF) * np.uint64(0xBF58476D1CE4E5B9)
               + np.arange(s, dtype=np.uint64)[None, :, None] * np.uint64(0x94D049BB133111EB)
               + np.arange(m, dtype=np.uint64)[None, None, :] * np.uint64(0xD6E8FEB86659FD93))  # fmt: skip
        z = key + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return torch.as_tensor(((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53)


def _gamma_icdf(shape: torch.Tensor, rate: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Gamma(shape, rate) quantiles through scipy (torch has no Gamma.icdf); shapes broadcast."""
    from scipy.special import gammaincinv

    vals = gammaincinv(shape.numpy(), u.numpy()) / rate.numpy()
    return torch.as_tensor(vals, dtype=torch.float64)
