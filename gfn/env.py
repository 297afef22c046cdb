"""Batched DAG environment (Deleu et al. 2022 §3.1): states are DAGs, actions add one edge or stop.

Every state is a valid terminal graph. A batch of B graphs is held as tensors; one :meth:`DAGEnv.step`
advances all of them with no Python loop over graphs or edges:

  * ``closure`` (B, d, d), reflexive transitive closure, updated in O(B d^2) per step: adding i -> j
    connects every ancestor of i (column i) to every descendant of j (row j);
  * the edge mask: i -> j is allowed when it is absent and j does not reach i (no cycle, no self-loop),
    and, optionally, j has fewer than ``max_parents`` parents and i -> j is a candidate edge (``allowed``,
    a screened parent set per node, gfn/candidates.py); the stop action is always allowed;
  * ``features`` (B, F), the change of the decomposable log-reward for each feature edge (the candidate
    edges, then the reverses of candidates that are not candidates themselves; every edge when unrestricted,
    in action order), kept up to date by recomputing only node j's entries after i -> j (only node j's
    parent set changed).

Edge order (``edge_rank``): optionally every candidate edge has a fixed rank and an edge may only be added above the
highest-ranked edge of the graph. Each DAG is then reached by exactly one trajectory (its edges in rank order), the
backward policy is deterministic (P_B = 1 on that trajectory, 0 elsewhere), and P_T(G) = P_F(tau_G) P_F(stop | G) is
exact, not an estimate over orders (gfn/canonical.py says why and which order).

Slots: the policy scores only the E candidate edges (``edges``, in action order) and stop, so the masks
and log-probabilities of the hot paths live in "slot space" (B, E + 1) rather than action space
(B, d*d + 1): at d = 107 with 1,262 candidates that is 9x narrower. ``slot[a]`` maps an action to its slot
(stop to E, -1 outside the candidates), ``slot_actions`` maps back. Unrestricted, slots are actions.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from theorycov.gfn.errors import ConfigError, InvalidActionError, ShapeError
from theorycov.gfn.graphs import as_adjacency, check_acyclic, transitive_closure
from theorycov.gfn.reward import Reward

__all__ = ["GraphState", "DAGEnv"]


@dataclass(frozen=True)
class GraphState:
    """A batch of B graphs on d nodes.

    adj: (B, d, d) bool; closure: (B, d, d) bool reflexive transitive closure;
    features: (B, F) float32 log-reward change of each of the environment's feature edges, or None when
    the policy does not use it;
    done: (B,) bool, True once the stop action was taken.
    """

    adj: torch.Tensor
    closure: torch.Tensor
    features: torch.Tensor | None
    done: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.adj.shape[0])

    def index(self, idx: torch.Tensor) -> GraphState:
        """Sub-batch by index or bool mask."""
        f = None if self.features is None else self.features[idx]
        return GraphState(self.adj[idx], self.closure[idx], f, self.done[idx])


class DAGEnv:
    """Masks, steps and log-reward changes for batches of DAGs over ``reward.d`` variables.

    reward: the log-reward; max_parents: optional in-degree cap; use_features: compute the
    per-candidate delta features the policy reads (Deleu et al. 2022 feed none; see policy.py);
    allowed: optional (d, d) bool candidate edges (the sampler's support is then the DAGs inside it);
    edge_rank: optional (d, d) int64 rank of each candidate edge, distinct over the candidates (module docstring).
    """

    def __init__(self, reward: Reward, max_parents: int | None = None, use_features: bool = True,
                 allowed: torch.Tensor | None = None, edge_rank: torch.Tensor | None = None) -> None:
        self.reward = reward
        self.d = reward.d
        self.num_actions = self.d * self.d + 1
        self.max_parents = max_parents
        self.use_features = use_features
        self.device = reward.device  # every state tensor lives with the reward's tensors
        if allowed is not None:
            allowed = as_adjacency(allowed, self.d)[0].to(self.device)
            allowed = allowed & ~torch.eye(self.d, dtype=torch.bool, device=self.device)
        self.allowed = allowed
        self.restricted = allowed is not None
        self._empty_features: torch.Tensor | None = None
        self._index_edges(torch.ones(self.d, self.d, dtype=torch.bool, device=self.device) if allowed is None else allowed)
        self.ordered = edge_rank is not None
        self.rank_slot: torch.Tensor | None = None  # (E,) rank of each slot's edge
        self.rank_action: torch.Tensor | None = None  # (d*d,) rank of each edge action; non-candidates after every candidate
        if edge_rank is not None:
            self._set_rank(edge_rank)

    def _set_rank(self, edge_rank: torch.Tensor) -> None:
        d, E = self.d, self.edges.numel()
        rank = torch.as_tensor(edge_rank, device=self.device).to(torch.int64)
        if rank.shape != (d, d):
            raise ShapeError(f"edge_rank must have shape ({d}, {d}), got {tuple(rank.shape)}")
        self.rank_slot = rank.flatten()[self.edges]
        if torch.unique(self.rank_slot).numel() != E:
            raise ConfigError("edge_rank must give every candidate edge a distinct rank")
        # dense ranks 0..E-1 (the order is what matters), then the non-candidates after them in action order
        self.rank_slot = torch.argsort(torch.argsort(self.rank_slot))
        self.rank_action = torch.arange(d * d, device=self.device) + E
        self.rank_action[self.edges] = self.rank_slot

    def max_rank(self, adj: torch.Tensor) -> torch.Tensor:
        """Rank of the highest-ranked edge of each graph (B, d, d) -> (B,) int64, -1 for the empty graph (ordered env)."""
        if self.rank_action is None:
            raise InvalidActionError("max_rank needs an environment built with edge_rank")
        from theorycov.gfn.sampling import highest_rank  # sampling imports this module

        return highest_rank(adj.flatten(1), self.rank_action)

    def edge_orders(self, flat: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A trajectory of P_B per graph, as the order its edges are added: flat (B, d*d) bool -> (B, d*d) int64 flat
        indices whose first m_b entries are graph b's edges. Uniformly random orders (the uniform P_B), or, in an
        ordered environment, the one order it allows (ascending rank)."""
        from theorycov.gfn.sampling import random_edge_order, ranked_edge_order  # sampling imports this module

        return random_edge_order(flat, generator) if self.rank_action is None else ranked_edge_order(flat, self.rank_action)

    def log_pb_trajectory(self, num_edges: torch.Tensor) -> torch.Tensor:
        """log P_B(tau | G) of one trajectory to a graph with m edges: (B,) -> (B,) float64; -log m! (uniform) or 0 (ordered)."""
        m = num_edges.to(torch.float64)
        return torch.zeros_like(m) if self.ordered else -torch.lgamma(m + 1.0)

    def _index_edges(self, full: torch.Tensor) -> None:
        """Slots, feature edges and the per-node tables of the column update, from the (d, d) candidate edges."""
        d, dev = self.d, self.device
        edges = full.flatten().nonzero().flatten()  # (E,) in action order
        E = edges.numel()
        self.edges, self.num_slots = edges, E + 1
        self.edge_src, self.edge_dst = edges // d, edges % d
        self.edge_rev = self.edge_dst * d + self.edge_src  # (E,) flat index of j -> i (closure[j, i]: j reaches i)
        self.slot = torch.full((d * d + 1,), -1, dtype=torch.int64, device=dev)
        self.slot[edges] = torch.arange(E, device=dev)
        self.slot[d * d] = E
        extra = ((full | full.T) & ~full).flatten().nonzero().flatten()  # reverses that are not candidates
        fe = torch.cat([edges, extra])  # (F,) feature edges: the candidates first
        self.feature_edges, self.feature_src, self.feature_dst = fe, fe // d, fe % d
        pos = torch.full((d * d,), -1, dtype=torch.int64, device=dev)
        pos[fe] = torch.arange(fe.numel(), device=dev)
        self.feature_rev = pos[self.edge_rev]  # (E,) feature column of each candidate's reverse edge
        # column update: for node j, the feature columns with target j (padded to K, the largest count)
        counts = torch.bincount(self.feature_dst, minlength=d)
        K = max(1, int(counts.max()))
        order = torch.argsort(self.feature_dst, stable=True)
        rank = torch.arange(fe.numel(), device=dev) - (counts.cumsum(0) - counts)[self.feature_dst[order]]
        self._col_pos = torch.zeros(d, K, dtype=torch.int64, device=dev)
        self._col_valid = torch.zeros(d, K, dtype=torch.bool, device=dev)
        self._col_pos[self.feature_dst[order], rank] = order
        self._col_valid[self.feature_dst[order], rank] = True
        self._col_src = self.feature_src[self._col_pos]  # (d, K)
        # slots into each node (padded to the largest candidate in-degree): the rollout's sparse mask update
        into = torch.bincount(self.edge_dst, minlength=d)
        order = torch.argsort(self.edge_dst, stable=True)
        rank = torch.arange(E, device=dev) - (into.cumsum(0) - into)[self.edge_dst[order]]
        self._in_slot = torch.zeros(d, max(1, int(into.max())), dtype=torch.int64, device=dev)
        self._in_valid = torch.zeros_like(self._in_slot, dtype=torch.bool)
        self._in_slot[self.edge_dst[order], rank] = order
        self._in_valid[self.edge_dst[order], rank] = True

    def slot_actions(self, slots: torch.Tensor) -> torch.Tensor:
        """Actions of slots: (B,) in [0, E] -> (B,) in [0, d*d] (slot E is stop)."""
        stop = slots == self.num_slots - 1
        return torch.where(stop, torch.full_like(slots, self.d * self.d), self.edges[slots.clamp(max=self.num_slots - 2)])

    # ---- states ---------------------------------------------------------------------------------
    def reset(self, batch_size: int) -> GraphState:
        """B empty graphs."""
        d = self.d
        adj = torch.zeros(batch_size, d, d, dtype=torch.bool, device=self.device)
        closure = torch.eye(d, dtype=torch.bool, device=self.device).expand(batch_size, d, d).clone()
        feats = None
        if self.use_features:
            if self._empty_features is None:  # the same for every empty graph: compute once
                self._empty_features = self.features(adj[:1])
            feats = self._empty_features.expand(batch_size, -1).clone()
        return GraphState(adj, closure, feats, torch.zeros(batch_size, dtype=torch.bool, device=self.device))

    def from_adjacency(self, adj: torch.Tensor, validate: bool = True) -> GraphState:
        """States for given graphs (B, d, d); raises CyclicGraphError / ShapeError on bad input."""
        adj = check_acyclic(as_adjacency(adj, self.d), "start graph") if validate else adj
        adj = adj.to(self.device)
        if self.max_parents is not None and bool((adj.sum(1) > self.max_parents).any()):
            raise InvalidActionError(f"a start graph has a node with more than max_parents={self.max_parents} parents")
        if self.allowed is not None and bool((adj & ~self.allowed).any()):
            raise InvalidActionError("a start graph has an edge outside the environment's candidate edges")
        return GraphState(adj.clone(), transitive_closure(adj), self.features(adj), torch.zeros(adj.shape[0], dtype=torch.bool, device=adj.device))

    def reset_where(self, state: GraphState, which: torch.Tensor) -> GraphState:
        """Replace the graphs where ``which`` (B,) is True by empty graphs."""
        if not bool(which.any()):
            return state
        fresh = self.reset(int(which.sum()))
        adj, closure, done = state.adj.clone(), state.closure.clone(), state.done.clone()
        adj[which], closure[which], done[which] = fresh.adj, fresh.closure, fresh.done
        feats = state.features
        if feats is not None:
            feats = feats.clone()
            feats[which] = fresh.features
        return GraphState(adj, closure, feats, done)

    def set_where(self, state: GraphState, rows: torch.Tensor, adj: torch.Tensor) -> GraphState:
        """Replace the graphs at ``rows`` (k,) long by the DAGs ``adj`` (k, d, d) bool (not done)."""
        fresh = self.states(adj.to(torch.bool))
        a, closure, done = state.adj.clone(), state.closure.clone(), state.done.clone()
        a[rows], closure[rows], done[rows] = fresh.adj, fresh.closure, False
        feats = state.features
        if feats is not None:
            feats = feats.clone()
            feats[rows] = fresh.features
        return GraphState(a, closure, feats, done)

    # ---- masks ----------------------------------------------------------------------------------
    def edge_mask(self, adj: torch.Tensor, closure: torch.Tensor) -> torch.Tensor:
        """(B, d, d) bool: True where adding i -> j keeps the graph a DAG (and respects max_parents)."""
        mask = ~adj & ~closure.transpose(1, 2)  # (B, d, d): no duplicate, j must not reach i
        if self.max_parents is not None:
            mask &= (adj.sum(1) < self.max_parents)[:, None, :]
        if self.allowed is not None:
            mask &= self.allowed[None]
        if self.rank_action is not None:  # only above the graph's highest-ranked edge
            mask &= (self.rank_action[None, :] > self.max_rank(adj)[:, None]).view(-1, self.d, self.d)
        return mask

    def action_mask(self, state: GraphState) -> torch.Tensor:
        """(B, d*d + 1) bool over edge actions then stop; stop is always allowed."""
        em = self.edge_mask(state.adj, state.closure).flatten(1)
        return torch.cat([em, torch.ones(em.shape[0], 1, dtype=torch.bool, device=em.device)], dim=1)

    def slot_mask(self, state: GraphState) -> torch.Tensor:
        """:meth:`action_mask` in slot space: (B, E + 1) bool, ``action_mask(state)[:, edges]`` then stop."""
        if not self.restricted:
            return self.action_mask(state)
        adj, closure = state.adj.flatten(1), state.closure.flatten(1)
        em = ~adj[:, self.edges] & ~closure[:, self.edge_rev]  # (B, E): absent, and j does not reach i
        if self.max_parents is not None:
            em &= (state.adj.sum(1) < self.max_parents)[:, self.edge_dst]
        if self.rank_slot is not None:
            em &= self.rank_slot[None, :] > self.max_rank(state.adj)[:, None]
        return torch.cat([em, torch.ones(em.shape[0], 1, dtype=torch.bool, device=em.device)], dim=1)

    # ---- transitions ----------------------------------------------------------------------------
    def step(
        self, state: GraphState, actions: torch.Tensor, check: bool = False, with_delta: bool = True
    ) -> tuple[GraphState, torch.Tensor]:
        """Apply one action per graph: (B,) int64 in [0, d*d] -> (next state, delta log R (B,) float64).

        Graphs already done stay unchanged; stop sets ``done``; the delta is 0 for stop and done graphs
        (and everywhere when ``with_delta`` is False: samplers do not need it).
        ``check`` validates the actions against the mask (costly: off on the hot path).
        """
        B, d = state.batch_size, self.d
        if actions.shape != (B,):
            raise ShapeError(f"actions must have shape ({B},), got {tuple(actions.shape)}")
        if check:
            ok = self.action_mask(state).gather(1, actions.clamp(0, d * d)[:, None]).squeeze(1)
            if bool(((actions < 0) | (actions > d * d) | ~ok)[~state.done].any()):
                raise InvalidActionError("an action adds an existing edge, closes a cycle or is out of range")
        is_edge = (actions < d * d) & ~state.done
        done = state.done | (actions == d * d)
        delta = torch.zeros(B, dtype=torch.float64, device=state.adj.device)
        if not bool(is_edge.any()):
            return replace(state, done=done), delta
        rows = is_edge.nonzero().squeeze(1)  # (E,)
        a = actions[rows]
        src, dst = a // d, a % d
        adj_e = state.adj[rows]
        if with_delta:
            delta[rows] = self.reward.delta_edges(adj_e, src, dst)
        adj = state.adj.clone()
        adj[rows, src, dst] = True
        closure = state.closure.clone()
        anc = state.closure[rows, :, src]  # (E, d): ancestors of src (incl. src)
        desc = state.closure[rows, dst, :]  # (E, d): descendants of dst (incl. dst)
        closure[rows] |= anc[:, :, None] & desc[:, None, :]
        feats = state.features
        if feats is not None:
            feats = feats.clone()
            if self.reward.columnwise_features:
                new_col = self.reward.delta_feature_columns(adj, dst, rows).to(torch.float32)  # (E, d): node dst's deltas
                pos, valid = self._col_pos[dst], self._col_valid[dst]  # (E, K) feature columns of node dst
                vals = new_col.gather(1, self._col_src[dst])
                feats[rows[:, None].expand_as(pos)[valid], pos[valid]] = vals[valid]
            else:  # a whole-graph prior part (e.g. the human floor) can change every candidate's feature
                feats[rows] = self.features(adj[rows])  # type: ignore[assignment]
        return GraphState(adj, closure, feats, done), delta

    def next_adjacency(self, adj: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Graphs after edge actions (B,) (no stop): (B, d, d) bool."""
        nxt = adj.clone()
        rows = torch.arange(adj.shape[0], device=adj.device)
        nxt[rows, actions // self.d, actions % self.d] = True
        return nxt

    def features(self, adj: torch.Tensor) -> torch.Tensor | None:
        """Policy features of arbitrary graphs (B, d, d) -> (B, F) float32 (see :class:`GraphState`), or None."""
        if not self.use_features:
            return None
        return self.reward.delta_features_at(adj, self.feature_src, self.feature_dst).to(torch.float32)

    def transition_states(
        self, adj: torch.Tensor, actions: torch.Tensor, closure: torch.Tensor | None = None
    ) -> tuple[GraphState, GraphState]:
        """States of G (B, d, d) and of G' = G + action (B,) for replayed transitions: one set of features for G
        (and its closure, unless given: the replay buffer keeps it); G' gets the closure's one-edge update and
        only node j's features recomputed."""
        st = self.states(adj, closure)
        nxt, _ = self.step(st, actions, with_delta=False)
        return st, replace(nxt, done=torch.zeros_like(nxt.done))

    def states(self, adj: torch.Tensor, closure: torch.Tensor | None = None) -> GraphState:
        """States for graphs known to be DAGs (replayed, enumerated): no validation. closure: (B, d, d) if known."""
        closure = transitive_closure(adj) if closure is None else closure
        return GraphState(adj, closure, self.features(adj), torch.zeros(adj.shape[0], dtype=torch.bool, device=adj.device))
