"""Which theories the learning and guarding stages use, and how much each weighs.

A stored :class:`~theorycov.db.schemas.Theory` is usable when its hypothesis constrains a graph and some
DAG over the domain's variables satisfies it (:class:`ConstraintSet`'s checks: known variables, no
self-loop, nothing both required and forbidden, required edges that do not close a cycle). The others
are kept with the reason, so that an audit can list every stored theory, not only the usable ones.

Weighting follows INDRA's belief step in its simplest form: a theory's share w_h of the human floor is
proportional to the number of evidence claims behind it (at least one).

:class:`TheorySet` is the one record of "the theories of this run": built once, it carries the compiled
:class:`ConstraintSet`, the normalized weights, ids and citations, and travels with the fitted run to the
audit and the guard.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from theorycov.coverage.constraints import ConstraintSet, HypothesisError
from theorycov.db.schemas import Hypothesis, Theory

logger = logging.getLogger(__name__)

__all__ = ["Excluded", "TheorySet", "evidence_weights"]


def evidence_weights(theories: Iterable[Theory]) -> list[Theory]:
    """Each theory weighed by its evidence count (at least 1): more papers and sentences, more floor."""
    return [t.weighed(max(len(t.hypothesis.evidence), 1)) for t in theories]


@dataclass(frozen=True)
class Excluded:
    """A theory no graph over the domain can use, with the reason (shown by the audit)."""

    theory: Theory
    reason: str


@dataclass(frozen=True)
class TheorySet:
    """H usable theories over an ordered list of variables; column h of every (N, H) matrix is theories[h].

    ``constraints`` compiles them once (G |= h for batches of graphs); ``weights`` (H,) are the theories'
    weights normalized to sum to 1 (the floor's w_h).
    """

    theories: tuple[Theory, ...]
    variables: tuple[str, ...]
    excluded: tuple[Excluded, ...] = ()
    constraints: ConstraintSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", ConstraintSet([t.hypothesis for t in self.theories], self.variables))

    @classmethod
    def select(cls, theories: Iterable[Theory | Hypothesis], variables: Sequence[str]) -> "TheorySet":
        """Keep the theories that can constrain a DAG over ``variables``; the rest go to ``excluded`` with
        the reason (and a warning naming the stored id). Bare hypotheses become theories without an id."""
        keep, out = [], []
        for t in theories:
            t = t if isinstance(t, Theory) else Theory(None, t)
            if not t.hypothesis.constraints:
                out.append(Excluded(t, "it states no constraint on the graph"))
                continue
            try:
                ConstraintSet([t.hypothesis], variables)
            except HypothesisError as err:
                # the check ran on a one-row set, so the message says "hypothesis 0": name the stored id instead
                reason = str(err).replace("hypothesis 0 ", "it ", 1)
                logger.warning("hypothesis %s left out of training: %s", t.id if t.id is not None else "(unstored)", reason)
                out.append(Excluded(t, reason))
                continue
            keep.append(t)
        return cls(tuple(keep), tuple(variables), tuple(out))

    def __len__(self) -> int:
        return len(self.theories)

    @property
    def hypotheses(self) -> tuple[Hypothesis, ...]:
        return tuple(t.hypothesis for t in self.theories)

    @property
    def ids(self) -> list[int | None]:
        return [t.id for t in self.theories]

    @property
    def citations(self) -> list[list[str]]:
        """Per theory, the 'Sachs et al. 2005' labels of its papers."""
        return [t.labels() for t in self.theories]

    @property
    def weights(self) -> torch.Tensor:
        """(H,) float64 w_h, normalized to sum to 1."""
        w = torch.tensor([t.weight for t in self.theories], dtype=torch.float64)
        return w / w.sum() if len(w) else w

    def index_of(self, theory_id: int) -> int | None:
        """Column of the theory stored under ``theory_id`` (None when it is not in the set)."""
        return next((h for h, t in enumerate(self.theories) if t.id == theory_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"variables": list(self.variables), "theories": [t.to_dict() for t in self.theories],
                "excluded": [{"theory": e.theory.to_dict(), "reason": e.reason} for e in self.excluded]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TheorySet":
        return cls(tuple(Theory.from_dict(t) for t in d["theories"]), tuple(d["variables"]),
                   tuple(Excluded(Theory.from_dict(e["theory"]), e["reason"]) for e in d.get("excluded", ())))
