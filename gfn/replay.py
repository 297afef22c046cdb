"""Replay buffer of edge transitions G -> G + (i -> j) (Deleu et al. 2022 §3.4, "off-policy").

The modified detailed balance is local, so any transition with its exact log-reward change is valid
training data, whoever produced it: the sampler, an epsilon-uniform explorer, or an outside hook
(the coverage objective injects trajectories that build completions of human hypotheses).
Storage is a ring of preallocated tensors; sampling is uniform with a caller-owned torch.Generator,
so a resumed run draws the same batches. Each state is kept with its transitive closure (what the
action masks of G and G' need), both packed 8 edges to a byte: at d = 107 that is 3.0 kB a transition
instead of 11.4 kB for the bool graph alone, and the loss no longer recomputes 128 closures an
iteration (ceil(log2 d) batched matmuls each, half the trainer's time at d = 107 before).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from theorycov.gfn.device import rand, randint
from theorycov.gfn.errors import InvalidActionError, ShapeError
from theorycov.gfn.graphs import as_adjacency, check_acyclic, pack_bits, transitive_closure, unpack_bits

if TYPE_CHECKING:
    from theorycov.gfn.reward import Reward

__all__ = ["Transitions", "ReplayBuffer", "trajectory_transitions"]


@dataclass(frozen=True)
class Transitions:
    """M edge transitions.

    adj: (M, d, d) bool states G; actions: (M,) int64 edge actions in [0, d*d) (never stop);
    delta_log_reward: (M,) float64 log R(G') - log R(G) (see ``Reward.delta_edges``);
    closure: (M, d, d) bool reflexive transitive closure of G when known (the buffer computes it otherwise).
    """

    adj: torch.Tensor
    actions: torch.Tensor
    delta_log_reward: torch.Tensor
    closure: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.actions.shape[0])


class ReplayBuffer:
    """Ring buffer of :class:`Transitions` over graphs on d nodes."""

    def __init__(self, capacity: int, d: int, device: str | torch.device = "cpu") -> None:
        if capacity < 1:
            raise ShapeError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.d, self.device = capacity, d, torch.device(device)
        nb = -(-d // 8)
        # torch.empty: pages are touched only as the ring fills (rows past ``size`` are never read)
        self.adj_bits = torch.empty(capacity, d, nb, dtype=torch.uint8, device=self.device)  # graphs G, packed
        self.closure_bits = torch.empty(capacity, d, nb, dtype=torch.uint8, device=self.device)  # their closures, packed
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.delta = torch.zeros(capacity, dtype=torch.float64, device=self.device)
        self.pos = 0  # next slot to write
        self.size = 0  # filled slots

    def __len__(self) -> int:
        return self.size

    def add(self, transitions: Transitions, validate: bool = False) -> None:
        """Append M transitions (oldest overwritten when full).

        ``validate`` checks shapes, that actions are edges absent from G, and that G' is acyclic;
        use it for transitions built outside the sampler.
        """
        dev = self.device  # outside hooks may build their transitions elsewhere (e.g. on the CPU)
        adj, actions, delta = transitions.adj.to(dev), transitions.actions.to(dev), transitions.delta_log_reward.to(dev)
        closure = None if transitions.closure is None else transitions.closure.to(dev)
        M = actions.shape[0]
        if M == 0:
            return
        if validate:
            adj = as_adjacency(adj, self.d)
            if actions.shape != (M,) or delta.shape != (M,) or adj.shape[0] != M or (closure is not None and closure.shape != adj.shape):
                raise ShapeError(f"transitions need adj (M, d, d), actions (M,), delta (M,), closure None or (M, d, d); got "
                                 f"{tuple(adj.shape)}, {tuple(actions.shape)}, {tuple(delta.shape)}")
            d = self.d
            if bool(((actions < 0) | (actions >= d * d)).any()):
                raise InvalidActionError(f"transition actions must be edges in [0, {d * d}); stop is not stored")
            src, dst = actions // d, actions % d
            closure = transitive_closure(adj)  # computed, not taken from the caller: this is the check
            rows = torch.arange(M, device=dev)
            bad = adj[rows, src, dst] | closure[rows, dst, src]
            if bool(bad.any()):
                k = int(bad.nonzero()[0, 0])
                raise InvalidActionError(f"transition {k} adds {int(src[k])}->{int(dst[k])}, which exists or closes a cycle")
        if M > self.capacity:  # keep the newest
            adj, actions, delta = adj[-self.capacity :], actions[-self.capacity :], delta[-self.capacity :]
            closure = None if closure is None else closure[-self.capacity :]
            M = self.capacity
        if closure is None:
            closure = transitive_closure(adj)
        idx = (self.pos + torch.arange(M, device=dev)) % self.capacity
        self.adj_bits[idx] = pack_bits(adj)
        self.closure_bits[idx] = pack_bits(closure)
        self.actions[idx] = actions
        self.delta[idx] = delta.to(torch.float64)
        self.pos = (self.pos + M) % self.capacity
        self.size = min(self.size + M, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> Transitions:
        """n transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ShapeError("cannot sample from an empty replay buffer")
        idx = randint(self.size, (n,), generator, self.device)
        return Transitions(unpack_bits(self.adj_bits[idx], self.d), self.actions[idx], self.delta[idx],
                           unpack_bits(self.closure_bits[idx], self.d))

    @property
    def adj(self) -> torch.Tensor:
        """Every stored state G, unpacked: (size, d, d) bool (a copy; for inspection, not the hot path)."""
        return unpack_bits(self.adj_bits[: self.size], self.d)

    def state_dict(self) -> dict[str, object]:
        """Filled part of the buffer, for checkpoints (graphs and closures packed)."""
        s = self.size
        return {"adj_bits": self.adj_bits[:s].clone(), "closure_bits": self.closure_bits[:s].clone(),
                "actions": self.actions[:s].clone(), "delta": self.delta[:s].clone(),
                "pos": self.pos, "size": s, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if state["capacity"] != self.capacity:
            raise ShapeError(f"checkpoint buffer capacity {state['capacity']} != {self.capacity}")
        s = int(state["size"])  # type: ignore[arg-type]
        if "adj" in state:  # a checkpoint written before the packed storage: bool graphs, closures recomputed
            adj = state["adj"].to(self.device)  # type: ignore[union-attr]
            for lo in range(0, s, 4096):
                hi = min(s, lo + 4096)
                self.adj_bits[lo:hi] = pack_bits(adj[lo:hi])
                self.closure_bits[lo:hi] = pack_bits(transitive_closure(adj[lo:hi]))
        else:
            self.adj_bits[:s] = state["adj_bits"].to(self.device)  # type: ignore[union-attr]
            self.closure_bits[:s] = state["closure_bits"].to(self.device)  # type: ignore[union-attr]
        self.actions[:s] = state["actions"].to(self.device)  # type: ignore[union-attr]
        self.delta[:s] = state["delta"].to(self.device)  # type: ignore[union-attr]
        self.pos, self.size = int(state["pos"]), s  # type: ignore[arg-type]


def trajectory_transitions(reward: "Reward", adj: torch.Tensor, generator: torch.Generator | None = None,
                           rank: torch.Tensor | None = None) -> Transitions:
    """Transitions of one forward trajectory per graph that builds it from the empty graph.

    adj: (B, d, d) DAGs. Each graph's edges are added in a uniformly random order (a draw of the
    uniform backward policy, Deleu et al. 2022 §3.3), giving sum_b |E_b| transitions with their exact
    log-reward changes (in rank order with ``rank``, for an ordered environment). This is how outside trajectories (e.g. completions of human hypotheses for
    the coverage objective) enter the replay buffer. Loops over edge positions, not graphs.
    """
    adj = check_acyclic(as_adjacency(adj, reward.d), "trajectory target")
    B, d = adj.shape[0], reward.d
    m = adj.flatten(1).sum(1)  # (B,)
    if rank is None:
        keys = rand((B, d * d), generator, adj.device)
        keys = torch.where(adj.flatten(1), keys, torch.full_like(keys, 2.0))
        order = torch.argsort(keys, dim=1)  # first m[b] entries: the edges of graph b in random order
    else:  # an ordered environment's one trajectory (``DAGEnv.rank_action``, (d*d,)): ascending rank
        from theorycov.gfn.sampling import ranked_edge_order

        order = ranked_edge_order(adj.flatten(1), rank.to(adj.device))
    cur = torch.zeros_like(adj)
    states, actions, deltas = [], [], []
    for t in range(int(m.max()) if B else 0):
        rows = (t < m).nonzero().squeeze(1)
        a = order[rows, t]
        src, dst = a // d, a % d
        states.append(cur[rows].clone())
        actions.append(a)
        deltas.append(reward.delta_edges(cur[rows], src, dst))
        cur[rows, src, dst] = True
    if not states:
        dev = adj.device
        return Transitions(torch.zeros(0, d, d, dtype=torch.bool, device=dev), torch.zeros(0, dtype=torch.int64, device=dev),
                           torch.zeros(0, dtype=torch.float64, device=dev))
    return Transitions(torch.cat(states), torch.cat(actions), torch.cat(deltas))
