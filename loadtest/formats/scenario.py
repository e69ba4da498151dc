"""``headroom scenario show``: what a run will send, as text, with every secret masked.

Header values are shown as written in the stack file, with each ``${...}`` reference
marked set or not set; a resolved value is never shown (``loadtest.scenario.secrets``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra.config.scenario import RangeVariable, ScenarioConfig

from ..scenario.secrets import masked
from ..scenario.shape import ScenarioShape


def describe_shape(shape: ScenarioShape) -> list[str]:
    lines = [f"  user classes:  {', '.join(shape.user_classes)}",
             (f"  think time:    {shape.think_min_s:g}-{shape.think_max_s:g} s, mean {shape.mean_think_time_s:g} s "
              "(normal profile; spike x0.5, stress x0.15)")]
    if shape.mix:
        lines.append("  mix:           " + ", ".join(f"{name} {share:.0%}" for name, share in shape.mix))
    return lines


def describe(scenario: ScenarioConfig | None, shape: ScenarioShape, env: Mapping[str, str], source: str) -> str:
    """The whole description: the form, every request (method, path, headers masked, body, expectations), the shape."""
    if scenario is None and shape.is_reference:
        head = [f"scenario of {source}: the reference scenario (no headroom:scenario)",
                "  GET /api/v1/predict/{symbol}, POST /api/v1/predict/batch, GET /api/v1/health (7:3:1)"]
        return "\n".join([*head, *describe_shape(shape)]) + "\n"
    if scenario is None or scenario.locustfile is not None:
        head = [f"scenario of {source}: the locustfile {shape.name}, run unchanged with headroom's recording attached"]
        return "\n".join([*head, *describe_shape(shape)]) + "\n"
    lines = [f"scenario of {source}: {len(scenario.requests)} declared requests, one Locust user ({shape.user_classes[0]})"]
    total = sum(request.weight for request in scenario.requests)
    for request in scenario.requests:
        lines.append(f"  {request.label}  (weight {request.weight}, {request.weight / total:.0%})")
        lines.append(f"    {request.method} {request.path}")
        for name, value in {**scenario.headers, **request.headers}.items():
            lines.append(f"    {name}: {masked(value, env)}")
        if "body" in request.model_fields_set:
            lines.append(f"    body: {json.dumps(request.body, sort_keys=True)}")
        status = ", ".join(map(str, request.expect.status)) if request.expect.status else "any 2xx"
        lines.append(f"    expect: status {status}" + "".join(f"; {_check(c.model_dump(include={'field', *c.model_fields_set}))}"
                                                          for c in request.expect.json_))
        if request.capture:
            lines.append("    capture: " + ", ".join(f"{{{name}}} <- {field}" for name, field in request.capture.items()))
    for name, variable in scenario.variables.items():
        values = (f"{variable.from_}..{variable.to}" if isinstance(variable, RangeVariable)
                  else ", ".join(map(str, variable[:10])) + (f", ... ({len(variable)} values)" if len(variable) > 10 else ""))
        lines.append(f"  variable {{{name}}}: {values}")
    return "\n".join([*lines, *describe_shape(shape)]) + "\n"


def _check(check: Mapping[str, Any]) -> str:
    if "type" in check:
        return f"{check['field']} is a {check['type']}"
    if "equals" in check:
        return f"{check['field']} == {json.dumps(check['equals'])}"
    return f"{check['field']} present"
