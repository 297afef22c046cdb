"""Actions and harm events, and a small parser for the plain phrases users type.

Actions (on the modelling scale of the domain's data):
    do(X = 1.5)            set X to a value
    do(X = q10)            set X to its observational 10th percentile
    inhibit X / block X    set X to the domain's "inhibit" percentile (default q5)
    activate X             set X to the domain's "activate" percentile (default q95)
    shift X by -1          X := X + (-1), keeping X's own mechanism
Harm events (on the observational scale):
    Erk < q10, Erk > q90, Erk < -1.2, Erk outside [q5, q95], Erk below its 10th percentile

Variable names go through the domain's aliases (``resolve``), so "inhibit protein kinase C" works.

Exceptions::

    ValueError
     +-- GuardInputError        a phrase cannot be parsed, or names no variable of the domain
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = ["Action", "GuardInputError", "HarmEvent", "Quantiles", "alias_resolver", "parse_action", "parse_harm"]

ACTION_FORMS = "'inhibit X', 'activate X', 'do(X = 1.5)', 'do(X = q10)', 'shift X by -1'"
HARM_FORMS = "'Y < q10', 'Y > q90', 'Y < -1.2', 'Y outside [q5, q95]', 'Y below its 10th percentile'"

INHIBIT_VERBS = ("inhibit", "block", "suppress", "knock down", "knockdown", "decrease", "lower", "reduce")
ACTIVATE_VERBS = ("activate", "stimulate", "increase", "raise", "enhance")


class GuardInputError(ValueError):
    """An action or harm phrase could not be understood; the message lists the accepted forms."""


@dataclass(frozen=True)
class Quantiles:
    """Observational quantiles of each variable on the modelling scale (rows with no intervention)."""

    variables: tuple[str, ...]
    observational: torch.Tensor  # (n_obs, d) float

    def value(self, variable: str, q: float) -> float:
        key = (variable, q)
        cache = self.__dict__.setdefault("_cache", {})  # frozen dataclass: memo kept beside the fields
        if key not in cache:
            j = self.variables.index(variable)
            cache[key] = float(torch.quantile(self.observational[:, j].to(torch.float64), q))
        return cache[key]


@dataclass(frozen=True)
class Action:
    """An intervention on one variable: set it (``value``/``quantile``) or shift it (``shift``)."""

    variable: str
    quantile: float | None = None  # do(X = q-th observational quantile), q in (0, 1)
    value: float | None = None  # do(X = value) on the modelling scale
    shift: float | None = None  # X := X + shift
    phrase: str = ""

    def resolved_value(self, quantiles: Quantiles) -> float | None:
        """The value X is set to, or None for a shift."""
        if self.shift is not None:
            return None
        if self.quantile is not None:
            return quantiles.value(self.variable, self.quantile)
        return self.value

    def describe(self) -> str:
        if self.shift is not None:
            return f"shift {self.variable} by {self.shift:+g}"
        if self.quantile is not None:
            return f"set {self.variable} to its observational {_ordinal(self.quantile)} percentile"
        return f"set {self.variable} to {self.value:g}"


@dataclass(frozen=True)
class HarmEvent:
    """The event that the outcome lies in (low, high), or outside it when ``outside``.

    Bounds are either quantiles (``low_q``/``high_q`` in (0, 1)) or values; None means unbounded.
    """

    variable: str
    low_q: float | None = None
    high_q: float | None = None
    low: float | None = None
    high: float | None = None
    outside: bool = False
    phrase: str = ""

    def interval(self, quantiles: Quantiles) -> tuple[float, float]:
        lo = quantiles.value(self.variable, self.low_q) if self.low_q is not None else self.low
        hi = quantiles.value(self.variable, self.high_q) if self.high_q is not None else self.high
        return (-math.inf if lo is None else lo, math.inf if hi is None else hi)

    def describe(self) -> str:
        def fmt(q: float | None, v: float | None) -> str:
            return f"its {_ordinal(q)} percentile" if q is not None else f"{v:g}"

        if self.outside:
            return f"{self.variable} leaves [{fmt(self.low_q, self.low)}, {fmt(self.high_q, self.high)}]"
        if self.low_q is None and self.low is None:
            return f"{self.variable} falls below {fmt(self.high_q, self.high)}"
        if self.high_q is None and self.high is None:
            return f"{self.variable} rises above {fmt(self.low_q, self.low)}"
        return f"{self.variable} lies in ({fmt(self.low_q, self.low)}, {fmt(self.high_q, self.high)})"


def _ordinal(q: float | None) -> str:
    pct = round(100 * (q or 0.0), 2)
    n = int(pct) if pct == int(pct) else pct
    suffix = "th" if isinstance(n, float) or 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def alias_resolver(variables: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None) -> Callable[[str], str]:
    """A name resolver over variable names and their aliases (case- and space-insensitive)."""
    table: dict[str, str] = {}
    for v in variables:
        table[_norm(v)] = v
        for a in (aliases or {}).get(v, ()):
            table[_norm(a)] = v

    def resolve(name: str) -> str:
        hit = table.get(_norm(name))
        if hit is None:
            raise GuardInputError(f"{name!r} is not a variable of this domain (nor an alias of one); variables: {', '.join(variables)}")
        return hit

    return resolve


def _norm(s: str) -> str:
    return re.sub(r"[\s_\-]+", "", s.strip().lower())


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_QTOK = rf"(?:q\s*(?P<{{g}}q>\d+(?:\.\d+)?)|(?P<{{g}}v>{_NUM}))"


def _qv(m: re.Match[str], g: str) -> tuple[float | None, float | None]:
    q, v = m.group(f"{g}q"), m.group(f"{g}v")
    if q is not None:
        qf = float(q) / 100.0
        if not 0.0 < qf < 1.0:
            raise GuardInputError(f"percentile q{q} must be strictly between q0 and q100")
        return qf, None
    return None, _finite(v)


def _finite(text: str) -> float:
    """A number that means something: '1e999' parses to infinity, which makes a harm certain or impossible."""
    x = float(text)
    if not math.isfinite(x):
        raise GuardInputError(f"{text} is not a finite number; give a value on the data's scale or a percentile like q10")
    return x


def parse_action(text: str, resolve: Callable[[str], str], *, inhibit_q: float = 0.05, activate_q: float = 0.95) -> Action:
    """Parse an action phrase; see the module docstring for the accepted forms."""
    t = text.strip()
    m = re.fullmatch(rf"do\s*\(\s*(?P<x>.+?)\s*(?:=|:=)\s*{_QTOK.format(g='a')}\s*\)", t, flags=re.I)
    if m:
        q, v = _qv(m, "a")
        return Action(resolve(m.group("x")), quantile=q, value=v, phrase=text)
    m = re.fullmatch(rf"shift\s+(?P<x>.+?)\s+by\s+(?P<s>{_NUM})(?:\s*sd)?", t, flags=re.I)
    if m:
        return Action(resolve(m.group("x")), shift=_finite(m.group("s")), phrase=text)
    low = t.lower()
    for verbs, q in ((INHIBIT_VERBS, inhibit_q), (ACTIVATE_VERBS, activate_q)):
        for verb in verbs:
            if low.startswith(verb + " ") or low.startswith(verb + "s "):
                name = t[len(verb) + (1 if low.startswith(verb + "s ") else 0):].strip()
                return Action(resolve(name), quantile=q, phrase=text)
    raise GuardInputError(f"cannot parse the action {text!r}; accepted forms: {ACTION_FORMS}")


def parse_harm(text: str, resolve: Callable[[str], str]) -> HarmEvent:
    """Parse a harm phrase; see the module docstring for the accepted forms."""
    t = text.strip()
    m = re.fullmatch(rf"(?P<y>.+?)\s+outside\s*[\[(]\s*{_QTOK.format(g='l')}\s*,\s*{_QTOK.format(g='h')}\s*[\])]", t, flags=re.I)
    if m:
        lq, lv = _qv(m, "l")
        hq, hv = _qv(m, "h")
        if (lq is not None and hq is not None and lq >= hq) or (lv is not None and hv is not None and lv >= hv):
            raise GuardInputError(f"in {text!r} the interval is empty or reversed: its lower end must be below its upper end, "
                                  "e.g. 'Y outside [q5, q95]'")
        return HarmEvent(resolve(m.group("y")), low_q=lq, low=lv, high_q=hq, high=hv, outside=True, phrase=text)
    m = re.fullmatch(rf"(?P<y>.+?)\s*(?P<op><=?|>=?)\s*{_QTOK.format(g='b')}", t, flags=re.I)
    if m:
        q, v = _qv(m, "b")
        y = resolve(m.group("y"))
        if m.group("op").startswith("<"):
            return HarmEvent(y, high_q=q, high=v, phrase=text)
        return HarmEvent(y, low_q=q, low=v, phrase=text)
    m = re.fullmatch(r"(?P<y>.+?)\s+(?P<dir>below|above)\s+its\s+(?P<p>\d+(?:\.\d+)?)(?:st|nd|rd|th)\s+percentile", t, flags=re.I)
    if m:
        q = float(m.group("p")) / 100.0
        if not 0.0 < q < 1.0:
            raise GuardInputError(f"percentile {m.group('p')} must be strictly between 0 and 100")
        y = resolve(m.group("y"))
        return HarmEvent(y, high_q=q, phrase=text) if m.group("dir").lower() == "below" else HarmEvent(y, low_q=q, phrase=text)
    raise GuardInputError(f"cannot parse the harm {text!r}; accepted forms: {HARM_FORMS}")
