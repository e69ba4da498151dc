"""The lean client's request heads: built once per distinct request, byte for byte what geventhttpclient builds.

``HeadCachingClient`` keeps the head ``HTTPClient._build_request`` returns (loadtest/load/request_heads.py).
A kept head that differed from a freshly built one, or a refused head that got kept, would send
the wrong request for the rest of a run, so each case compares against the library's own client.
No connection is opened: building a head is pure.
"""

from __future__ import annotations

from typing import Any

import pytest
from geventhttpclient import HTTPClient

from loadtest.load.request_heads import HeadCachingClient

HOST, PORT = "127.0.0.1", 8080

CASES: list[tuple[str, str, dict[str, str] | None, Any]] = [
    ("GET", "/api/v1/items", None, b""),
    ("GET", "/api/v1/items?page=2", {}, b""),
    ("POST", "/api/v1/orders", {"Content-Type": "application/json"}, b'{"sku": "a-1"}'),
    ("POST", "/api/v1/orders", {"Content-Type": "application/json"}, b'{"sku": "a-12"}'),
    ("PUT", "/api/v1/orders/7", {"Authorization": "Bearer t", "Cookie": "sid=abc"}, b"{}"),
    ("GET", "/", {"Host": "svc.example"}, b""),
    ("DELETE", "/api/v1/orders/7", {"X-Request-Id": "1"}, b""),
]


def library_head(method: str, uri: str, headers: dict[str, str] | None, body: Any) -> str:
    return HTTPClient(HOST, port=PORT)._build_request(method, uri, body=body, headers=headers)


@pytest.mark.parametrize(("method", "uri", "headers", "body"), CASES)
def test_a_kept_head_is_the_library_s_byte_for_byte(method: str, uri: str, headers: dict[str, str] | None, body: Any) -> None:
    client = HeadCachingClient(HOST, port=PORT)
    first = client._build_request(method, uri, body=body, headers=headers)
    again = client._build_request(method, uri, body=body, headers=headers)
    assert first == library_head(method, uri, headers, body)
    assert again is first  # kept, not built again


def test_every_part_of_the_request_is_in_the_key() -> None:
    client = HeadCachingClient(HOST, port=PORT)
    for method, uri, headers, body in CASES:
        client._build_request(method, uri, body=body, headers=headers)
    for method, uri, headers, body in reversed(CASES):
        assert client._build_request(method, uri, body=body, headers=headers) == library_head(method, uri, headers, body)
    assert len(client._heads) == len(CASES)
    assert "Content-Length: 15" in client._build_request("POST", "/api/v1/orders", body=b"x" * 15,
                                                         headers={"Content-Type": "application/json"})


def test_a_refused_head_is_refused_every_time_and_never_kept() -> None:
    client = HeadCachingClient(HOST, port=PORT)
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid value for header field"):
            client._build_request("GET", "/", body=b"", headers={"X-Injected": "a\r\nSet-Cookie: b"})
        with pytest.raises(ValueError, match="invalid request URI"):
            client._build_request("GET", "/a b", body=b"", headers=None)
    assert client._heads == {}


def test_a_body_that_is_not_bytes_is_built_each_time() -> None:
    client = HeadCachingClient(HOST, port=PORT)
    blocks = [b"a", b"b"]
    head = client._build_request("POST", "/upload", body=blocks, headers={"Transfer-Encoding": "chunked"}, chunked=True)
    assert head == HTTPClient(HOST, port=PORT)._build_request("POST", "/upload", body=blocks,
                                                              headers={"Transfer-Encoding": "chunked"}, chunked=True)
    assert client._heads == {}


def test_the_cache_stays_bounded_when_every_path_is_new() -> None:
    client = HeadCachingClient(HOST, port=PORT)
    for order in range(HeadCachingClient.MAX_HEADS * 3):
        client._build_request("GET", f"/api/v1/orders/{order}", body=b"", headers=None)
    assert 0 < len(client._heads) <= HeadCachingClient.MAX_HEADS
    assert client._build_request("GET", "/api/v1/orders/1", body=b"", headers=None) == library_head(
        "GET", "/api/v1/orders/1", None, b"")


def test_clients_built_alike_share_one_cache() -> None:
    """A process holds a client per user: one cache for all of them, not 256 heads each."""
    shared: dict[tuple[object, ...], str] = {}
    first, second = HeadCachingClient(HOST, port=PORT, heads=shared), HeadCachingClient(HOST, port=PORT, heads=shared)
    head = first._build_request("GET", "/api/v1/items", body=b"", headers=None)
    assert second._build_request("GET", "/api/v1/items", body=b"", headers=None) is head
    assert len(shared) == 1
    assert HeadCachingClient(HOST, port=PORT)._heads is not shared
