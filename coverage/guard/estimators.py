"""The names of the guard's risk estimators: one :class:`Bound` enum instead of string maps.

Kept apart from :mod:`theorycov.coverage.guard.bounds` (which needs torch) so that the command line can
offer the choices without importing torch.
"""
from __future__ import annotations

from enum import Enum

__all__ = ["Bound"]


class Bound(str, Enum):
    """The estimate a decision uses (Bengio et al. 2024 and DESIGN.md "Risk estimates")."""

    HUMAN = "human"  # max over plausible human theories of P(H | do(a), h, D)
    CAUTIOUS = "cautious"  # Prop. 4.6: max over the plausible set M_alpha
    PROP34 = "prop34"  # Prop. 3.4: p(G^), G^ = argmax P(G|D) p(G)
    POSTERIOR = "posterior"  # E_{G ~ P(G|D)} p(G)
    MAP = "map"  # the most probable graph's p(G)

    @classmethod
    def parse(cls, value: "Bound | str") -> "Bound":
        """A Bound from its name ('prop46' is accepted for 'cautious'); ValueError naming the choices."""
        if isinstance(value, Bound):
            return value
        text = str(value).strip().lower()
        if text == "prop46":
            return cls.CAUTIOUS
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown bound {value!r}; choose one of {', '.join(b.value for b in cls)}") from None
