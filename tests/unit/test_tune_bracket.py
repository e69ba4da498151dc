"""tune's bracket, round by round: a PASS at N is kept only next to a measured non-PASS at N-1."""

from __future__ import annotations

from loadtest.analysis.floors import Floor
from loadtest.commands.tune import Bracket

NO_FLOOR = Floor(1, "availability floor 1: no floor stated (headroom:capacity.minReplicas)")


def test_a_fail_already_measured_closes_the_bracket() -> None:
    bracket = Bracket(NO_FLOOR, rounds=3)
    assert bracket.settle(1, 1, "FAIL") == (False, None)  # the proposal is applied as before
    assert bracket.settle(2, 2, "PASS") == (True, None)
    assert bracket.summary == "2 passes, 1 fails, measured"


def test_a_jump_is_bracketed_from_below_and_a_lower_pass_wins() -> None:
    bracket = Bracket(NO_FLOOR, rounds=4)
    bracket.settle(1, 1, "FAIL")
    assert bracket.settle(2, 4, "PASS") == (False, 3)  # try 3
    assert bracket.settle(3, 3, "PASS") == (False, 2)  # 3 passed too: try 2
    assert bracket.settle(4, 2, "FAIL") == (True, 3)  # 2 fails: back to 3
    assert bracket.summary == "3 passes, 2 fails, measured" and bracket.passed == 3


def test_inconclusive_below_keeps_the_higher_count() -> None:
    bracket = Bracket(NO_FLOOR, rounds=3)
    bracket.settle(1, 3, "PASS")
    assert bracket.settle(2, 2, "INCONCLUSIVE") == (True, 3)
    assert bracket.summary == "3 passes, 2 is INCONCLUSIVE, measured; 3 is kept (one fewer was not shown to fail)"


def test_the_floor_and_the_rounds_bound_it() -> None:
    floored = Bracket(Floor(2, "availability floor 2: headroom:capacity.minReplicas"), rounds=3)
    assert floored.settle(1, 2, "PASS") == (True, None)
    assert "1 is below the availability floor 2: headroom:capacity.minReplicas" in floored.summary
    short = Bracket(NO_FLOOR, rounds=2)
    short.settle(1, 1, "FAIL")
    assert short.settle(2, 3, "PASS") == (True, None)
    assert short.summary == "3 passes; 2 not measured (--rounds 2 reached)"
