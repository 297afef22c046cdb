"""Issue 15, harm and action phrases that parsed but meant nothing: a reversed or empty interval (the harm
is then certain), and numbers that overflow to infinity (the harm is then certain or impossible). Each is
refused with a GuardInputError (exit 2 on the command line) naming the accepted form."""
from __future__ import annotations

import pytest

from theorycov.coverage.guard.actions import GuardInputError, alias_resolver, parse_action, parse_harm

RESOLVE = alias_resolver(["Raf", "Mek", "Erk"])


@pytest.mark.parametrize(("phrase", "says"), [
    ("Erk outside [q95, q5]", "empty or reversed"),
    ("Erk outside [q50, q50]", "empty or reversed"),
    ("Erk outside [2, -2]", "empty or reversed"),
    ("Erk < 1e999", "1e999 is not a finite number"),
    ("Erk > -1e400", "-1e400 is not a finite number"),
    ("Erk outside [-1e999, 1]", "is not a finite number"),
])
def test_harms_that_mean_nothing_are_refused(phrase: str, says: str) -> None:
    with pytest.raises(GuardInputError, match=says):
        parse_harm(phrase, RESOLVE)


@pytest.mark.parametrize("phrase", ["do(Raf = 1e999)", "shift Raf by 1e999", "shift Raf by -1e999"])
def test_actions_with_infinite_values_are_refused(phrase: str) -> None:
    with pytest.raises(GuardInputError, match="not a finite number"):
        parse_action(phrase, RESOLVE)


def test_meaningful_phrases_still_parse() -> None:
    h = parse_harm("Erk outside [q5, q95]", RESOLVE)
    assert (h.variable, h.low_q, h.high_q, h.outside) == ("Erk", 0.05, 0.95, True)
    assert parse_harm("Erk outside [-2, 2.5]", RESOLVE).high == 2.5
    assert parse_harm("Erk outside [q5, 2]", RESOLVE).low_q == 0.05  # a percentile and a value: compared once resolved
    assert parse_action("shift Raf by -1", RESOLVE).shift == -1.0 and parse_action("do(Raf = 1.5e2)", RESOLVE).value == 150.0
