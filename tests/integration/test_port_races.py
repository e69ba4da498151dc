"""PortRaces: a child that lost its port to another process starts again, a few times; any other failure does not."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from loadtest.processes import PortRaces, free_port


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port a listening socket holds, as another process's would."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_held_port_is_a_lost_race_until_the_budget_is_spent(held_port: int) -> None:
    notes: list[str] = []
    races = PortRaces(retries=2, note=notes.append)
    assert [races.lost(held_port, "nginx") for _ in range(3)] == [True, True, False]
    expected = f"note: another process took port {held_port} before nginx bound it; starting nginx again on a new port"
    assert notes == [expected] * 2


def test_a_child_that_exited_with_its_port_free_failed_for_its_own_reason() -> None:
    races = PortRaces(retries=1)
    assert not races.lost(free_port(), "replica 0")
    assert races.retries_left == 1  # nothing spent: the next lost race still has its chance


def test_the_callers_own_evidence_decides_over_the_port(held_port: int) -> None:
    races = PortRaces(retries=3)
    assert not races.lost(held_port, "Locust's master", held=False)  # its log says it failed for another reason
    assert races.lost(free_port(), "Locust's master", held=True)  # its log says the bind failed; the holder has gone
    assert races.retries_left == 2
