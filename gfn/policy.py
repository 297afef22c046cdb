"""Forward policy P_F(. | G) over d*d edge actions + stop.

Architecture (why not DAG-GFlowNet's): Deleu et al. 2022 (§4.1, App. C) use a 3-block linear
transformer over the d^2 edge tokens, which costs O(d^2 h^2) per graph and dominates a CPU iteration
(1.66 it/s at d = 5 on two cores). Here the network is an MLP over the flattened adjacency, whose
output layer scores each edge action and the stop action, plus a *reward-informed* base:

    logit(i -> j | G) = beta * phi(log R(G + i->j) - log R(G))  +  MLP(G)[i, j]
    logit(stop | G)   = MLP(G)[stop]

With phi the identity ("linear", the d <= 11 default) the base carries the score part of the optimum of
the modified detailed balance (§3.2): log P_F(G'|G) - log P_F(stop|G) = Delta log R - log|E(G')| -
log P_F(stop|G'), and the network learns the correction -log P_F(stop | G') - log|E(G')|. That
correction is small when the posterior is spread over graphs of similar reward (d = 5, Sachs tempered),
but not with n = 100 rows at d = 20: deltas at the empty graph range over 190 nats, while the optimal
P_F(i -> j | empty) is E[1{i->j in G} / |E(G)|] under the posterior (uniform P_B), about 1/45 for every
edge of the posterior's graphs. The network must then cancel the base almost exactly. ``delta_transform
= "log"`` (phi(x) = sign(x) log(1 + |x|)) keeps the delta's ordering in a range of a few nats, and
``delta_hidden > 0`` adds a small per-edge network of (phi(delta), phi(delta of the reverse edge)),
shared by all edges, so the policy learns how much of the delta to trust (bench/gfn_scale.py measures both).

Candidate edges: when the environment restricts edges (``DAGEnv.allowed``, a screened parent set per node,
gfn/candidates.py), the network reads and scores only the E allowed edges, so its width scales with d K,
not d^2 (at d = 107 with ~20 candidates per node: ~2,000 instead of 11,449).

Learned backward policy (``learn_backward``): a second head on the same body gives P_B(G - e | G) over G's edges
(softmax of its logits on the present edges), zero-initialized so that it starts as the uniform P_B of Deleu et al.
(§3.2). Any P_B with full support keeps R the fixed point of the modified DB (Bengio et al. 2023, "GFlowNet
Foundations", §3); a learned one lets the flows prefer edge orders. Why: at d = 20 the trained forward policy does
prefer orders (bench/RESULTS.md 2026-12-07: along uniformly random orders of its own samples its one-step residuals
average 6.3 nats in absolute value and its log P_T estimates spread by ~20 nats), which a uniform P_B forbids.
Measured there (same entry): alone the learned P_B collapses (samples stop at 33 edges against the posterior's 51);
half uniform (``backward_floor`` 0.5) it trains to the uniform one's figures or worse. Off by default.

The delta comes from the environment's cached local scores (one Cholesky per changed node), the MLP is a
few small matmuls. Using intermediate rewards as a policy input is in the spirit of forward-looking
GFlowNets (Pan et al. 2023) for the all-states-terminal setting. The output layer starts at zero, so an
untrained policy is softmax(beta phi(Delta log R)) over edges and stop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from theorycov.gfn.env import DAGEnv, GraphState
from theorycov.gfn.errors import ConfigError

__all__ = ["PolicyConfig", "EdgePolicy"]


@dataclass(frozen=True)
class PolicyConfig:
    """Shape of the policy network."""

    hidden: int = 256  # width of each hidden layer
    num_layers: int = 2  # hidden layers of the MLP (>= 1)
    use_delta: bool = True  # add beta * Delta log R(candidate) to the edge logits (see module docstring)
    delta_clip: float = 1e4  # |Delta log R| is clipped to this before entering the logits (float32 safety)
    delta_transform: str = "linear"  # phi of the base: "linear" (phi(x) = x) or "log" (sign(x) log(1 + |x|))
    delta_hidden: int = 0  # > 0: a per-edge network of this width on (phi(delta), phi(reverse delta)) joins the base
    learn_backward: bool = False  # a learned backward policy P_B (a second head, zero-initialized: starts uniform); see below
    backward_floor: float = 0.0  # share of the uniform P_B mixed into the learned one (keeps every order's probability up)

    def __post_init__(self) -> None:
        if not 0.0 <= self.backward_floor < 1.0:
            raise ConfigError(f"backward_floor must lie in [0, 1), got {self.backward_floor}")
        if self.delta_transform not in ("linear", "log"):
            raise ConfigError(f"delta_transform must be 'linear' or 'log', got {self.delta_transform!r}")


class EdgePolicy(nn.Module):
    """P_F over actions for a batch of states: ``log_probs(state) -> (B, d*d + 1)`` float32, masked.

    The environment is attached (not a parameter) so that samplers and exact tools need only the policy.
    """

    def __init__(self, env: DAGEnv, config: PolicyConfig = PolicyConfig()) -> None:
        super().__init__()
        if config.num_layers < 1 or config.hidden < 1:
            raise ConfigError("policy needs num_layers >= 1 and hidden >= 1")
        if config.learn_backward and env.ordered:
            raise ConfigError("an ordered environment (edge_rank) fixes the backward policy; learn_backward needs an unordered one")
        if config.use_delta and not env.use_features:
            raise ConfigError("policy.use_delta needs an environment built with use_features=True")
        self.env = env
        self.config = config
        E = env.edges.numel()  # the actions the network reads and scores (all d*d when unrestricted)
        self.restricted = env.restricted
        # the first layer is kept apart: on a 0/1 adjacency it is a sum of weight columns, which a
        # sampler updates by one column per added edge instead of a (E x hidden) matmul per step
        self.input = nn.Linear(E, config.hidden)
        layers: list[nn.Module] = [nn.LeakyReLU()]
        for _ in range(config.num_layers - 1):
            layers += [nn.Linear(config.hidden, config.hidden), nn.LeakyReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(config.hidden, E + 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.back_head: nn.Linear | None = None
        if config.learn_backward:  # zero-initialized: P_B starts as the uniform backward policy of Deleu et al.
            self.back_head = nn.Linear(config.hidden, E)
            nn.init.zeros_(self.back_head.weight)
            nn.init.zeros_(self.back_head.bias)
        self.beta = nn.Parameter(torch.ones(()))  # learned scale of the reward-informed base
        self.edge_net: nn.Module | None = None
        if config.delta_hidden > 0:
            self.edge_net = nn.Sequential(nn.Linear(2, config.delta_hidden), nn.LeakyReLU(), nn.Linear(config.delta_hidden, 1))
            nn.init.zeros_(self.edge_net[2].weight)  # starts as the plain base
            nn.init.zeros_(self.edge_net[2].bias)

    def _edge_inputs(self, adj: torch.Tensor) -> torch.Tensor:
        flat = adj.flatten(1)
        return (flat[:, self.env.edges] if self.restricted else flat).to(torch.float32)  # (B, E)

    def first_layer(self, adj: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the first layer: (B, d, d) bool -> (B, hidden)."""
        return self.input(self._edge_inputs(adj))

    def first_layer_column(self, actions: torch.Tensor) -> torch.Tensor:
        """Change of :meth:`first_layer` when edge action a is added: (B,) -> (B, hidden)."""
        return self.input.weight.T[self.env.slot[actions] if self.restricted else actions]

    def _phi(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(-self.config.delta_clip, self.config.delta_clip)
        return x if self.config.delta_transform == "linear" else torch.sign(x) * torch.log1p(x.abs())

    def slot_logits(self, adj: torch.Tensor, features: torch.Tensor | None, h1: torch.Tensor | None = None) -> torch.Tensor:
        """Unmasked logits of the E candidate edges then stop: adj (B, d, d) bool, features (B, F) float32 or None
        -> (B, E + 1) (slot space, gfn/env.py). h1: the first layer's pre-activation when the caller tracks it
        incrementally (samplers)."""
        return self._outputs(adj, features, h1, backward=False)[0]

    def _outputs(self, adj: torch.Tensor, features: torch.Tensor | None, h1: torch.Tensor | None,
                 backward: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(forward slot logits (B, E + 1), backward slot logits (B, E) or None) from one pass of the body."""
        if h1 is None:
            h1 = self.first_layer(adj)
        h = self.body(h1)
        out = self.head(h)  # (B, E + 1)
        if self.config.use_delta:
            out = torch.cat([out[:, :-1] + self.slot_base(features), out[:, -1:]], dim=1)
        back = self.back_head(h) if backward and self.back_head is not None else None
        return out, back

    def _log_pb(self, adj: torch.Tensor, back: torch.Tensor | None) -> torch.Tensor:
        """log P_B(G - e | G) in slot space for graphs (B, d, d): (B, E), -inf where e is not an edge of G."""
        present = self._edge_inputs(adj) > 0  # (B, E)
        if self.env.rank_slot is not None:  # ordered environment: P_B removes the highest-ranked edge, with probability 1
            top = torch.where(present, self.env.rank_slot[None, :], torch.full_like(self.env.rank_slot[None, :], -1)).argmax(1)
            out = torch.full(present.shape, float("-inf"), device=present.device)
            out[torch.arange(present.shape[0], device=present.device), top] = 0.0
            return out.masked_fill(~present, float("-inf"))
        a = self.config.backward_floor
        if back is not None:
            learned = torch.log_softmax(back.masked_fill(~present, float("-inf")), dim=1)
            if a <= 0:
                return learned
        uniform = torch.log_softmax(torch.zeros(present.shape, device=present.device).masked_fill(~present, float("-inf")), dim=1)
        if back is None:  # the uniform backward policy: 1 / |E(G)|
            return uniform
        # mixed on the edges only: logaddexp(-inf, -inf) has a NaN gradient, which would poison every weight
        lo = torch.where(present, learned + math.log(1 - a), torch.zeros_like(learned))
        hi = torch.where(present, uniform + math.log(a), torch.zeros_like(uniform))
        return torch.logaddexp(lo, hi).masked_fill(~present, float("-inf"))

    def slot_log_pb(self, state: GraphState) -> torch.Tensor:
        """log P_B(G - e | G) for the edges e of each state's graph, in slot space: (B, E) float32, -inf off the graph
        (a graph without edges gives a row of NaN: it has no backward step). Uniform, 1 / |E(G)|, unless
        ``config.learn_backward``, or 1 on the highest-ranked edge in an ordered environment (gfn/env.py)."""
        back = self._outputs(state.adj, state.features, None, backward=True)[1] if self.back_head is not None else None
        return self._log_pb(state.adj, back)

    def slot_log_probs_and_pb(self, state: GraphState, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(:meth:`slot_log_probs` (B, E + 1), :meth:`slot_log_pb` (B, E)) from one pass of the network; the second is
        None for the uniform backward policy (callers use 1 / |E(G)| directly)."""
        if mask is None:
            mask = self.env.slot_mask(state)
        out, back = self._outputs(state.adj, state.features, None, backward=True)
        logp = torch.log_softmax(out.masked_fill(~mask, float("-inf")), dim=1)
        return logp, None if back is None and not self.env.ordered else self._log_pb(state.adj, back)

    def slot_base(self, features: torch.Tensor | None) -> torch.Tensor:
        """The reward-informed base of the edge logits: features (B, F) -> (B, E) (module docstring)."""
        if features is None:
            raise ConfigError("this policy reads delta features; build the state with env.use_features=True")
        x = self._phi(features[:, : self.env.edges.numel()])  # (B, E): the candidates are the first feature columns
        base = self.beta * x
        if self.edge_net is not None:
            pair = torch.stack([x, self._phi(features[:, self.env.feature_rev])], dim=-1)  # (B, E, 2)
            base = base + self.edge_net(pair).squeeze(-1)
        return base

    def logits(self, adj: torch.Tensor, features: torch.Tensor | None, h1: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`slot_logits` in action space: (B, d*d + 1); actions outside the candidates get logit 0 (the
        environment's mask removes them)."""
        out = self.slot_logits(adj, features, h1)
        if not self.restricted:
            return out
        d2 = self.env.d * self.env.d
        full = out.new_zeros(out.shape[0], d2 + 1)
        full[:, self.env.edges] = out[:, :-1]
        full[:, -1] = out[:, -1]
        return full

    def log_probs(self, state: GraphState, mask: torch.Tensor | None = None, h1: torch.Tensor | None = None) -> torch.Tensor:
        """log P_F(a | G) for every action: (B, d*d + 1) float32, -inf where the action is invalid."""
        if mask is None:
            mask = self.env.action_mask(state)
        logits = self.logits(state.adj, state.features, h1).masked_fill(~mask, float("-inf"))
        return torch.log_softmax(logits, dim=1)

    def slot_log_probs(self, state: GraphState, mask: torch.Tensor | None = None, h1: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`log_probs` in slot space: (B, E + 1), equal to ``log_probs(state)[:, env.slot[a]]`` for every
        candidate action a and stop (the actions outside the candidates have probability 0 in both).
        mask: ``env.slot_mask(state)`` if already known."""
        if mask is None:
            mask = self.env.slot_mask(state)
        logits = self.slot_logits(state.adj, state.features, h1).masked_fill(~mask, float("-inf"))
        return torch.log_softmax(logits, dim=1)

    def forward(self, state: GraphState) -> torch.Tensor:  # nn.Module protocol
        return self.log_probs(state)
