"""What the installed nginx can parse of a rendered nginx.conf, and which nginx that is.

The cluster's nginx.conf re-resolves the app's headless Service (`server NAME resolve`
with a `resolver` in the upstream block), which open-source nginx parses from 1.27.3
on. Debian's nginx here is 1.22: for it, ``parseable_by`` drops exactly those lines and
parameters, so `nginx -t` still checks everything else the template renders. The parts
it drops are checked where nginx can run them, and `tests/integration/test_traffic_path.py`
says plainly when it cannot.
"""

from __future__ import annotations

import functools
import re
import subprocess

RESOLVE_SINCE = (1, 27, 3)
_RESOLVER_LINE = re.compile(r"^\s*resolver(?:_timeout)? [^\n]*;\n", re.MULTILINE)
_RESOLVED_SERVER = re.compile(r"^(\s*server )\S+?(:[0-9]+) resolve ", re.MULTILINE)


@functools.cache
def nginx_version(binary: str) -> tuple[int, int, int]:
    """`nginx -v` prints 'nginx version: nginx/1.22.1' on stderr."""
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=30, check=True)
    match = re.search(r"nginx/([0-9]+)\.([0-9]+)\.([0-9]+)", result.stderr)
    assert match, result.stderr
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def can_resolve(binary: str) -> bool:
    return nginx_version(binary) >= RESOLVE_SINCE


def without_resolve(conf: str) -> str:
    """The conf with the re-resolving parts taken out: no resolver lines, the server on 127.0.0.1 without `resolve`."""
    return _RESOLVED_SERVER.sub(r"\g<1>127.0.0.1\g<2> ", _RESOLVER_LINE.sub("", conf))


def parseable_by(binary: str, conf: str) -> str:
    """``conf`` unchanged for an nginx that has `resolve`; ``without_resolve(conf)`` for an older one."""
    return conf if can_resolve(binary) else without_resolve(conf)
