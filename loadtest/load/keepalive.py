"""Keep-alive connections that stay alive above 1,024 open files (the closed model at thousands of users).

Locust's FastHttpUser pools its connections with geventhttpclient, which checks an idle
connection before reusing it with ``select.select([sock], [], [], 0)``. ``select`` cannot
watch a file descriptor of 1,024 or more (FD_SETSIZE): it raises ValueError, which the
check reads as "dead", so the connection is closed and a new one opened (a connect, and a
name lookup in gevent's thread pool) for nearly every request of a process that holds more
than about 1,000 connections. That, not the users' idleness, is most of why a request cost
~75 us at full speed with 32 users and ~500 us with thousands (issue 14; docs/benchmarks.md).

``poll`` has no such limit. The check here asks the same question (is the idle socket
readable, which means the server closed it or sent something unasked?) with the original
(un-monkey-patched) ``select.poll`` and a zero timeout, so it never blocks the event loop.
"""

from __future__ import annotations

import select
from typing import Any

from gevent import monkey
from geventhttpclient.connectionpool import ConnectionPool

_poll = monkey.get_original("select", "poll")
_READABLE_OR_GONE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def is_socket_alive(_pool: Any, sock: Any) -> bool:
    """True when an idle pooled socket can be reused: open, and nothing (not even EOF) waiting to be read."""
    if sock is None:
        return False
    try:
        descriptor = sock.fileno()
        if descriptor < 0:
            return False
        poller = _poll()
        poller.register(descriptor, _READABLE_OR_GONE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def patch_connection_check() -> None:
    """Replace geventhttpclient's select-based liveness check (once; importing twice is harmless)."""
    if getattr(ConnectionPool, "_is_socket_alive", None) is not is_socket_alive:
        setattr(ConnectionPool, "_is_socket_alive", is_socket_alive)  # noqa: B010 - replacing the library's method on purpose
