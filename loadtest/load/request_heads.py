"""geventhttpclient's ``HTTPClient``, building each distinct request head once: the lean client's transport.

Apart from ``lean_http`` so that it imports geventhttpclient alone, not Locust (whose import
patches the standard library for gevent): its tests run in the unit tier's own processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any, ClassVar

from geventhttpclient import HTTPClient
from geventhttpclient.header import HeadersDataType

Body = str | bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes] | None
"""What ``HTTPClient`` takes as a body (its own annotation)."""


class HeadCachingClient(HTTPClient):
    """geventhttpclient's ``HTTPClient``, building each distinct request head once instead of per request.

    ``HTTPClient.request`` builds the head on every call: the request line, the default and
    given headers merged, each name and value checked against HTTP's grammar, ``Host`` and
    ``Content-Length``. Keeping it saved 4 to 9 µs of the 88 to 91 µs of CPU a request cost one
    at a time against nginx (bench/open_model_overhead.py, part 2; docs/benchmarks.md).

    A declared request without variables sends the same head every time, so the head built by
    the library's own ``_build_request`` is kept, keyed by everything that goes into it (the
    client's own defaults are fixed for its life). What ``_build_request`` refuses it still
    refuses: a refused head is never kept. The head of a body that is not bytes (a file, an
    iterable) is built each time, since its length cannot key it. The cache is bounded: a path
    with variables, or a new cookie, makes a new head.

    ``heads`` lets clients built alike (same URL, same defaults) share one cache: a Locust process
    holds a client per user, and each user keeping its own 256 heads of a path with variables
    would hold about 120 MB per thousand users (measured with tracemalloc).
    """

    MAX_HEADS: ClassVar[int] = 256

    def __init__(self, *args: Any, heads: dict[tuple[Any, ...], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[tuple[Any, ...], str] = {} if heads is None else heads

    def _build_request(self, method: str, request_uri: str, body: Body = b"", headers: HeadersDataType | None = None,
                       chunked: bool | None = None) -> str:
        if not isinstance(body, bytes) or not isinstance(headers, dict | None):
            return super()._build_request(method, request_uri, body=body, headers=headers, chunked=chunked)
        key = (method, request_uri, tuple(headers.items()) if headers else (), len(body), chunked)
        head = self._heads.get(key)
        if head is None:
            head = super()._build_request(method, request_uri, body=body, headers=headers, chunked=chunked)
            if len(self._heads) >= self.MAX_HEADS:
                self._heads.clear()
            self._heads[key] = head
        return head
