"""Each replica's concurrency from nginx's per-upstream log, without the application's cooperation.

The local stack of a team's own command writes one line per request
(``log_format headroom_upstream '$msec $upstream_addr $upstream_response_time'``):
when nginx finished the request, and for every upstream it tried, how long that upstream
held it. A replica's requests in flight, averaged over a window, is the time its requests
spent inside it divided by the window's length: Little's law (L = lambda x W, summed over
the requests rather than as a product of two means). Each request's span
``[end - response time, end]`` is clipped to the window, so requests that straddle its
edges count for the part inside it.

nginx writes several upstreams when it passed a request on (``proxy_next_upstream``):
``"a, b"`` with times ``"t1, t2"``, in order; ``" : "`` separates the groups of an internal
redirect. Only the last upstream's time ends at ``$msec``; an earlier attempt is placed
just before it, which is exact enough for a window-long average. ``-`` (no answer timed)
adds nothing. Documented in nginx's ngx_http_upstream_module: ``$upstream_addr``,
``$upstream_response_time``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class UpstreamLoad:
    """One upstream's requests over a window: the seconds they held it and how many ended inside it."""

    busy_seconds: float = 0.0
    requests: int = 0
    busy_by_bucket: dict[int, float] = field(default_factory=dict)
    """Bucket index (``(t - start) // bucket_s``) -> busy seconds inside that bucket."""

    def concurrency(self, window_s: float) -> float:
        """Requests in flight on average over a window of ``window_s`` seconds."""
        return self.busy_seconds / window_s if window_s > 0 else 0.0


def parse_line(line: str) -> tuple[float, list[tuple[str, float]]] | None:
    """(end time, [(upstream, seconds held)]) of one log line; None for a line that is not one.

    Both lists may hold spaces (``"a, b : c"``), so the line is read as its items: the
    addresses, then as many times.
    """
    tokens = line.split()
    if not tokens:
        return None
    end_text, *rest = tokens
    items = [part.rstrip(",") for part in rest if part != ":"]  # ":" separates the groups of a redirect
    try:
        end = float(end_text)
    except ValueError:
        return None
    if not items or len(items) % 2:
        return None
    half = len(items) // 2
    held = []
    for address, seconds in zip(items[:half], items[half:], strict=True):
        try:
            value = float(seconds)
        except ValueError:
            continue  # "-": nginx did not time this attempt
        if value >= 0:
            held.append((address, value))
    return end, held


def upstream_loads(lines: Iterable[str], start: float, stop: float, bucket_s: float = 2.0) -> dict[str, UpstreamLoad]:
    """Every upstream's load over ``[start, stop]`` (epoch seconds) from the log's lines."""
    loads: dict[str, UpstreamLoad] = {}
    for line in lines:
        parsed = parse_line(line)
        if parsed is None:
            continue
        end, held = parsed
        for address, seconds in reversed(held):  # the last attempt ends at $msec, earlier ones before it
            begin = end - seconds
            load = loads.setdefault(address, UpstreamLoad())
            inside = min(end, stop) - max(begin, start)
            if inside > 0:
                load.busy_seconds += inside
                _add_to_buckets(load.busy_by_bucket, max(begin, start), min(end, stop), start, bucket_s)
            if start <= end <= stop:
                load.requests += 1
            end = begin
    return loads


def _add_to_buckets(buckets: dict[int, float], begin: float, end: float, start: float, bucket_s: float) -> None:
    index = int((begin - start) // bucket_s)
    while begin < end:
        edge = min(end, start + (index + 1) * bucket_s)
        buckets[index] = buckets.get(index, 0.0) + (edge - begin)
        begin, index = edge, index + 1


@dataclass
class RunningTotals:
    """Every upstream's requests and the seconds they held it, since the first line folded in.

    For a controller that reads a replica's counters as they grow (``loadtest.local.meters``),
    as an autoscaler reads a pod's request counter: a request counts whole when nginx logged
    it, at its end, which over a 15 s sync period is what a counter scraped then would hold.
    """

    busy_seconds: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def add(self, lines: Iterable[str]) -> None:
        for line in lines:
            parsed = parse_line(line)
            if parsed is None:
                continue
            for address, seconds in parsed[1]:  # each upstream tried counts it, as its own counter would
                self.busy_seconds[address] = self.busy_seconds.get(address, 0.0) + seconds
                self.requests[address] = self.requests.get(address, 0) + 1
