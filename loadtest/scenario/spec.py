"""What headroom hands Locust for a scenario: a JSON spec in the ``HEADROOM_SCENARIO`` environment variable.

The spec holds what the Locust processes need to build the users
(``loadtest.load.scenario_users``) and nothing secret: header values keep their
``${env:...}`` references (``${config:...}`` ones are rewritten to the variable
that carries their value, ``secrets.config_env_name``). Each process reads it from
its environment, so local workers get it by inheritance and a remote worker from the
same variable (``headroom scenario show --stack S --spec`` prints it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.scenario_syntax import REFERENCE

from .secrets import Reference
from .shape import DECLARED_USER_CLASS

if TYPE_CHECKING:  # only types the argument: Locust processes import this module for ENV_VAR
    from infra.config.scenario import ScenarioConfig

ENV_VAR = "HEADROOM_SCENARIO"
FORMAT = "headroom-scenario/1"


def _env_only(value: str) -> str:
    return REFERENCE.sub(lambda m: "${env:" + Reference("", m.group(1)).env_name + "}", value)


def declared_spec(scenario: ScenarioConfig, think_factor: float) -> dict[str, Any]:
    """The Locust user of a declared ``requests:`` scenario, its think time scaled by the profile's factor."""
    think = scenario.effective_think_time
    variables: dict[str, Any] = {
        name: list(value) if isinstance(value, list) else {"from": value.from_, "to": value.to}  # a list, or a RangeVariable
        for name, value in scenario.variables.items()
    }
    requests = []
    for request in scenario.requests:
        headers = {**scenario.headers, **request.headers}
        requests.append({
            "name": request.label,
            "method": request.method,
            "path": request.path,
            "headers": {name: _env_only(value) for name, value in headers.items()},
            "body": request.body,
            "has_body": "body" in request.model_fields_set,
            "weight": request.weight,
            "status": request.expect.status,
            "checks": [check.model_dump(mode="json", include={"field", *check.model_fields_set}) for check in request.expect.json_],
            "capture": dict(request.capture),
            "variables": request.variables,
        })
    wait: dict[str, float] = (
        {"pacing": think.constant_pacing * think_factor} if think.constant_pacing is not None
        else {"min": (think.min or 0.0) * think_factor, "max": (think.max or 0.0) * think_factor}
    )
    return {"format": FORMAT, "form": "requests", "class": DECLARED_USER_CLASS, "wait": wait,
            "variables": variables, "requests": requests}


def locustfile_spec(path: Path, classes: list[tuple[str, int | None]], think_factor: float) -> dict[str, Any]:
    """A user's own locustfile: which classes run, with which weights, and the profile's think-time factor."""
    return {"format": FORMAT, "form": "locustfile", "path": str(path.resolve()),
            "classes": [{"name": name, "weight": weight} for name, weight in classes], "think_factor": think_factor}


def encode(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))
