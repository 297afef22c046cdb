"""Replay buffer of edge transitions G -> G + (i -> j) (Deleu et al. 2022 §3.4, "off-policy").

The modified detailed balance is local, so any transition with its exact log-reward change is valid
training data, whoever produced it: the sampler, an epsilon-uniform explorer, or an outside hook
(the coverage objective injects trajectories that build completions of human hypotheses).
Storage is a ring of preallocated tensors; sampling is uniform with a caller-owned torch.Generator,
so a resumed run draws the same batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from theorycov.gfn.device import rand, randint
from theorycov.gfn.errors import InvalidActionError, ShapeError
from theorycov.gfn.graphs import as_adjacency, check_acyclic, transitive_closure

if TYPE_CHECKING:
    from theorycov.gfn.reward import Reward

__all__ = ["Transitions", "ReplayBuffer", "trajectory_transitions"]


@dataclass(frozen=True)
class Transitions:
    """M edge transitions.

    adj: (M, d, d) bool states G; actions: (M,) int64 edge actions in [0, d*d) (never stop);
    delta_log_reward: (M,) float64 log R(G') - log R(G) (see ``Reward.delta_edges``).
    """

    adj: torch.Tensor
    actions: torch.Tensor
    delta_log_reward: torch.Tensor

    def __len__(self) -> int:
        return int(self.actions.shape[0])


class ReplayBuffer:
    """Ring buffer of :class:`Transitions` over graphs on d nodes."""

    def __init__(self, capacity: int, d: int, device: str | torch.device = "cpu") -> None:
        if capacity < 1:
            raise ShapeError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.d, self.device = capacity, d, torch.device(device)
        self.adj = torch.zeros(capacity, d, d, dtype=torch.bool, device=self.device)
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
        M = actions.shape[0]
        if M == 0:
            return
        if validate:
            adj = as_adjacency(adj, self.d)
            if actions.shape != (M,) or delta.shape != (M,) or adj.shape[0] != M:
                raise ShapeError(f"transitions need adj (M, d, d), actions (M,), delta (M,); got "
                                 f"{tuple(adj.shape)}, {tuple(actions.shape)}, {tuple(delta.shape)}")
            d = self.d
            if bool(((actions < 0) | (actions >= d * d)).any()):
                raise InvalidActionError(f"transition actions must be edges in [0, {d * d}); stop is not stored")
            src, dst = actions // d, actions % d
            closure = transitive_closure(adj)
            rows = torch.arange(M, device=dev)
            bad = adj[rows, src, dst] | closure[rows, dst, src]
            if bool(bad.any()):
                k = int(bad.nonzero()[0, 0])
                raise InvalidActionError(f"transition {k} adds {int(src[k])}->{int(dst[k])}, which exists or closes a cycle")
        if M > self.capacity:  # keep the newest
            adj, actions, delta = adj[-self.capacity :], actions[-self.capacity :], delta[-self.capacity :]
            M = self.capacity
        idx = (self.pos + torch.arange(M, device=dev)) % self.capacity
        self.adj[idx] = adj
        self.actions[idx] = actions
        self.delta[idx] = delta.to(torch.float64)
        self.pos = (self.pos + M) % self.capacity
        self.size = min(self.size + M, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> Transitions:
        """n transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ShapeError("cannot sample from an empty replay buffer")
        idx = randint(self.size, (n,), generator, self.device)
        return Transitions(self.adj[idx], self.actions[idx], self.delta[idx])

    def state_dict(self) -> dict[str, object]:
        """Filled part of the buffer, for checkpoints."""
        s = self.size
        return {"adj": self.adj[:s].clone(), "actions": self.actions[:s].clone(), "delta": self.delta[:s].clone(),
                "pos": self.pos, "size": s, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if state["capacity"] != self.capacity:
            raise ShapeError(f"checkpoint buffer capacity {state['capacity']} != {self.capacity}")
        s = int(state["size"])  # type: ignore[arg-type]
        self.adj[:s] = state["adj"].to(self.device)  # type: ignore[union-attr]
        self.actions[:s] = state["actions"].to(self.device)  # type: ignore[union-attr]
        self.delta[:s] = state["delta"].to(self.device)  # type: ignore[union-attr]
        self.pos, self.size = int(state["pos"]), s  # type: ignore[arg-type]


def trajectory_transitions(reward: "Reward", adj: torch.Tensor, generator: torch.Generator | None = None) -> Transitions:
    """Transitions of one forward trajectory per graph that builds it from the empty graph.

    adj: (B, d, d) DAGs. Each graph's edges are added in a uniformly random order (a draw of the
    uniform backward policy, Deleu et al. 2022 §3.3), giving sum_b |E_b| transitions with their exact
    log-reward changes. This is how outside trajectories (e.g. completions of human hypotheses for
    the coverage objective) enter the replay buffer. Loops over edge positions, not graphs.
    """
    adj = check_acyclic(as_adjacency(adj, reward.d), "trajectory target")
    B, d = adj.shape[0], reward.d
    m = adj.flatten(1).sum(1)  # (B,)
    keys = rand((B, d * d), generator, adj.device)
    keys = torch.where(adj.flatten(1), keys, torch.full_like(keys, 2.0))
    order = torch.argsort(keys, dim=1)  # first m[b] entries: the edges of graph b in random order
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
