"""Traffic over time, one value per second: users who think (closed loop) or a request rate (open loop).

The seed's profiles are users, as Locust runs them; the simulator turns users into a
request rate each second with Little's law, U / (Z + R), R being the response time
the simulated service gives at that moment, so a slow service is offered less. A
recorded traffic file is a request rate: production's arrivals do not wait for
production's responses.

- normal: ramp to the SLO's users over its ramp time, hold to the end of its run time
  (the seed's users, 1-3 s apart: Z = 2 s);
- spike: the SLO's users steady for a minute, a surge to ``spikeFactor`` times them at
  ``spikeUsersPerSecond`` (the seed's spike users, Z = 1 s), held ``spikeHoldSeconds``,
  then back to the SLO's users long enough to watch the scale-in;
- stress: as normal, with the seed's stress users (Z = 0.3 s);
- a CSV file of ``timestamp,rps`` rows (seconds or ISO 8601 times; a header row is
  allowed); each rate holds until the next row's time. When the rows carry a time of day
  (ISO 8601, or Unix epoch seconds), ``start`` keeps the first row's, so the plan's charts
  and actions read in time of day, in the file's own time zone.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.config import StackConfig
from infra.errors import ConfigError

from ..scenario.profiles import PROFILES, spike_load

MAX_TRAFFIC_SECONDS = 7 * 86_400
MAX_RATE_RPS = 1e9
"""A billion requests per second: above any real service, and far from overflowing the simulator's sums."""
SPIKE_LEAD_S = 60
EPOCH_AFTER_S = 1e9
"""A numeric timestamp this large (September 2001 on) is Unix epoch seconds, so a time of day; smaller ones are offsets."""


@dataclass(frozen=True)
class Traffic:
    name: str
    description: str
    users: tuple[float, ...] = ()
    """Users per second (closed loop); empty for a rate file."""
    think_s: float = 0.0
    rates: tuple[float, ...] = ()
    """Requests per second (open loop); empty for a user profile."""
    start: datetime | None = None
    """The time of day of second 0, when the traffic file says it (ISO 8601 or epoch timestamps)."""

    def clock(self, second: float) -> str | None:
        """``second`` as a time of day (HH:MM:SS in the file's zone), or None without one."""
        if self.start is None:
            return None
        return (self.start + timedelta(seconds=second)).strftime("%H:%M:%S")

    @property
    def closed_loop(self) -> bool:
        return bool(self.users)

    @property
    def seconds(self) -> int:
        return len(self.users) or len(self.rates)

    def offered(self, second: int, response_s: float) -> float:
        """The request rate in ``second``: the file's, or Little's law on the users."""
        if self.users:
            return self.users[second] / (self.think_s + response_s)
        return self.rates[second]


def grown(traffic: Traffic, percent: float) -> Traffic:
    """The traffic scaled by ``1 + percent / 100`` in every second: users for a profile, the request rate for a file.

    Growth is stated as more of the same traffic (the same shape and think time), the
    question a capacity review asks of last month's peak: "and with 30 % more?".
    """
    if percent == 0:
        return traffic
    factor = 1 + percent / 100
    return Traffic(traffic.name, f"{traffic.description}, grown by {percent:g} % (x {factor:g})",
                   users=tuple(u * factor for u in traffic.users), think_s=traffic.think_s,
                   rates=tuple(min(MAX_RATE_RPS, r * factor) for r in traffic.rates), start=traffic.start)


def _ramp(users: float, ramp_s: float, hold_until_s: float) -> list[float]:
    total = max(1, math.ceil(hold_until_s))
    if ramp_s <= 0:
        return [float(users)] * total
    return [min(float(users), users * (t + 1) / ramp_s) for t in range(total)]


def profile(name: str, config: StackConfig, users: int | None = None) -> Traffic:
    """One of the seed's profiles, for this stack's SLO (and ``users`` if given)."""
    slo = config.slo
    count = users if users is not None else slo.users
    if name == "spike":
        return _spike(config, count)
    spec = PROFILES[name]
    timeline = _ramp(count, slo.ramp_duration_seconds, slo.run_seconds)
    return Traffic(
        name, f"{spec.description}; {count} users over {slo.ramp_duration_seconds:g} s, held to {slo.run_seconds:g} s",
        users=tuple(timeline), think_s=spec.mean_think_time_s,
    )


def _spike(config: StackConfig, base: int) -> Traffic:
    """The spike the capacity model sizes the maximum for (``spike_load``), with a surge and a tail to watch."""
    capacity = config.capacity
    spike = spike_load(base, capacity.spike_factor, PROFILES["normal"].mean_think_time_s)
    peak = spike.users
    surge_s = (peak - base) / capacity.spike_users_per_second
    tail_s = max(capacity.spike_hold_seconds, config.hpa.scale_down.stabilization_window_seconds + 120)
    timeline: list[float] = [float(base)] * SPIKE_LEAD_S
    timeline += [min(peak, base + capacity.spike_users_per_second * (t + 1)) for t in range(math.ceil(surge_s))]
    timeline += [float(peak)] * capacity.spike_hold_seconds
    timeline += [float(base)] * tail_s
    return Traffic(
        "spike",
        f"{base} users, then a surge to {spike.describe()}, at {capacity.spike_users_per_second:g} users/s, held "
        f"{capacity.spike_hold_seconds} s, then {base} again for {tail_s} s (users {PROFILES['spike'].wait_min_s:g}-"
        f"{PROFILES['spike'].wait_max_s:g} s apart)",
        users=tuple(timeline), think_s=spike.think_s,
    )


def locust_run(name: str, users: int, spawn_rate: float, run_time_s: float) -> Traffic:
    """What a `headroom validate` run offers: ``users`` started at ``spawn_rate``, held to the run time."""
    spec = PROFILES[name]
    return Traffic(
        f"validate --profile {name}", f"{users} users at {spawn_rate:g}/s for {run_time_s:g} s",
        users=tuple(_ramp(users, users / spawn_rate, run_time_s)), think_s=spec.mean_think_time_s,
    )


def read_csv(path: Path) -> Traffic:
    """A recorded traffic file, as the mean rate of each second (each row's rate holds until the next row).

    Rows closer than a second apart are not dropped: each second's rate is the time-weighted
    mean of every row that covers part of it, so 0.5 s rows alternating 0 and 2000 req/s
    give 1000 req/s, the rate those requests really arrived at.
    """
    rows = _parse_rows(path)
    if len(rows) < 1:
        raise ConfigError(f"{path}: no traffic rows (expected lines of timestamp,rps)")
    start = rows[0][0]
    step = rows[1][0] - rows[0][0] if len(rows) > 1 else 1.0
    end = rows[-1][0] + step
    if end - start > MAX_TRAFFIC_SECONDS:
        raise ConfigError(f"{path}: the file spans {end - start:.0f} s; at most {MAX_TRAFFIC_SECONDS} s (7 days) can be simulated")
    rates = [0.0] * max(1, math.ceil(end - start - 1e-9))
    for index, (at, rate) in enumerate(rows):
        until = rows[index + 1][0] if index + 1 < len(rows) else end
        _spread(rates, at - start, until - start, rate)
    begins = _start_of(path)
    span = f"from {begins:%Y-%m-%d %H:%M:%S}" if begins is not None else f"over {len(rates)} s"
    return Traffic(path.name, f"recorded traffic from {path} ({len(rows)} rows {span}, {len(rates)} s)", rates=tuple(rates),
                   start=begins)


def _start_of(path: Path) -> datetime | None:
    """The first row's time of day: its ISO 8601 time as written (zone included), or epoch seconds in UTC."""
    for fields in csv.reader(path.read_text(encoding="utf-8").splitlines()):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#") or len(fields) != 2:
            continue
        if _number(fields[1]) is None:
            continue  # the header
        stamp = fields[0].strip()
        seconds = _number(stamp)
        if seconds is not None:
            return datetime.fromtimestamp(seconds, UTC) if seconds >= EPOCH_AFTER_S else None
        return datetime.fromisoformat(stamp)
    return None


def _spread(rates: list[float], begin: float, end: float, rate: float) -> None:
    """Add ``rate`` held over [begin, end) seconds to each whole second's mean rate."""
    second = int(begin)
    while second < len(rates) and second < end:
        overlap = min(end, second + 1) - max(begin, second)
        rates[second] += rate * overlap
        second += 1


def _parse_rows(path: Path) -> list[tuple[float, float]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--traffic {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--traffic {path}: cannot read it: {error}") from None
    rows: list[tuple[float, float]] = []
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) != 2:
            raise ConfigError(f"{path}:{number}: expected two columns, timestamp,rps; got {len(fields)}: {','.join(fields)!r}")
        if not rows and _number(fields[1]) is None:
            continue  # a header row
        rows.append(_parse_row(path, number, fields[0].strip(), fields[1].strip()))
        if len(rows) > 1 and rows[-1][0] <= rows[-2][0]:
            raise ConfigError(f"{path}:{number}: timestamp {fields[0].strip()!r} is not after the previous row's; rows must be in time order")
    return rows


def _parse_row(path: Path, number: int, stamp: str, rate: str) -> tuple[float, float]:
    rps = _number(rate)
    if rps is None or not math.isfinite(rps) or not 0 <= rps <= MAX_RATE_RPS:
        raise ConfigError(f"{path}:{number}: rps {rate!r} must be a number from 0 to {MAX_RATE_RPS:g} (requests per second)")
    seconds = _number(stamp)
    if seconds is not None:
        if not math.isfinite(seconds):
            raise ConfigError(f"{path}:{number}: timestamp {stamp!r} must be a finite number of seconds or an ISO 8601 time")
        return seconds, rps
    try:
        return datetime.fromisoformat(stamp).timestamp(), rps
    except ValueError:
        raise ConfigError(
            f"{path}:{number}: timestamp {stamp!r} must be seconds or an ISO 8601 time (2026-11-28T09:00:00Z)"
        ) from None


def _number(text: str) -> float | None:
    """``text`` as a float (``nan`` and ``inf`` included: callers judge finiteness), or None."""
    try:
        return float(text)
    except ValueError:
        return None
