"""Flag types and output paths, checked before anything runs or is written.

Every flag a user types is validated by argparse with one of these types, so a bad
value ends in exit 2 with the flag, the value and what is allowed, before any load
is sent. Output paths are checked the same way up front (the directory exists, a
file can be created there, the path is not a directory), so a run never spends ten
minutes of load to fail on writing its report; ``-`` means standard output.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from infra.config.pipeline import TOLERANCE
from infra.config.slo import MAX_USERS, run_time_refusal
from infra.config.types import duration_seconds, is_host
from infra.errors import ConfigError

from ..console import err, out
from ..report.comparison import Tolerance
from ..validation.outputs import STDOUT_NAMES

_URL = re.compile(r"https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/%-]*)?")
MAX_LOCAL_WORKERS_PER_CORE = 4
MAX_REMOTE_WORKERS = 1000


def duration(text: str) -> float:
    """A duration (``90s``, ``5m``); a bare whole number means seconds."""
    try:
        return duration_seconds(text if not text.isdigit() else f"{text}s")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 90s, 5m or 1h") from None


def positive_duration(text: str) -> float:
    seconds = duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return seconds


def run_time(text: str) -> float:
    """A validation's run time: the schema's bound on ``runTime`` (``infra.config.slo.MAX_RUN_TIME_S``)."""
    seconds = duration(text)
    refusal = run_time_refusal(seconds)
    if refusal is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {refusal}")
    return seconds


def users(text: str) -> int:
    """Users of a validation: 1 to the schema's bound on ``users`` (``infra.config.slo.MAX_USERS``)."""
    return _int_within(text, 1, MAX_USERS, "users (headroom:slo.users has the same bound)")


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_within(text: str, low: int, high: int, what: str) -> int:
    value = _int_at_least(text, low)
    if value > high:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {high} {what}")
    return value


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least {low}")
    return value


def positive_number(text: str) -> float:
    """A finite number above zero (``nan``, ``inf`` and ``0`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number above 0")
    return value


def growth_percent(text: str) -> float:
    """A traffic growth in percent: finite, above -100 (all traffic gone) and at most 10000 (a hundredfold)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not -100 < value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a percent above -100 and at most 10000 (50 = half as much again)")
    return value


def local_workers(text: str) -> int:
    """Local Locust worker processes: at most a few per core, or they only fight for the CPU."""
    value = non_negative_int(text)
    limit = MAX_LOCAL_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if value > limit:
        raise argparse.ArgumentTypeError(
            f"{text!r}: at most {limit} local workers on this machine ({os.cpu_count()} cores); "
            "spread more over other hosts with --remote-workers"
        )
    return value


def remote_workers(text: str) -> int:
    return _int_within(text, 0, MAX_REMOTE_WORKERS, "remote workers")


def host(text: str) -> str:
    """A hostname or IP address (a Locust master's): the schema's own rule (infra.config.types.is_host)."""
    if not is_host(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a hostname or IP address; expected e.g. 10.0.0.5 or locust-master")
    return text


def ip_address(text: str) -> str:
    """An address to listen on: an IP address (127.0.0.1, 0.0.0.0, ::1), as a socket binds it."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address; e.g. 127.0.0.1, 0.0.0.0 or ::1") from None
    return text


def locust_bind_address(text: str) -> str:
    """Where Locust's master listens for workers: an IP address, or ``*`` (every interface, Locust's own default)."""
    return text if text == "*" else ip_address(text)


def port(text: str) -> int:
    return _port(text, 1, "a port is 1-65535")


def port_or_free(text: str) -> int:
    """A port, or 0 for any free one."""
    return _port(text, 0, "a port is 0-65535 (0 picks a free one)")


def _port(text: str, low: int, allowed: str) -> int:
    value = _int_at_least(text, low)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: {allowed}")
    return value


def http_url(text: str) -> str:
    """A base URL to load: http:// or https://, a host, an optional port and path; nothing else."""
    if not _URL.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL; expected http://host[:port][/path], e.g. https://api.example.com"
        )
    return text


def check_output(path: Path | None, flag: str) -> None:
    """Refuse, before anything runs, an output path that cannot be written (exit 2)."""
    if path is None or str(path) in STDOUT_NAMES:
        return
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory; give a file name")
    parent = Path(os.path.realpath(path)).parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: the directory {parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".headroom-probe-", dir=parent)
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot create a file in {parent}: {error.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: Path, flag: str) -> None:
    """An output directory: an existing one, or one whose nearest existing parent is a writable directory."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: exists and is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag} {path}: {existing} is a file, not a directory")
    check_output(existing / "probe", flag)


def human_console(outputs: Mapping[str, Path | None]) -> Console:
    """Where a command's tables and messages go: standard output, unless one of ``outputs`` (flag -> path) is ``-``.

    Then standard output holds that machine format alone and everything for people goes to
    standard error, as ``kubectl -o json`` keeps its output to the JSON. Two formats cannot
    share standard output: exit 2, before anything runs.
    """
    to_stdout = [flag for flag, path in outputs.items() if path is not None and str(path) in STDOUT_NAMES]
    if len(to_stdout) > 1:
        raise ConfigError(f"{' and '.join(to_stdout)} all name standard output ({STDOUT_NAMES[0]}): only one output can go there")
    return err if to_stdout else out


def tolerance(text: str) -> Tolerance:
    """``--tolerance``: ``5%``, ``3ms``, or both (``5%,3ms``: the larger of the two for each row)."""
    percent: float | None = None
    ms: float | None = None
    parts = [_TOLERANCE.fullmatch(part) for part in text.split(",")]
    if not TOLERANCE.fullmatch(text) or len({match["unit"] for match in parts if match}) != len(parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tolerance; use e.g. 5%, 3ms or 5%,3ms")
    for match in parts:
        assert match is not None  # the whole text matched
        value = float(match["value"])
        if match["unit"] == "%":
            percent = value
        else:
            ms = value
    if percent is not None and percent >= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage tolerance must be below 100 %")
    return Tolerance(percent=percent, ms=ms)


_TOLERANCE = re.compile(r"(?P<value>[0-9]{1,6}(?:\.[0-9]{1,6})?)(?P<unit>%|ms)")
PERCENTILE_CHOICES = {"50": 50.0, "90": 90.0, "95": 95.0, "99": 99.0, "99.9": 99.9}


def percentiles(text: str) -> tuple[float, ...]:
    """``--percentiles 50,95,99``: which percentiles' differences a comparison judges, besides the shift."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in PERCENTILE_CHOICES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed percentiles are {', '.join(PERCENTILE_CHOICES)} "
                                         "(comma-separated)")
    return tuple(sorted({PERCENTILE_CHOICES[part] for part in chosen}))
