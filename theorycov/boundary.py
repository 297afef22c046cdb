"""What crosses the face's boundary: every argument checked on the way in, JSON kept JSON on the way out.

The API (:class:`theorycov.Project`), the command line and the dashboard call the same checks, so a value
one of them refuses the others refuse too, with the same message naming the accepted values. A check
returns the value in its canonical type or raises :class:`~theorycov.errors.InputError`; nothing is
clamped or replaced by a default (a threshold of 2 must not quietly mean "never block").

On the way out, :func:`dumps` writes JSON that standard parsers read: NaN and infinities become strings
(as ``coverage.report`` stores them), never the bare ``NaN`` Python's json module emits by default.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from theorycov.errors import InputError

__all__ = ["MAX_ID", "MAX_K", "bound_name", "choice", "dumps", "finite", "hits", "positive_float", "positive_int",
           "power", "record_id", "threshold"]

MAX_ID = 2**63 - 1  # the largest id SQLite and PostgreSQL BIGINT hold; above it a query overflows
MAX_K = 1_000  # search hits: a page of results, not a dump of the index


def threshold(value: object) -> float:
    """A blocking threshold: a probability strictly between 0 and 1. At 1 or above nothing is ever blocked,
    at 0 or below everything with any risk is; NaN compares false with everything (it would always allow)."""
    accepted = "a probability strictly between 0 and 1, e.g. 0.5"
    x = _number(value, "threshold", accepted)
    if not 0.0 < x < 1.0:
        raise InputError(f"threshold must be {accepted}; got {value!r}")
    return x


def bound_name(value: object) -> str:
    """The name of a Bound ('human', 'cautious', 'prop34', 'posterior', 'map'; 'prop46' means cautious)."""
    from theorycov.coverage.guard.estimators import Bound

    try:
        return Bound.parse(value).value  # type: ignore[arg-type]
    except ValueError as err:
        raise InputError(f"bound must be one of {', '.join(b.value for b in Bound)}; got {value!r}") from err


def record_id(value: object, what: str) -> int:
    """A stored row's id: a whole number from 1 to 2^63 - 1 (larger ones overflow the database's integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number from 1 to {MAX_ID}; got {value!r}")
    if not 1 <= value <= MAX_ID:
        raise InputError(f"{what} must be a whole number from 1 to {MAX_ID}; got {value}")
    return value


def hits(value: object) -> int:
    """The number of search hits: 1 to MAX_K."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InputError(f"k (the number of hits) must be a whole number from 1 to {MAX_K}; got {value!r}")
    return value


def positive_int(value: object, what: str, *, maximum: int = MAX_ID) -> int:
    """A whole number from 1 to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InputError(f"{what} must be a whole number from 1 to {maximum}; got {value!r}")
    return value


def positive_float(value: object, what: str) -> float:
    """A finite number above 0."""
    accepted = "a finite number above 0"
    x = _number(value, what, accepted)
    if not x > 0.0:
        raise InputError(f"{what} must be {accepted}; got {value!r}")
    return x


def power(value: object) -> float:
    """The likelihood power eta in (0, 1]: 1 is exact Bayes, below 1 tempers a misspecified model."""
    what, accepted = "power (the likelihood power eta)", "in (0, 1]: 1 is exact Bayes"
    x = _number(value, what, accepted)
    if not 0.0 < x <= 1.0:
        raise InputError(f"{what} must be {accepted}; got {value!r}")
    return x


def choice(value: object, what: str, options: Iterable[str]) -> str:
    """One of ``options`` (exact, case-insensitive)."""
    opts = tuple(options)
    text = str(value).strip().lower()
    if text not in opts:
        raise InputError(f"{what} must be one of {', '.join(opts)}; got {value!r}")
    return text


def _number(value: object, what: str, accepted: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"{what} must be {accepted}; got {value!r}")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{what} must be {accepted}; got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{what} must be {accepted}; got {value!r}")
    return x


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity written as a string ('nan', 'inf', '-inf'), recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kw: Any) -> str:
    """JSON that every parser reads: non-finite numbers as strings, and a ValueError rather than NaN."""
    return json.dumps(finite(obj), allow_nan=False, default=str, **kw)
