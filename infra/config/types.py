"""Value types that are safe to put into nginx.conf, YAML manifests and JSON.

Every string that reaches a template passes one of these patterns first. They are
deliberately narrower than what nginx or Kubernetes would accept: a character
such as ``;``, ``{``, a quote, a space or a newline could end an nginx directive
or a YAML scalar and smuggle in configuration, so none of them is allowed
anywhere a template interpolates. The error text of each type says what *is*
allowed, because the CLI shows it to the user as is.

Patterns are applied with ``re.fullmatch``, never ``match`` with ``^...$``: ``$``
also matches before a trailing newline, so ``"api\n"`` would pass and end an
nginx directive early (``nginx -t`` rejects the result).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BeforeValidator, Field

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([0-9]{1,6})(ms|s|m|h)")
_SECONDS = re.compile(r"([0-9]{1,6})(s|m|h)")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~/-]{0,255}")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
_CPU = re.compile(r"(?:[0-9]{1,6}m|[0-9]{1,3}(?:\.[0-9]{1,3})?)")
_MEMORY = re.compile(r"([0-9]{1,9})(Ki|Mi|Gi|Ti|k|M|G|T)?")
_MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_IMAGE = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?"  # registry or first path component
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"  # further path components
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # tag
    r"(?:@sha256:[a-f0-9]{64})?"  # digest
)
_AWS_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")
_PROMETHEUS_URL = re.compile(
    rf"https?://(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?(?:/[A-Za-z0-9._~-]+)*/?"
)
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}")
_HTTP_URL = re.compile(rf"https?://({_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::([0-9]{{1,5}}))?/?")
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_AMI = re.compile(r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_SUBNET = re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})")


def matching(pattern: re.Pattern[str], allowed: str) -> Any:
    """A validator refusing any value ``pattern`` does not match as a whole, saying what is allowed."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not allowed; expected {allowed}")
        return value

    return AfterValidator(check)


def _check_http_url(value: str) -> str:
    match = _HTTP_URL.fullmatch(value)
    host, port = (match.group(1), match.group(2)) if match else ("", None)
    if match is None or (port is not None and not 1 <= int(port) <= 65535) or not (
        is_host(host) or host == "localhost"
    ):
        raise ValueError("not allowed; expected http:// or https:// and a host, optionally :port (1-65535), no path")
    return value


def _check_cpu(value: str) -> str:
    if cpu_millicores(value) <= 0:
        raise ValueError("must be greater than 0: the HPA's CPU Utilization is usage divided by this request")
    return value


def _seconds_to_duration(value: Any) -> Any:
    # A bare integer is read as seconds, as Pulumi users often write `failTimeout: 30`;
    # so is the same number as text ("30"), as `pulumi config set` may store it.
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value}s"
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return f"{value}s"
    return value


def accepts_bool(annotation: Any) -> bool:
    """Whether a field's type admits ``true``/``false`` (``bool``, ``bool | None`` ...)."""
    if annotation is bool:
        return True
    return any(accepts_bool(arg) for arg in get_args(annotation))


def reject_bool(value: Any) -> Any:
    """Refuse ``true``/``false`` where a number is expected.

    pydantic's lax mode reads ``True`` as 1 for an int or float field, so
    ``targetCpuUtilization: true`` would render a 1 % target. Numeric strings
    (``"3"``, as ``pulumi config set`` writes them) still pass.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean (true/false)")
    return value


def duration_seconds(duration: str) -> float:
    """Seconds in a duration that already passed validation ("30s" -> 30.0)."""
    match = _DURATION.fullmatch(duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def cpu_millicores(quantity: str) -> int:
    """Millicores in a validated Kubernetes CPU quantity ("500m" -> 500, "1.5" -> 1500)."""
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def memory_bytes(quantity: str) -> int:
    """Bytes in a validated Kubernetes memory quantity ("512Mi" -> 536870912)."""
    match = _MEMORY.fullmatch(quantity)
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def _is_ipv6(bracketed: str) -> bool:
    # The pattern admits only the characters; nginx also rejects a malformed address ("[::::::]").
    try:
        ipaddress.IPv6Address(bracketed[1:-1])
    except ValueError:
        return False
    return True


def is_host(value: str) -> bool:
    """A hostname, an IPv4 address or a bracketed IPv6 address: nothing that could carry a directive or an option."""
    if _IPV4.fullmatch(value):
        return True
    if _IPV6.fullmatch(value):
        return _is_ipv6(value)
    # An all-digit last label is no hostname (no top-level domain is numeric): "999.1.1.1"
    # or "10.0.0.256" is a mistyped IPv4 address, and nginx fails on it ("host not found").
    return bool(_HOSTNAME.fullmatch(value)) and len(value) <= 253 and not value.rsplit(".", 1)[-1].isdigit()


def _check_host(value: str) -> str:
    if not is_host(value):
        raise ValueError(
            "not allowed; expected a hostname (letters, digits, '-' and '.'), an IPv4 address "
            "or a bracketed IPv6 address, with no spaces, quotes, ';' or braces"
        )
    return value


Duration = Annotated[
    str,
    BeforeValidator(_seconds_to_duration),
    matching(_DURATION, "a whole number followed by ms, s, m or h, such as 30s or 5m"),
]
Seconds = Annotated[
    str,
    BeforeValidator(_seconds_to_duration),
    matching(_SECONDS, "whole seconds: a whole number followed by s, m or h, such as 30s or 5m (no ms)"),
]
"""A duration its target reads in whole seconds (nginx's ``fail_timeout`` rejects ``ms``)."""
Hostname = Annotated[str, AfterValidator(_check_host)]
ServerName = Annotated[str, AfterValidator(lambda v: v if v == "_" else _check_host(v))]
"""An nginx ``server_name``: a hostname, or ``_`` for any."""
UrlPath = Annotated[
    str, matching(_URL_PATH, "a path starting with '/' of letters, digits and . _ ~ / - (no spaces, quotes or ';')")
]
DnsLabel = Annotated[
    str, matching(_DNS_LABEL, "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters")
]
ServiceName = Annotated[
    str,
    matching(
        _DNS_1035_LABEL,
        "a DNS-1035 label (a Kubernetes Service name): lower-case letters, digits and '-', "
        "must start with a letter, at most 63 characters",
    ),
]
CpuQuantity = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v),
    matching(_CPU, "a CPU quantity such as 250m, 500m, 1 or 1.5"),
    AfterValidator(_check_cpu),
]
MemoryQuantity = Annotated[
    str, matching(_MEMORY, "a memory quantity such as 256Mi, 1Gi or 512M")
]
ImageRef = Annotated[
    str, matching(_IMAGE, "a container image reference such as nginx:1.27 or registry.example.com/team/app:1.0")
]
InstanceType = Annotated[str, matching(_INSTANCE_TYPE, "an EC2 instance type such as t3.medium")]
AmiId = Annotated[str, matching(_AMI, "an AMI id: ami- followed by 8 or 17 hex digits")]
SubnetId = Annotated[str, matching(_SUBNET, "a subnet id: subnet- followed by 8 or 17 hex digits")]
AwsRegion = Annotated[str, matching(_AWS_REGION, "an AWS region such as us-east-1")]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
PrometheusUrl = Annotated[
    str, matching(_PROMETHEUS_URL, "http:// or https://, a host, optionally :port and a path prefix such as /prometheus")
]
EnvVarName = Annotated[str, matching(_ENV_VAR, "an environment variable name: letters, digits and '_', not starting with a digit")]
MetricName = Annotated[str, matching(_METRIC_NAME, "a Prometheus metric name: letters, digits, '_' and ':'")]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[int, Field(ge=1, le=100)]
