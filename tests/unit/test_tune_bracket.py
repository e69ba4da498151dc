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


def test_a_jump_is_bracketed_by_halving_the_gap_and_a_lower_pass_wins() -> None:
    bracket = Bracket(NO_FLOOR, rounds=4)
    bracket.settle(1, 1, "FAIL")
    assert bracket.settle(2, 5, "PASS") == (False, 3)  # between the FAIL at 1 and the PASS at 5
    assert bracket.settle(3, 3, "PASS") == (False, 2)  # 3 passed too: between 1 and 3
    assert bracket.settle(4, 2, "FAIL") == (True, 3)  # 2 fails: back to 3
    assert bracket.summary == "3 passes, 2 fails, measured" and bracket.passed == 3


def test_an_over_provisioned_start_probes_the_model_s_count_first() -> None:
    """From 4 replicas where 2 is the answer: 3 rounds (4, then the model's 2, then 1), not 4."""
    bracket = Bracket(NO_FLOOR, rounds=3)
    assert bracket.settle(1, 4, "PASS", model=2) == (False, 2)
    assert bracket.settle(2, 2, "PASS", model=2) == (False, 1)
    assert bracket.settle(3, 1, "FAIL", model=2) == (True, 2)
    assert bracket.summary == "2 passes, 1 fails, measured"


def test_a_model_count_that_fails_is_bisected_back_up() -> None:
    bracket = Bracket(NO_FLOOR, rounds=5)
    assert bracket.settle(1, 8, "PASS", model=2) == (False, 2)
    assert bracket.settle(2, 2, "FAIL") == (False, 5)
    assert bracket.settle(3, 5, "FAIL") == (False, 6)
    assert bracket.settle(4, 6, "PASS") == (True, None)  # 6 is in the stack file already
    assert bracket.summary == "6 passes, 5 fails, measured"


def test_the_model_never_sends_it_below_the_floor_or_above_n_minus_one() -> None:
    floored = Bracket(Floor(3, "availability floor 3: headroom:capacity.minReplicas"), rounds=4)
    assert floored.settle(1, 6, "PASS", model=1) == (False, 3)
    assert Bracket(NO_FLOOR, rounds=4).settle(1, 6, "PASS", model=9) == (False, 5)


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
