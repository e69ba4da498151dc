"""Locust users for a scenario: built from a declared ``requests:`` list, or taken from the user's locustfile.

Runs inside Locust (imported by ``scenario_locustfile.py``, which Locust loads with
``-f``); the spec comes from the ``HEADROOM_SCENARIO`` environment variable
(``loadtest.scenario.spec``). A user's locustfile is imported as it is, from its own
directory (its sibling modules import as they would under ``locust -f``): it needs
no headroom import, because the recorder attaches itself through Locust's events
and wraps Locust's HTTP clients, whichever file defines the users.

Header secrets (``${env:NAME}``) are resolved here, once per process, from the
process's own environment; they live only in the users' header dictionaries.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from locust import User, between, constant_pacing

from infra.scenario_syntax import PATH_VARIABLE

from ..scenario.secrets import resolve
from ..scenario.spec import ENV_VAR
from . import recorder
from .lean_http import Answer, LeanHttpUser
from .locustfiles import ScenarioError, import_locustfile, runnable_classes

Draw = Callable[[], Any]
JSON_BODY = {"Content-Type": "application/json"}


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, type[User]]:
    """The user classes the ``HEADROOM_SCENARIO`` spec describes, by name."""
    env = os.environ if env is None else env
    text = env.get(ENV_VAR)
    if not text:
        raise ScenarioError(f"{ENV_VAR} is not set: headroom sets it (or see `headroom scenario show --spec`)")
    spec = json.loads(text)
    if spec.get("form") == "locustfile":
        return locustfile_users(spec)
    return {spec["class"]: declared_user(spec, env)}


# the user's own locustfile ---------------------------------------------------------


def locustfile_users(spec: Mapping[str, Any]) -> dict[str, type[User]]:
    module = import_locustfile(Path(spec["path"]))
    available = runnable_classes(module)
    chosen: dict[str, type[User]] = {}
    for entry in spec["classes"]:
        user_class = available.get(entry["name"])
        if user_class is None:
            raise ScenarioError(f"{spec['path']}: no Locust user class {entry['name']!r} (found: {', '.join(available) or 'none'})")
        if entry.get("weight") is not None:
            user_class.weight = int(entry["weight"])
        scale_wait_time(user_class, float(spec.get("think_factor", 1.0)))
        chosen[entry["name"]] = user_class
    return chosen


def scale_wait_time(user_class: type[User], factor: float) -> None:
    """A profile's think time on the user's own classes: every wait multiplied by ``factor``."""
    if factor == 1.0 or getattr(user_class, "_headroom_scaled", None) == factor:
        return
    original = user_class.wait_time

    def wait_time(self: User) -> float:
        return float(original(self)) * factor

    user_class.wait_time = wait_time
    user_class._headroom_scaled = factor  # type: ignore[attr-defined]


# a declared scenario ----------------------------------------------------------------


def _draw(variable: Any) -> Draw:
    if isinstance(variable, dict):
        low, high = int(variable["from"]), int(variable["to"])
        return lambda: random.randint(low, high)  # noqa: S311 - load, not security
    values = list(variable)
    return lambda: random.choice(values)  # noqa: S311


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    """A body with its ``{variable}`` strings filled: a string that is only ``{name}`` takes the value's type."""
    if isinstance(value, str):
        whole = PATH_VARIABLE.fullmatch(value)
        if whole:
            return values[whole.group(1)]
        return PATH_VARIABLE.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


_MISSING = object()


def field_at(document: Any, path: str) -> Any:
    """The value at a dotted path (``order.items.0.sku``), or ``_MISSING``."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def check_failure(status: int, expected: list[int] | None, checks: list[dict[str, Any]], body: Callable[[], Any]) -> str | None:
    """Why an answer is not a good one (a short label for the report), or None."""
    good_status = 200 <= status <= 299 if expected is None else status in expected
    if not good_status:
        return f"HTTP {status}"
    if not checks:
        return None
    try:
        document = body()
    except ValueError:
        return "bad body: not JSON"
    return next((failure for check in checks if (failure := _check(document, check))), None)


def _check(document: Any, check: Mapping[str, Any]) -> str | None:
    value = field_at(document, check["field"])
    if value is _MISSING:
        return f"bad body: no field {check['field']}"
    if "equals" in check and value != check["equals"]:
        return f"bad body: {check['field']} is not the expected value"
    if "type" in check and not _TYPES[check["type"]](value):
        return f"bad body: {check['field']} is not of type {check['type']}"
    return None


def _task(request: Mapping[str, Any], draws: Mapping[str, Draw], env: Mapping[str, str],
          producers: dict[str, Callable[[Any], None]]) -> Callable[[Any], None]:
    """One declared request as a Locust task.

    A ``{variable}`` some request captures comes from this user's last capture; a user that
    has none yet sends the capturing request instead (create before read, as a real client).
    """
    headers = {name: resolve(value, env) for name, value in request["headers"].items()}
    send_headers = headers if any(name.lower() == "content-type" for name in headers) else {**headers, **JSON_BODY}
    names = list(request["variables"])  # those of the path and of the body's string values, as the schema checked
    method, path, label = request["method"], request["path"], request["name"]
    status, checks, has_body = request["status"], request["checks"], request["has_body"]
    capture = dict(request.get("capture") or {})
    checks = [*checks, *({"field": field, "present": True} for field in capture.values())]
    request_headers = send_headers if has_body else headers
    fixed_body = json.dumps(request["body"]).encode() if has_body and not names else None

    def judge(answer: Answer) -> str | None:
        if answer.error is not None:
            return recorder.failure_reason(answer.error)
        return check_failure(answer.status, status, checks, answer.json)

    def task(user: Any) -> None:
        captured: dict[str, Any] = user.__dict__.setdefault("_headroom_captured", {})
        if names:
            missing = [name for name in names if name not in draws and name not in captured]
            if missing:
                producers[missing[0]](user)
                return
            values = {name: draws[name]() if name in draws else captured[name] for name in names}
            url = PATH_VARIABLE.sub(lambda m: quote(str(values[m.group(1)]), safe=""), path)
            body = json.dumps(_fill(request["body"], values)).encode() if has_body else None
        else:  # nothing to fill: the body is encoded once, not per request (json.dumps was 3 % of a worker's CPU)
            url, body = path, fixed_body
        answer = user.client.request(method, url, name=label, headers=request_headers, body=body, judge=judge)
        if capture and answer.error is None and answer.failure is None:
            document = answer.json()
            for name, field in capture.items():
                captured[name] = field_at(document, field)

    task.__name__ = label
    return task


def declared_user(spec: Mapping[str, Any], env: Mapping[str, str]) -> type[User]:
    """One user whose tasks are the declared requests, weighted, on headroom's lean client (``lean_http``)."""
    draws = {name: _draw(variable) for name, variable in spec["variables"].items()}
    producers: dict[str, Callable[[Any], None]] = {}
    tasks: dict[Callable[[Any], None], int] = {}
    for request in spec["requests"]:
        task = _task(request, draws, env, producers)
        tasks[task] = int(request["weight"])
        for name in request.get("capture") or {}:
            producers.setdefault(name, task)
    wait = spec["wait"]
    wait_time = constant_pacing(wait["pacing"]) if "pacing" in wait else between(wait["min"], wait["max"])
    return type(spec["class"], (LeanHttpUser,), {
        "tasks": tasks,
        "wait_time": wait_time,
        "__module__": __name__,
        "__doc__": "The declared requests of headroom:scenario, as one Locust user.",
    })
