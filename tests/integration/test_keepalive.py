"""A pooled keep-alive socket is judged by poll, so a descriptor above 1,023 is not taken for dead.

geventhttpclient's own check used select(), which refuses descriptors of 1,024 or more: every
connection of a Locust process with thousands of users was closed and reopened per request
(loadtest/load/keepalive.py, docs/benchmarks.md).
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator

import pytest

from loadtest.load.keepalive import is_socket_alive

HIGH_FD = 1500


@pytest.fixture
def high_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    os.dup2(ours.fileno(), HIGH_FD)
    ours.close()
    high = socket.socket(fileno=HIGH_FD)
    try:
        yield high, theirs
    finally:
        high.close()
        theirs.close()


def test_select_cannot_watch_the_descriptor(high_pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(ValueError):
        select.select([high_pair[0]], [], [], 0)


def test_an_idle_open_socket_is_alive(high_pair: tuple[socket.socket, socket.socket]) -> None:
    assert is_socket_alive(None, high_pair[0]) is True


def test_a_socket_the_peer_closed_or_wrote_to_is_not(high_pair: tuple[socket.socket, socket.socket]) -> None:
    high, theirs = high_pair
    theirs.send(b"unasked")
    assert is_socket_alive(None, high) is False
    high.recv(16)
    assert is_socket_alive(None, high) is True
    theirs.close()
    assert is_socket_alive(None, high) is False


def test_a_closed_or_missing_socket_is_not() -> None:
    closed = socket.socket()
    closed.close()
    assert is_socket_alive(None, closed) is False
    assert is_socket_alive(None, None) is False
