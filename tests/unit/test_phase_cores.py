"""How `scripts/test` splits the CPUs between its two phases (tests/phase_cores.py)."""

from __future__ import annotations

import pytest
from phase_cores import _parse_list, split


def test_two_cores_give_one_to_each_phase() -> None:
    assert split([0, 1], {0: frozenset({0}), 1: frozenset({1})}, quota=False) == ([0], [1])


def test_the_serial_phase_gets_half_the_cores_rounded_down() -> None:
    assert split([0, 1, 2, 3], {}, quota=False) == ([0, 1], [2, 3])
    assert split([0, 1, 2], {}, quota=False) == ([0, 1], [2])


def test_hyperthreads_of_one_core_stay_in_one_phase() -> None:
    # Two physical cores, each with two threads numbered as Linux often does: 0 and 2 share one, 1 and 3 the other.
    siblings = {0: frozenset({0, 2}), 2: frozenset({0, 2}), 1: frozenset({1, 3}), 3: frozenset({1, 3})}
    assert split([0, 1, 2, 3], siblings, quota=False) == ([0, 2], [1, 3])


def test_one_physical_core_runs_the_phases_one_after_the_other() -> None:
    assert "one physical core" in str(split([0], {}, quota=False))
    assert "one physical core" in str(split([4, 5], {4: frozenset({4, 5}), 5: frozenset({4, 5})}, quota=False))


def test_a_cpu_quota_runs_the_phases_one_after_the_other() -> None:
    assert "quota" in str(split([0, 1, 2, 3], {}, quota=True))


def test_only_the_cpus_allowed_are_given_out() -> None:
    # Allowed 2 and 3 of a host whose cores are {2, 6} and {3, 7}: a sibling outside the affinity is not used.
    assert split([2, 3], {2: frozenset({2, 6}), 3: frozenset({3, 7})}, quota=False) == ([2], [3])


@pytest.mark.parametrize(("text", "cpus"), [("0\n", [0]), ("0-3,8", [0, 1, 2, 3, 8]), ("1,3", [1, 3])])
def test_kernel_cpu_lists_are_read(text: str, cpus: list[int]) -> None:
    assert _parse_list(text) == cpus
