"""The language model's labels combined with a supervised second opinion on the same pair.

The second opinion (corpus/pairclf/) gives, for an unordered pair of one sentence, P(none),
P(positive), P(negative) and P(other); write r = P(positive) + P(negative), the chance that the
sentence states a signed relation between the two. The model gives, for each direction, P(activates),
P(inhibits), P(none); write m = the best activates/inhibits probability of either direction. Then:

- **gate**: a pair with r < ``gate`` is not asked at all, so the combination never asks more questions
  than the model alone (the cost of the branch strategy is linear in the pairs asked);
- **existence**: the pair is claimed when (1 - lam) * logit(m) + lam * logit(r) >= logit(accept); lam = 0
  is the model alone (its accept threshold), lam = 1 the classifier alone;
- **direction**: the model's, as before (label margin, then the syntactic reading: corpus/llm/direction.py);
  the classifier knows no direction;
- **sign**: log(P(activates) / P(inhibits)) of the chosen direction plus ``sign_weight`` *
  log(P(positive) / P(negative)).

lam, accept, sign_weight and gate are picked on BioRED Train (bench/pairclf_pick.py), never on the items
scored; see TranslatorConfig's comments for the figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

_EPS = 1e-6


def logit(p: float) -> float:
    """log(p / (1 - p)), clipped away from 0 and 1."""
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Mix:
    """How the model's labels and the second opinion combine (see the module docstring)."""

    # Picked on 72 BioRED Train abstracts (bench/pairclf_pick.py --budget 1800 --gates 0.2,0.3, seed 17; out-of-fold
    # opinions; 338 gold triples): F1 0.323 (P 0.497 R 0.240) against the model alone's 0.162 on the same asked
    # pairs; the best row, lam 1.0 / accept 0.25, had 0.325, lam 0.75 0.323; among rows within 0.005 of the best,
    # this one is best on the sample's gene-gene pairs (0.229 against 0.206 for lam 1.0; 49 gold) and has the
    # smallest lam. Gate 0.3 (a quarter fewer questions) gave 0.311 at best.
    lam: float = 0.5  # weight of the classifier's logit in the existence score
    accept: float = 0.25  # the combined score must reach logit(accept)
    sign_weight: float = 1.0  # weight of the classifier's sign log-odds
    gate: float = 0.2  # pairs below this P(signed relation) are not asked

    def __post_init__(self) -> None:
        if not (0.0 <= self.lam <= 1.0 and 0.0 < self.accept < 1.0 and self.sign_weight >= 0 and 0.0 <= self.gate < 1.0):
            raise ValueError(f"Mix out of range: {self} (lam in [0, 1], accept in (0, 1), sign_weight >= 0, gate in [0, 1))")


def related(opinion: tuple[float, ...]) -> float:
    """r = P(positive) + P(negative) of a second opinion (none, positive, negative, other)."""
    return opinion[1] + opinion[2]


def exists(m: float, opinion: tuple[float, ...], mix: Mix) -> bool:
    """Whether the pair is claimed: the mixed logit of the model's best label and the classifier's r."""
    return (1 - mix.lam) * logit(m) + mix.lam * logit(related(opinion)) >= logit(mix.accept)


def sign(dist: tuple[float, ...], opinion: tuple[float, ...] | None, mix: Mix) -> int:
    """0 (activates) or 1 (inhibits): the model's sign log-odds in the chosen direction plus the
    classifier's, weighted."""
    s = math.log(max(dist[0], _EPS) / max(dist[1], _EPS))
    if opinion is not None:
        s += mix.sign_weight * math.log(max(opinion[1], _EPS) / max(opinion[2], _EPS))
    return 0 if s >= 0 else 1


__all__ = ["Mix", "exists", "logit", "related", "sign"]
