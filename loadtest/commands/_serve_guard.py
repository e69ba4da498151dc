"""What ``headroom serve`` checks before it reads a request, and the bound on its connections.

serve makes this machine send load, so a request must come from a client that meant it:

- **DNS rebinding.** A web page can make a browser send requests to 127.0.0.1 under
  its own host name, once that name resolves to 127.0.0.1. So on a loopback address
  (always the case with ``--no-auth``) the ``Host`` header must name the bound address
  or a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``), with serve's port if
  any. On other addresses the bearer token is required, which a page cannot send, and
  the cluster calls serve by whatever name its Service has.
- **Cross-site requests.** A page can POST to any address without asking (a "simple"
  request: ``text/plain``, no custom header). So every POST must say
  ``Content-Type: application/json``, which a page cannot send cross-origin without a
  CORS preflight that serve never answers, and a request whose ``Origin`` is not
  serve's own address is refused. Flagger sends ``application/json`` and no Origin;
  curl needs ``-H 'Content-Type: application/json'``.
- **Bodies.** At most ``MAX_BODY_BYTES`` (checked in the handler) and at most
  ``MAX_JSON_DEPTH`` levels of nesting, checked on the bytes before parsing (Python's
  parser recurses: 30,000 ``[`` end in RecursionError).
- **Connections.** At most ``MAX_CONNECTIONS`` at once, each a thread; one more is
  answered 503 at once and closed, so slow clients cannot pile up threads.
- **Logs.** Request lines are logged with control characters escaped: a request line
  may carry terminal escape codes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

MAX_JSON_DEPTH = 32
MAX_CONNECTIONS = 64
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?")
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def host_refusal(host: str | None, bind: str, port: int) -> str | None:
    """Why the ``Host`` header is refused on a loopback bind, or None; any host passes on other binds."""
    if not ipaddress.ip_address(bind).is_loopback:
        return None
    match = _HOST.fullmatch(host or "")
    bound = f"[{bind}]" if ":" in bind else bind
    names = {*LOOPBACK_NAMES, bound}
    if match is None or match.group(1).lower() not in names or (match.group(2) is not None and int(match.group(2)) != port):
        return (f"Host {printable(host or '')!r} is not this server's address: on {bound} serve answers only "
                f"{', '.join(sorted(names))} (with port {port}), so a web page cannot reach it by another name")
    return None


def origin_refusal(origin: str | None, host: str | None) -> str | None:
    """Why the ``Origin`` header is refused (a page on another site), or None (none sent, or serve's own)."""
    if origin is None:
        return None
    if host and origin.lower() in (f"http://{host.lower()}", f"https://{host.lower()}"):
        return None
    return f"cross-origin requests are refused (Origin {printable(origin)!r}): serve is an API, not a web page's"


def content_type_refusal(content_type: str | None) -> str | None:
    """Why a POST's ``Content-Type`` is refused, or None for ``application/json`` (parameters allowed)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return None
    return (f"a POST body must be JSON sent as Content-Type: application/json (got {printable(content_type or 'none')!r}); "
            "e.g. curl -H 'Content-Type: application/json' -d '{...}'")


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests objects and arrays deeper than ``limit``, read without parsing it."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def printable(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1) written as ``\\xNN``, safe for a terminal or a log."""
    return text.translate(_CONTROL)


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``MAX_CONNECTIONS`` at once; one more gets 503 and is closed.

    A connection's failure (a client that stopped sending, a reset) is one log line, not a traceback.
    """

    daemon_threads = True
    request_queue_size = 128
    """The listen backlog. socketserver's default, 5, overflows whenever connections arrive faster than
    a thread per connection starts: each one past it waited for the client's SYN to be sent again,
    a second later (a burst of 150 took 25 s to connect; tests/integration/test_serve.py)."""

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int = MAX_CONNECTIONS) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _answer_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        where = client_address[0] if isinstance(client_address, tuple) else "?"
        sys.stderr.write(f"serve: {where}: connection failed: {type(error).__name__}\n")


def _answer_busy(request: socket.socket) -> None:
    """503 without waiting on the client: a full connection table must not block the accepting thread."""
    body = b'{"error": "too many connections; retry later"}\n'
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Retry-After: 1\r\nConnection: close\r\n\r\n").encode()
    try:
        request.setblocking(False)
        request.send(head + body)
    except OSError:
        pass
