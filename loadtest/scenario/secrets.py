"""Header values that reference secrets: ``${env:NAME}`` and ``${config:namespace:key}``.

A secret is resolved only where the request is sent, inside the Locust processes,
from their environment; headroom itself writes the references, never the values,
to every file it leaves (the spec it hands Locust, reports, logs, the diff) and to
the terminal. A ``${config:...}`` reference names a plain key of the stack file: its
value goes to Locust as an environment variable (``config_env_name``). A
``secure:`` key cannot be read without the Pulumi CLI and the stack's secrets
provider, so it is refused with the way round: export it
(``export NAME="$(pulumi config get key)"``) and write ``${env:NAME}``.

Pure: the environment and the stack's keys are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.errors import ConfigError
from infra.scenario_syntax import CONFIG_REFERENCE, ENV_REFERENCE, REFERENCE

if TYPE_CHECKING:  # the schema only types the arguments: a Locust process resolves references without it
    from infra.config.scenario import ScenarioConfig

_HEADER_VALUE = re.compile(r"[\x20-\x7e]{0,8192}")
MASK = "****"


@dataclass(frozen=True)
class Reference:
    """One ``${...}`` in a header value, and where it was written."""

    key: str
    """The header's key in the stack file, e.g. ``headroom:scenario.requests[0].headers.Authorization``."""
    text: str
    """What is inside ``${...}``: ``env:NAME`` or ``config:ns:key``."""

    @property
    def env_name(self) -> str:
        """The environment variable the Locust processes read it from."""
        env = ENV_REFERENCE.fullmatch(self.text)
        if env:
            return env.group(1)
        config = CONFIG_REFERENCE.fullmatch(self.text)
        assert config is not None, "the schema admits only env: and config: references"
        return config_env_name(config.group(1))


def config_env_name(key: str) -> str:
    """``myapp:apiToken`` -> ``HEADROOM_CONFIG_MYAPP_APITOKEN``: how a config key's value reaches Locust."""
    return "HEADROOM_CONFIG_" + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


def header_sets(scenario: ScenarioConfig) -> Iterator[tuple[str, Mapping[str, str]]]:
    """Every headers mapping of a declared scenario, with its key in the stack file."""
    yield "headroom:scenario.headers", scenario.headers
    for index, request in enumerate(scenario.requests):
        yield f"headroom:scenario.requests[{index}].headers", request.headers


def references(scenario: ScenarioConfig) -> list[Reference]:
    found: list[Reference] = []
    for prefix, headers in header_sets(scenario):
        for name, value in headers.items():
            found.extend(Reference(f"{prefix}.{name}", text) for text in REFERENCE.findall(value))
    return found


def secret_environment(scenario: ScenarioConfig, env: Mapping[str, str], stack_keys: Mapping[str, Any],
                       source: str) -> dict[str, str]:
    """Check every reference can be resolved; the variables to add to Locust's environment (for config keys).

    A ConfigError (exit 2) names the file, the key and what is allowed; it never shows a value.
    """
    extra: dict[str, str] = {}
    for reference in references(scenario):
        where = f"{source}: {reference.key} = '${{{reference.text}}}'"
        env_match = ENV_REFERENCE.fullmatch(reference.text)
        if env_match:
            value = env.get(env_match.group(1))
            if value is None:
                raise ConfigError(
                    f"{where}: the environment variable {env_match.group(1)} is not set; set it for the run "
                    "(allowed references: ${env:NAME} for a set environment variable, ${config:namespace:key} for a "
                    "plain key of this stack file)"
                )
        else:
            config = CONFIG_REFERENCE.fullmatch(reference.text)
            assert config is not None
            key = config.group(1)
            if key not in stack_keys:
                raise ConfigError(f"{where}: the stack file has no key {key} (${{config:...}} names a plain key of it)")
            raw = stack_keys[key]
            if isinstance(raw, dict) and "secure" in raw:
                raise ConfigError(
                    f"{where}: {key} is a secure (encrypted) value, which only the Pulumi CLI can decrypt; export it "
                    f"and reference the variable instead: export NAME=\"$(pulumi config get {key})\" and ${{env:NAME}}"
                )
            if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
                raise ConfigError(f"{where}: {key} is not a plain text value (allowed: a string or a number)")
            value = str(raw)
            extra[reference.env_name] = value
        check_header_secret(value, f"{where}: its value")
    return extra


def check_header_secret(value: str, what: str) -> None:
    """A secret bound for an HTTP header: printable ASCII on one line, or a ConfigError that never shows it.

    http.client refuses a header value with a line break, and its error quotes the whole
    header, secret included; a token read from a file with Windows line endings ends in
    ``\\r``. So the value is checked here, before any request, and named, never shown.
    """
    if not _HEADER_VALUE.fullmatch(value):
        carriage = " (it ends in a carriage return: a file with Windows line endings?)" if value.endswith("\r") else ""
        raise ConfigError(f"{what} (not shown) is not a valid header value{carriage}: allowed are printable "
                          "ASCII characters, no line breaks")


def resolve(value: str, env: Mapping[str, str]) -> str:
    """A header value with its references replaced by their values (inside Locust only)."""

    def one(match: re.Match[str]) -> str:
        reference = Reference("", match.group(1))
        name = reference.env_name
        if name not in env:
            raise KeyError(f"${{{reference.text}}}: environment variable {name} is not set in this Locust process")
        return env[name]

    return REFERENCE.sub(one, value)


def masked(value: str, env: Mapping[str, str]) -> str:
    """A header value for display: references stay as written, with whether they are set (never their value)."""

    def one(match: re.Match[str]) -> str:
        reference = Reference("", match.group(0)[2:-1])
        is_env = ENV_REFERENCE.fullmatch(reference.text) is not None
        state = ("set" if reference.env_name in env else "NOT SET") if is_env else "from the stack file"
        return f"{match.group(0)} ({state})"

    return REFERENCE.sub(one, value)
