"""The HTTP client of a declared scenario's users: geventhttpclient's own ``HTTPClient``, without Locust's session.

Locust's FastHttpUser sends through ``FastHttpSession``, which wraps geventhttpclient's
``UserAgent``: a request object, a cookie jar consulted twice per request, a response wrapper
and a context manager around each call. Profiled at 5,000 arrivals/s, that wrapping was about
half of a request's CPU, more than headroom's dispatcher and recorder together; one request at a
time against a static nginx, ``FastHttpSession`` cost about 245 µs of CPU and the ``HTTPClient``
underneath it about 140 µs (bench/open_model_overhead.py, docs/benchmarks.md). A declared
scenario (``headroom:scenario.requests``) needs none of that wrapping: its requests, headers,
bodies and checks are known, so its users send through ``HTTPClient`` directly and fire
Locust's request event themselves, as Locust's guide to custom clients describes; each distinct
request head is built once (``HeadCachingClient``). A team's own locustfile keeps the clients it
chose.

What a ``LeanHttpSession`` keeps of FastHttpUser's behaviour, so a scenario means the same:
- one keep-alive connection per user, reused, retried once when the server closed it idle
  (``HTTPClient`` does this for idempotent methods);
- the connection and network timeouts (``--headroom-request-timeout``): past them the request
  fails with a timeout, as on FastHttpUser;
- the base URL's path as a prefix (``--host http://svc/api`` sends ``/api/orders``);
- TLS without certificate checks (Locust's ``FastHttpUser.insecure = True``);
- cookies the service sets, sent back on the user's later requests. Every request of a user
  goes to one origin, so a cookie's domain is not consulted; its path and expiry are not
  either (a session cookie is what a load scenario carries);
- redirects within the same origin, up to five (301, 302 and 303 become a GET, as browsers
  and python-requests do). A redirect to another origin is not followed: the 3xx answer is
  the request's, judged by its ``status`` (docs/scenarios.md).

Runs inside Locust (gevent); keep it free of anything that blocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from geventhttpclient.url import URL
from locust import User
from locust.env import Environment
from locust.event import EventHook

from .request_heads import HeadCachingClient

MAX_REDIRECTS = 5
"""As Locust's FastHttpSession (geventhttpclient's UserAgent default)."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BECOME_GET = frozenset({301, 302, 303})


class BadAnswerError(Exception):
    """A request that got an answer headroom judged bad (``HTTP 500``, ``bad body: ...``); its text is the label."""


_UNPARSED = object()


@dataclass(slots=True)
class Answer:
    """What came back: the status (0 when nothing did), the body, the transport error, and the judged failure."""

    status: int
    body: bytes
    error: BaseException | None = None
    failure: str | None = None
    """The judge's label for a bad answer (set by ``LeanHttpSession.request``), None for a good one."""
    _document: Any = field(default=_UNPARSED, repr=False)

    def json(self) -> Any:
        """The body as JSON (parsed once, for the checks and the captures); ValueError when it is not."""
        if self._document is _UNPARSED:
            self._document = json.loads(self.body)
        return self._document


Judge = Callable[[Answer], "str | None"]
"""Why an answer is bad (the failure's label), or None for a good one; it sees transport errors too."""

_HEADS_BY_BASE_URL: dict[str, dict[tuple[Any, ...], str]] = {}
"""The request heads of every user's client to one base URL: built alike, so one cache serves them all."""


class LeanHttpSession:
    """One user's connection to one origin; each ``request`` fires Locust's request event once."""

    def __init__(self, base_url: str, request_event: EventHook, connection_timeout: float, network_timeout: float) -> None:
        url = URL(base_url)
        self.base_url = base_url.rstrip("/")
        self.origin = (url.scheme, url.host, url.port)
        self._origin_url = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
        self.prefix = url.path.rstrip("/")
        self.client = HeadCachingClient.from_url(url, concurrency=1, insecure=True, connection_timeout=connection_timeout,
                                                 network_timeout=network_timeout,
                                                 heads=_HEADS_BY_BASE_URL.setdefault(self.base_url, {}))
        self.cookies: dict[str, str] = {}
        self._fire: Callable[..., Any] = request_event.fire  # Locust's fire is untyped

    def request(self, method: str, path: str, *, name: str, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, judge: Judge | None = None) -> Answer:
        """Send ``method path`` (under the base URL's path), judge the answer, record it; the answer.

        The latency is the exchange's (redirects included), measured before the answer is
        judged, as Locust measures a FastHttpUser request before its ``catch_response`` block.
        """
        started = time.time()
        clock = time.perf_counter()
        answer = self._exchange(method, self.prefix + path, headers or {}, body)
        elapsed_ms = (time.perf_counter() - clock) * 1000
        failure: BaseException | None = answer.error
        if judge is not None:
            answer.failure = judge(answer)
            failure = None if answer.failure is None else BadAnswerError(answer.failure)
        self._fire(request_type=method, name=name, response_time=elapsed_ms, response_length=len(answer.body),
                   exception=failure, context={}, start_time=started, url=self.base_url + path)
        return answer

    def close(self) -> None:
        self.client.close()

    def _exchange(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        """The answer to ``method target``, following same-origin redirects; ``headers`` is never changed."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                status, data, location = self._send_once(method, target, headers, body)
            except Exception as error:  # noqa: BLE001 - any transport error is this request's failure, as on FastHttpUser
                return Answer(0, b"", error)
            next_target = self._same_origin(target, location) if status in _REDIRECTS else None
            if next_target is None:
                return Answer(status, data)
            target = next_target
            if status in _BECOME_GET and method != "HEAD":
                method, body = "GET", None
                headers = {key: value for key, value in headers.items() if key.lower() != "content-type"}
        return Answer(status, data)  # the sixth redirect in a row: its own 3xx is the answer

    def _send_once(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> tuple[int, bytes, str | None]:
        if self.cookies:
            headers = {**headers, "Cookie": "; ".join(f"{key}={value}" for key, value in self.cookies.items())}
        response = self.client.request(method, target, body=body, headers=headers)
        try:
            data = response.read()
        finally:
            response.release()
        set_cookies = response.info().get_all("set-cookie")
        if set_cookies:
            self._keep_cookies(set_cookies)
        location = response.get("location")
        return response.status_code, data, location if isinstance(location, str) else None

    def _keep_cookies(self, values: list[str]) -> None:
        for value in values:
            try:
                cookie = SimpleCookie(value)
            except CookieError:
                continue  # a cookie Python cannot parse is dropped, as a browser drops one it cannot
            for key, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value

    def _same_origin(self, target: str, location: str | None) -> str | None:
        """The path (and query) to follow ``location`` to, or None when it leads elsewhere or nowhere."""
        if not location:
            return None
        resolved = urlsplit(urljoin(self._origin_url + target, location))  # target: the path sent, prefix included
        default_port = 443 if resolved.scheme == "https" else 80
        if (resolved.scheme, resolved.hostname, resolved.port or default_port) != self.origin:
            return None
        return (resolved.path or "/") + (f"?{resolved.query}" if resolved.query else "")


class LeanHttpUser(User):
    """A Locust user whose ``client`` is a ``LeanHttpSession`` to ``host``; the timeouts as FastHttpUser names them."""

    abstract = True
    connection_timeout: ClassVar[float] = 60.0
    network_timeout: ClassVar[float] = 60.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not self.host:
            raise ValueError("You must specify the base host. Either in the host attribute in the User class, "
                             "or on the command line using the --host option.")
        self.client = LeanHttpSession(self.host, environment.events.request, self.connection_timeout, self.network_timeout)

    def on_stop(self) -> None:
        self.client.close()
