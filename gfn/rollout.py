"""In-place batched rollouts for the sampler: B graphs stepped to stop, O(B d W) work a step plus the few slots
each new edge invalidates.

``DAGEnv.step`` returns new states (the trainer keeps the old ones for its transitions) and updates a
(B, d, d) bool closure: at d = 107 and B = 2,048 that is three 23 MB copies and a 23 MB outer product
every step, most of the sampler's time. A sampler needs neither the old states nor the whole closure, so
:class:`Rollout` keeps, and updates in place, only what the next draw reads:

  * ``reach`` (B, d, W) int64: row a of the closure packed in W = ceil(d / 64) words (bit b: a reaches b).
    Adding u -> v gives every ancestor a of u (bit u of row a) the descendants of v (row v): (B, d, W) ops.
  * ``mask`` (B, E + 1) bool, the slot mask (gfn/env.py): adding u -> v forbids exactly the candidates
    i -> j with j an ancestor of u and i a descendant of v (they would close a cycle), and u -> v itself;
    they are enumerated from the candidate in-edges of u's ancestors (a few per graph), not by a scan. In an
    ordered environment every slot ranked at or below u -> v closes too (a (R, E) comparison).
  * ``features`` (B, F), node v's entries refreshed (gfn/env.py), and ``h1`` (B, H), the policy's first
    layer, plus the added edge's weight column.
  * ``logit0`` (B, E + 1): everything in the logits but the last layer's matmul, i.e. its bias plus the
    reward-informed base (policy.py), -inf on invalid slots; refreshed only where features or the mask
    changed, so the masked logits are one ``addmm`` a step instead of ~10 passes over (B, E + 1).

Every quantity equals what ``DAGEnv.step``, ``DAGEnv.slot_mask`` and ``EdgePolicy.slot_logits`` give for
the same graphs (tested; the logits to float rounding, the fused add runs in another order).
"""
from __future__ import annotations

import copy
import sys

import torch

from theorycov.gfn.env import GraphState
from theorycov.gfn.graphs import pack_bits
from theorycov.gfn.policy import EdgePolicy

__all__ = ["Rollout"]

_BITS = 64  # bits per int64 word (bit 63 is the sign bit: only shifts and masks touch the words, never arithmetic)


def _pack_rows(closure: torch.Tensor) -> torch.Tensor:
    """(B, d, d) bool -> (B, d, W) int64, bit b of word b // 64 at position b % 64 (bytes packed, then viewed as
    little-endian words)."""
    if sys.byteorder != "little":
        raise NotImplementedError("packed closure rows assume a little-endian machine")
    B, d, _ = closure.shape
    W = -(-d // _BITS)
    bits = pack_bits(closure)  # (B, d, ceil(d / 8)) uint8, bit b of byte b // 8 at position b % 8
    out = torch.zeros(B, d, W * 8, dtype=torch.uint8, device=closure.device)
    out[:, :, : bits.shape[2]] = bits
    return out.view(torch.int64)


def _unpack_row(words: torch.Tensor, d: int) -> torch.Tensor:
    """(R, W) int64 -> (R, d) bool."""
    R, W = words.shape
    bits = (words[:, :, None] >> torch.arange(_BITS, dtype=torch.int64, device=words.device)) & 1
    return bits.view(R, W * _BITS)[:, :d].bool()


class Rollout:
    """B graphs of a policy's environment, stepped in place by slot (``step``); see the module docstring."""

    def __init__(self, policy: EdgePolicy, state: GraphState) -> None:
        env = policy.env
        self.policy, self.env, self.d = policy, env, env.d
        self.stop = env.num_slots - 1
        self.adj_t = state.adj.transpose(1, 2).contiguous()  # (B, d, d) bool, node-major: adj_t[b, j] = parents of j
        self.reach = _pack_rows(state.closure)  # (B, d, W) int64
        # features only feed the logits' base: a policy without it needs none kept
        self.features = None if state.features is None or not policy.config.use_delta else state.features.clone()  # (B, F)
        self.mask = env.slot_mask(state).clone()  # (B, E + 1) bool
        self.h1 = policy.first_layer(state.adj)  # (B, H)
        self.done = state.done.clone()  # (B,) bool
        self.indeg = self.adj.sum(1) if env.max_parents is not None else None  # (B, d)
        # with the per-edge network a candidate's base also reads its reverse's feature: refresh whole rows then
        self.per_edge_base = policy.edge_net is None
        self.logit0 = self._logit0(self.features, self.mask)  # (B, E + 1)

    def _logit0(self, features: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
        """Head bias + base, -inf where ``mask`` (R, E + 1) is False: (R, E + 1) float32."""
        pol = self.policy
        out = pol.head.bias.detach().expand(mask.shape[0], -1).clone()
        if pol.config.use_delta:
            out[:, :-1] += pol.slot_base(features)
        return out.masked_fill(~mask, float("-inf"))

    @property
    def adj(self) -> torch.Tensor:
        """The graphs (B, d, d) bool (a view of ``adj_t``, kept node-major so that a node's parents are one row:
        the feature refresh reads the parents of every moved node each step)."""
        return self.adj_t.transpose(1, 2)

    @property
    def batch_size(self) -> int:
        return int(self.adj_t.shape[0])

    def slot_logits(self) -> torch.Tensor:
        """The policy's masked logits: (B, E + 1) float32, -inf on invalid slots."""
        pol = self.policy
        return torch.addmm(self.logit0, pol.body(self.h1), pol.head.weight.T)

    def step(self, slots: torch.Tensor) -> None:
        """Apply one slot per graph in place: (B,) int64 in [0, E]; slot E (stop) or a done graph changes nothing
        but ``done``. Slots must be valid under ``mask`` (no check)."""
        env, d = self.env, self.d
        moving = (slots < self.stop) & ~self.done
        self.done |= slots == self.stop
        rows = moving.nonzero().squeeze(1)  # (R,)
        if rows.numel() == 0:
            return
        B = slots.shape[0]
        ar = torch.arange(B, device=slots.device)
        e_all = slots.clamp(max=self.stop - 1)  # (B,); rows that do not move are masked out below
        u_all, v_all = env.edge_src[e_all], env.edge_dst[e_all]
        word = self.reach.gather(2, (u_all // _BITS)[:, None, None].expand(B, d, 1)).squeeze(2)  # (B, d): words holding bit u
        anc = ((word >> (u_all % _BITS)[:, None]) & 1).bool() & moving[:, None]  # (B, d): ancestors of u, u included
        desc_words = self.reach[ar, v_all]  # (B, W): descendants of v, v included
        gb, gj = anc.nonzero(as_tuple=True)  # (A,) graph and ancestor: a few per graph
        self.reach[gb, gj] |= desc_words[gb]  # every ancestor of u now reaches v's descendants
        desc = _unpack_row(desc_words, d)  # (B, d)
        # slots i -> j with j an ancestor of u and i a descendant of v now close a cycle: about 3 a graph, so they are
        # enumerated from the ancestors' candidate in-edges instead of scanning all (B, E) slots
        sl, ok = env._in_slot[gj], env._in_valid[gj]  # (A, K_in) slots into each ancestor
        gbk = gb[:, None].expand_as(sl)
        ok = ok & desc[gbk, env.edge_src[sl]]
        e, u, v = e_all[rows], u_all[rows], v_all[rows]
        self.adj_t[rows, v, u] = True
        gone_s, gone_b = [sl[ok], e], [gbk[ok], rows]  # the added edge itself too
        if self.indeg is not None:
            self.indeg[rows, v] += 1
            full = rows[self.indeg[rows, v] >= env.max_parents]  # graphs whose node v can take no more parents
            if full.numel():
                fs, fv = env._in_slot[v_all[full]], env._in_valid[v_all[full]]
                gone_s.append(fs[fv])
                gone_b.append(full[:, None].expand_as(fs)[fv])
        gs, gb2 = torch.cat(gone_s), torch.cat(gone_b)
        self.mask[gb2, gs] = False
        self.logit0[gb2, gs] = float("-inf")
        if env.rank_slot is not None:  # ordered environment: every slot ranked at or below the added edge closes, (R, E)
            below = env.rank_slot[None, :] <= env.rank_slot[e][:, None]
            self.mask[rows, :-1] = self.mask[rows, :-1] & ~below
            self.logit0[rows, :-1] = self.logit0[rows, :-1].masked_fill(below, float("-inf"))
        if self.features is not None:
            if env.reward.columnwise_features:
                pos, valid = env._col_pos[v], env._col_valid[v]  # (R, K) feature columns of node v
                vals = env.reward.delta_feature_columns(self.adj, v, rows, env._col_src[v]).to(torch.float32)  # (R, K)
                r = rows[:, None].expand_as(pos)
                self.features[r[valid], pos[valid]] = vals[valid]
                if self.per_edge_base:  # the base of exactly these candidates changed
                    cand = valid & (pos < self.stop)
                    rr, pp = r[cand], pos[cand]
                    pol = self.policy
                    base = pol.head.bias.detach()[pp] + pol.beta.detach() * pol._phi(vals[cand])
                    cur = self.logit0[rr, pp]  # -inf where the slot was already invalid: it stays so
                    self.logit0[rr, pp] = torch.where(cur == float("-inf"), cur, base)
            else:  # a whole-graph prior part can change every feature
                self.features[rows] = env.features(self.adj[rows])  # type: ignore[index]
                self.per_edge_base = False
            if not self.per_edge_base:
                self.logit0[rows] = self._logit0(self.features[rows], self.mask[rows])
        self.h1.index_add_(0, rows, self.policy.input.weight.T[e])

    _FIELDS = ("adj_t", "reach", "features", "mask", "h1", "done", "indeg", "logit0")

    def keep(self, which: torch.Tensor) -> None:
        """Drop the graphs where ``which`` (B,) bool is False."""
        for name in self._FIELDS:
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t[which])

    def repeated(self, repeat: int) -> Rollout:
        """A new rollout of these graphs, each ``repeat`` times in a row (own tensors)."""
        new = copy.copy(self)
        for name in self._FIELDS:
            t = getattr(self, name)
            if t is not None:
                setattr(new, name, t.repeat_interleave(repeat, dim=0))
        return new

    def extend(self, other: Rollout, repeat: int = 1) -> None:
        """Append the graphs of ``other`` (one graph ``repeat`` times when ``other`` holds one): the sampler refills
        the batch as graphs stop, so every step runs a full batch."""
        def more(t: torch.Tensor) -> torch.Tensor:
            return t if repeat == 1 else t.expand(repeat, *t.shape[1:])

        for name in self._FIELDS:
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, torch.cat([t, more(getattr(other, name))]))
