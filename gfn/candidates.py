"""Candidate parents: a screened set of possible edges per node, enforced through the action masks.

Score-based samplers at d = 50-100+ restrict each node's parents to a screened candidate set (the
"search space" of BiDAG, Kuipers, Suter & Moffa 2022, from a PC skeleton plus expansion; Friedman &
Koller 2003's candidate parents for order MCMC). Here the screen is the score itself, on every node at
once with the batched deltas of ``LocalScore.delta``:

  1. the ``k`` best single parents of each node (the delta of adding i -> j to the empty graph), and
  2. greedy forward selection of each node's parents, up to ``k`` rounds, adding the best parent while it
     raises the local score: this finds parents that only help given others (e.g. the second parent
     of a v-structure, whose marginal association is nil).

The union is symmetrized (i -> j is a candidate when j -> i is), so that both orientations of an
equivalence class stay reachable and the restriction does not tilt the posterior between them. The
restricted posterior is P(G | D, G inside the candidates); what it drops is measured against
unrestricted reference chains (bench/gfn_scale.py, ``mass_outside``).
"""
from __future__ import annotations

import torch

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.reward import Reward

__all__ = ["candidate_parents", "mass_outside"]


@torch.no_grad()
def candidate_parents(reward: Reward, k: int, extra: torch.Tensor | None = None) -> torch.Tensor:
    """(d, d) bool candidate edges (allowed[i, j]: i may be a parent of j), symmetric, no diagonal.

    k: single-parent screen size and greedy rounds per node; extra: (d, d) bool edges always kept
    (e.g. those of human hypotheses, which the coverage objective must be able to build).
    """
    d = reward.d
    if k < 1:
        raise ConfigError(f"candidate screen needs k >= 1, got {k}")
    dev = reward.device
    eye = torch.eye(d, dtype=torch.bool, device=dev)
    score = reward.score
    empty = torch.zeros(1, d, d, dtype=torch.bool, device=dev)
    f0 = score.delta(empty)[0].masked_fill(eye, float("-inf"))  # (d, d): gain of i -> j alone
    top = torch.topk(f0, min(k, d - 1), dim=0).indices  # (k, d): best single parents of each j
    cand = torch.zeros(d, d, dtype=torch.bool, device=dev)
    cand[top, torch.arange(d, device=dev)[None, :].expand_as(top)] = True
    parents = torch.zeros(1, d, d, dtype=torch.bool, device=dev)  # column j: parents chosen for j (no DAG needed)
    for _ in range(min(k, d - 1)):
        f = score.delta(parents)[0].masked_fill(eye | parents[0], float("-inf"))  # local, so cycles do not matter
        gain, best = f.max(dim=0)  # (d,)
        add = gain > 0
        if not bool(add.any()):
            break
        cols = add.nonzero().flatten()
        parents[0, best[cols], cols] = True
    cand |= parents[0]
    if extra is not None:
        cand |= extra.to(dev, torch.bool)
    return (cand | cand.T) & ~eye


def mass_outside(marginals: torch.Tensor, allowed: torch.Tensor) -> dict[str, float]:
    """How much of an edge-marginal matrix (d, d) the candidates drop: total marginal outside / inside, and
    the largest single marginal outside."""
    m = torch.as_tensor(marginals, dtype=torch.float64).cpu()
    out = m[~allowed.cpu()]
    out = out[torch.isfinite(out)]
    return {"expected_edges_outside": float(out.sum()), "expected_edges": float(m.sum() - m.diagonal().sum()),
            "max_marginal_outside": float(out.max()) if out.numel() else 0.0}
