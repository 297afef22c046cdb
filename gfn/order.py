"""Order MCMC (Friedman & Koller 2003) over a table of parent sets, batched over chains.

Why: at n = 1,000 the single-edge MC3 chains of bench/reference.py disagreed on ecoli70 (46 nodes): after
40 CPU-minutes of 30 chains from empty and random graphs, split R-hat of the edge indicators was 4.55
(bench/results/ref_ecoli70.json history). Single-edge moves must cross graphs that lose a parent before they
can reorient a group of edges; in the space of node orders a whole group moves with one transposition, and an
order's score sums over all DAGs consistent with it, so its landscape is far smoother (Friedman & Koller
2003, §3). Started from this search's DAGs (and over a closer temperature ladder) the same 40 minutes gave
R-hat 1.058. Note what the search is not for: the chains' mean log R there stays ~135 nats below the true
graph's, and the starts (within 12 nats of it) fall to that level, since under the uniform DAG prior the
posterior's mass lies in denser graphs (126 expected edges against the network's 70).

The target: P(order) ∝ prod_j sum_{S ⊆ pred(j), S in table(j)} exp(score(j, S)) (the table of
gfn.parentsets: sets of at most ``max_size`` parents inside the candidates, local score plus the prior's
per-edge term). Its DAG marginal is *not* the uniform-prior posterior of the GFlowNet: a DAG consistent
with k orders is counted k times (the order-modular prior, Eaton & Murphy 2007). It is used here to find
where the mass is, not as the reference: bench/reference.py starts its MC3 chains (exact target) from
DAGs drawn from these orders.

Shapes: C chains over d nodes; ``order`` (C, d) int64, order[c, k] = the node at position k;
``pos`` (C, d), pos[c, j] = the position of node j; ``log_score`` (C,) float64.
"""
from __future__ import annotations

import time

import torch

from theorycov.gfn.device import rand, randint
from theorycov.gfn.errors import ConfigError
from theorycov.gfn.parentsets import ParentSetTable, _draw
from theorycov.gfn.reward import Reward

__all__ = ["ORDER_TEMPS", "OrderChains", "order_search"]

#: default inverse temperatures of :func:`order_search`: on ecoli70 (n = 1,000, sets of <= 4 parents inside
#: the k = 8 screen) untempered chains stayed 150 nats below the true order's score; over this ladder their
#: best DAG passed the true graph's log R within 250 steps (bench/RESULTS.md, 2026-12-06)
ORDER_TEMPS = (1.0, 0.6, 0.36, 0.2, 0.12)


class OrderChains:
    """C order-MCMC chains, Metropolis with two symmetric proposals: swap the nodes at two uniformly drawn
    positions, or take the node at one position and insert it at another (half of the steps each;
    insertion moves one node past a block, which transpositions reach only through worse orders).

    temperatures: inverse-temperature ladder (1 first); chains are grouped by replica, ``num_chains // L``
    replicas of L levels (chain r*L + l at level l, as in gfn.mcmc.DAGChains), and :meth:`swap` exchanges
    the orders of neighbouring levels (Metropolis-coupled MCMC, Geyer 1991). Only level-0 chains target
    the order posterior.
    """

    def __init__(self, table: ParentSetTable, num_chains: int, seed: int = 0,
                 temperatures: tuple[float, ...] = (1.0,)) -> None:
        L = len(temperatures)
        if num_chains % L or temperatures[0] != 1.0:
            raise ConfigError(f"num_chains ({num_chains}) must be a multiple of the ladder's {L} levels, whose first is 1.0")
        self.table, self.d, self.C, self.levels = table, table.d, num_chains, L
        dev = table.score.device
        self.beta = torch.tensor(temperatures, dtype=torch.float64, device=dev).repeat(num_chains // L)  # (C,)
        self.generator = torch.Generator(device=dev).manual_seed(seed)
        self.order = torch.stack([torch.randperm(self.d, generator=self.generator, device=dev) for _ in range(num_chains)])
        self.node_scores = self._node_scores(self.order)  # (C, d): each node's log-sum over its feasible sets
        self.proposed = self.accepted = self.swaps_proposed = self.swaps_accepted = 0

    @property
    def cold(self) -> torch.Tensor:
        """(C,) bool: the chains at inverse temperature 1."""
        return self.beta == 1.0

    @staticmethod
    def positions(order: torch.Tensor) -> torch.Tensor:
        """(C, d) position of every node from (C, d) orders."""
        return torch.argsort(order, dim=1)

    def _forbidden(self, order: torch.Tensor) -> torch.Tensor:
        """(C*d, d) bool: for chain c and node j (row c*d + j), the nodes not before j (j included)."""
        pos = self.positions(order)  # (C, d)
        return (pos[:, None, :] >= pos[:, :, None]).reshape(-1, self.d)

    def _node_scores(self, order: torch.Tensor) -> torch.Tensor:
        C = order.shape[0]
        nodes = torch.arange(self.d, device=order.device).repeat(C)
        logits = self.table.feasible_logits(nodes, self._forbidden(order))  # (C*d, P); the empty set keeps a row finite
        return torch.logsumexp(logits, dim=1).reshape(C, self.d)

    @property
    def log_score(self) -> torch.Tensor:
        """(C,) log of each chain's unnormalized order probability."""
        return self.node_scores.sum(1)

    def _propose(self) -> torch.Tensor:
        """(C, d) proposed orders: a transposition of positions (a, b) or an insertion of position a at b."""
        C, d, dev = self.C, self.d, self.order.device
        a = randint(d, (C,), self.generator, dev)
        b = (a + 1 + randint(d - 1, (C,), self.generator, dev)) % d  # b != a, (a, b) uniform: both moves symmetric
        insert = randint(2, (C,), self.generator, dev) == 1
        k = torch.arange(d, device=dev)[None]  # (1, d) target positions
        lo, hi = torch.minimum(a, b)[:, None], torch.maximum(a, b)[:, None]
        fwd = (a < b)[:, None]  # moving a later: positions a..b-1 take their right neighbour, b takes a's node
        src = torch.where((k >= lo) & (k <= hi) & insert[:, None],
                          torch.where(fwd, torch.where(k == hi, a[:, None], k + 1), torch.where(k == lo, a[:, None], k - 1)),
                          k)
        swap = ~insert[:, None]
        src = torch.where(swap & (k == a[:, None]), b[:, None], torch.where(swap & (k == b[:, None]), a[:, None], src))
        return self.order.gather(1, src)

    def step(self) -> torch.Tensor:
        """One Metropolis step per chain; (C,) bool accepted."""
        new = self._propose()
        # every node's score is recomputed in one batched call: simpler than tracking the moved block, and the
        # table is small per node
        ns = self._node_scores(new)
        log_alpha = self.beta * (ns.sum(1) - self.node_scores.sum(1))
        accept = torch.log(rand((self.C,), self.generator, self.order.device, torch.float64)) < log_alpha
        self.order = torch.where(accept[:, None], new, self.order)
        self.node_scores = torch.where(accept[:, None], ns, self.node_scores)
        self.proposed += self.C
        self.accepted += int(accept.sum())
        return accept

    def swap(self, parity: int = 0) -> torch.Tensor:
        """Exchange the orders of levels (l, l + 1), l of the given parity, in every replica; (P,) bool accepted."""
        L, dev = self.levels, self.order.device
        if L < 2:
            return torch.zeros(0, dtype=torch.bool, device=dev)
        lo = torch.arange(parity % 2, L - 1, 2, device=dev)
        a = (torch.arange(0, self.C, L, device=dev)[:, None] + lo[None]).flatten()
        b = a + 1
        s = self.log_score
        log_alpha = (self.beta[a] - self.beta[b]) * (s[b] - s[a])
        ok = torch.log(rand((a.numel(),), self.generator, dev, torch.float64)) < log_alpha
        perm = torch.arange(self.C, device=dev)
        perm[a[ok]], perm[b[ok]] = b[ok], a[ok]
        self.order, self.node_scores = self.order[perm], self.node_scores[perm]
        self.swaps_proposed += int(ok.numel())
        self.swaps_accepted += int(ok.sum())
        return ok

    def sample_dags(self, generator: torch.Generator | None = None, best: bool = False) -> torch.Tensor:
        """(C, d, d) bool: one DAG per chain consistent with its order, each node's parent set drawn from
        its feasible sets ∝ exp(score) (``best``: the highest-scoring feasible set)."""
        g = self.generator if generator is None else generator
        C, d = self.C, self.d
        nodes = torch.arange(d, device=self.order.device).repeat(C)
        logits = self.table.feasible_logits(nodes, self._forbidden(self.order))  # (C*d, P)
        idx = logits.argmax(1) if best else _draw(logits, g)
        parents = self.table.sets[nodes, idx]  # (C*d, d): row c*d + j = parents of j
        return parents.reshape(C, d, d).transpose(1, 2).contiguous()  # adj[c, i, j]: i -> j

    @property
    def acceptance(self) -> float:
        return self.accepted / max(self.proposed, 1)


def order_search(reward: Reward, n: int, cpu_seconds: float, max_size: int, allowed: torch.Tensor | None = None,
                 seed: int = 0, temperatures: tuple[float, ...] = ORDER_TEMPS) -> tuple[torch.Tensor, dict[str, float]]:
    """(n, d, d) bool DAGs, one from each of n tempered order-MCMC replicas run for ``cpu_seconds`` of this
    process's CPU time (table building included), each drawn from its cold chain's final order; and a
    summary (steps, acceptances, table size, CPU seconds). ``allowed``: candidate edges (d, d) of the table."""
    cpu0 = time.process_time()
    oc = OrderChains(ParentSetTable(reward, max_size, allowed), n * len(temperatures), seed=seed, temperatures=temperatures)
    steps = 0
    while time.process_time() - cpu0 < cpu_seconds:
        oc.step()
        oc.swap(steps % 2)
        steps += 1
    dags = oc.sample_dags()[oc.cold]
    return dags, {"order_steps": steps, "order_cpu_seconds": time.process_time() - cpu0, "order_sets_per_node": oc.table.P,
                  "order_acceptance": oc.acceptance, "order_swap_acceptance": oc.swaps_accepted / max(oc.swaps_proposed, 1),
                  "order_temperatures": list(temperatures)}
