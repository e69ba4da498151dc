"""``headroom:scenario``: what a validation run sends, when it is not the reference scenario.

Two forms, exactly one per stack:

- ``locustfile`` (with ``userClasses``): the team's own Locust file, run unchanged;
  headroom attaches its exact recording from the outside (``loadtest.load.scenario_users``).
- ``requests``: requests declared here, turned into one Locust user at run time.

No section at all means the reference scenario (the seed's 7:3:1 mix), as before.

Every value that reaches Locust or a URL is checked with a full-match pattern: a
request's path (and every value its variables can take), header names and values,
names that label the recording. Header values may reference secrets, never hold
them: ``${env:NAME}`` (an environment variable of the run) or ``${config:ns:key}``
(a plain, non-``secure:`` key of the same stack file). The references are resolved
only inside the run (``loadtest.scenario.secrets``), never written anywhere.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from ..scenario_syntax import CONFIG_REFERENCE, ENV_REFERENCE, PATH_VARIABLE, REFERENCE
from .section import Section
from .types import accepts_bool, reject_bool

__all__ = ["CONFIG_REFERENCE", "ENV_REFERENCE", "PATH_VARIABLE", "REFERENCE"]  # their home is infra.scenario_syntax

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_REQUEST_NAME = re.compile(r"[A-Za-z0-9/\[][A-Za-z0-9 _.:/\[\]-]{0,99}")
_PATH = re.compile(r"/(?:[A-Za-z0-9._~!$&'()*+,;=:@%/?-]|\{[A-Za-z_][A-Za-z0-9_]{0,99}\}){0,2000}")
_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{0,4096}")
_FIELD_PATH = re.compile(r"[A-Za-z0-9_-]{1,100}(?:\.[A-Za-z0-9_-]{1,100}){0,19}")
_LOCUSTFILE = re.compile(r"[A-Za-z0-9._/ -]{1,500}\.py")
MAX_WEIGHT = 10_000
JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
DEFAULT_THINK_MIN_S = 1.0
DEFAULT_THINK_MAX_S = 3.0


def _fullmatch(pattern: re.Pattern[str], allowed: str) -> Any:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not allowed; expected {allowed}")
        return value

    return AfterValidator(check)


Identifier = Annotated[str, _fullmatch(IDENTIFIER, "a name of letters, digits and '_', not starting with a digit")]
RequestName = Annotated[
    str, _fullmatch(_REQUEST_NAME, "at most 100 letters, digits, spaces and _ . : / [ ] -, starting with a letter, digit, '/' or '['")
]
Weight = Annotated[int, Field(ge=1, le=MAX_WEIGHT, description="a whole number from 1 to 10000")]


def _check_header_value(value: str) -> str:
    if not _HEADER_VALUE.fullmatch(value):
        raise ValueError("not allowed; expected printable ASCII (no line breaks or control characters), at most 4096")
    for reference in REFERENCE.findall(value):
        if not (ENV_REFERENCE.fullmatch(reference) or CONFIG_REFERENCE.fullmatch(reference)):
            raise ValueError(
                f"${{{reference}}} is not a reference headroom knows; allowed: ${{env:NAME}} (an environment variable) "
                "or ${config:namespace:key} (a plain key of this stack file)"
            )
    return value


HeaderName = Annotated[str, _fullmatch(_HEADER_NAME, "an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")]
HeaderValue = Annotated[str, AfterValidator(_check_header_value)]
Headers = dict[HeaderName, HeaderValue]


def _json_text(value: Any) -> Any:
    """A value that will be sent or compared as JSON: it must serialise (no dates, no NaN)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"not JSON-serialisable ({err}); allowed: strings, numbers, true/false, null, lists and mappings") from None
    return value


JsonValue = Annotated[Any, AfterValidator(_json_text)]


class _JsonSection(Section):
    """A section with free JSON values, where ``true``/``false`` are values, not misused numbers."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if info.field_name in ("body", "equals") or field is None or accepts_bool(field.annotation):
            return value
        return reject_bool(value)


class UserClassRef(Section):
    """One user class of the locustfile, and its share of the users (Locust's ``weight``)."""

    name: Identifier
    weight: Weight | None = None


def _class_ref(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class RangeVariable(Section):
    """Whole numbers from ``from`` to ``to``, both included, drawn uniformly."""

    from_: int = Field(alias="from", ge=-(10**12), le=10**12)
    to: int = Field(ge=-(10**12), le=10**12)


_VARIABLE_ALLOWED = ("a list of 1-100000 values (whole numbers, or 1-200 URL-safe characters: letters, digits and . _ ~ -), "
                     "or a range {from: N, to: M} of whole numbers with N <= M")


def _variable(value: Any) -> list[str | int] | RangeVariable:
    """One variable, checked by hand so that a mistake gives one message, not one per possible form."""
    if isinstance(value, list):
        if not 1 <= len(value) <= 100_000:
            raise ValueError(f"{len(value)} values; allowed: {_VARIABLE_ALLOWED}")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, str)) or (
                isinstance(item, str) and not _VARIABLE_VALUE.fullmatch(item)
            ):
                raise ValueError(f"value {item!r} not allowed; allowed: {_VARIABLE_ALLOWED}")
        return list(value)
    if isinstance(value, dict) and set(value) == {"from", "to"}:
        low, high = value["from"], value["to"]
        if all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 10**12 for v in (low, high)) and low <= high:
            return RangeVariable.model_validate(value)
    raise ValueError(f"not allowed; expected {_VARIABLE_ALLOWED}")


Variable = Annotated[Any, AfterValidator(_variable)]


class ThinkTime(Section):
    """How long a user waits between requests: uniform ``min``-``max`` seconds, or ``constantPacing``.

    ``constantPacing: P`` starts a request every P seconds per user whatever the answer
    took (Locust's ``constant_pacing``), so a user sends at most 1/P requests per second.
    """

    min: float | None = Field(default=None, ge=0, le=3600)
    max: float | None = Field(default=None, ge=0, le=3600)
    constant_pacing: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        ranged = self.min is not None or self.max is not None
        if ranged and self.constant_pacing is not None:
            raise ValueError("give min and max, or constantPacing, not both")
        if self.constant_pacing is None and (self.min is None or self.max is None):
            raise ValueError("give both min and max (seconds), or constantPacing")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must not be above max ({self.max:g})")
        return self

    @property
    def mean_s(self) -> float:
        """The mean wait; constant pacing P counts as P (its Little's-law ceiling, U / P, is exact)."""
        if self.constant_pacing is not None:
            return self.constant_pacing
        assert self.min is not None
        assert self.max is not None
        return (self.min + self.max) / 2


FieldPath = Annotated[str, _fullmatch(_FIELD_PATH, "a dotted field path such as id or order.items.0.sku")]


class JsonCheck(_JsonSection):
    """One check of a JSON answer: a field is present, equals a value, or has a JSON type."""

    field: FieldPath
    present: bool | None = None
    equals: JsonValue = None
    type: Literal["string", "number", "integer", "boolean", "object", "array", "null"] | None = None

    @model_validator(mode="after")
    def _one_check(self) -> Self:
        given = [key for key in ("present", "equals", "type") if key in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"give exactly one of present, equals, type for field {self.field!r} (given: {', '.join(given) or 'none'})")
        if self.present is False:
            raise ValueError("present: false checks nothing; write present: true, or leave the check out")
        return self


Status = Annotated[int, Field(ge=100, le=599, description="an HTTP status code from 100 to 599")]


class Expect(Section):
    """What counts as a good answer: its status (default any 2xx) and optional JSON checks."""

    status: list[Status] | None = Field(default=None, min_length=1, max_length=500)
    json_: list[JsonCheck] = Field(default_factory=list, alias="json", max_length=100)


class RequestSpec(_JsonSection):
    """One declared request: it is sent with the probability weight / sum of weights."""

    name: RequestName | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    path: Annotated[
        str,
        _fullmatch(_PATH, "a path starting with '/' of URL characters (letters, digits, . _ ~ - / ? = & % and the like), "
                   "with {variable} placeholders; no spaces, quotes, '#' or line breaks"),
    ]
    headers: Headers = Field(default_factory=dict)
    body: JsonValue = None
    weight: Weight = 1
    expect: Expect = Field(default_factory=Expect)
    capture: dict[Identifier, FieldPath] = Field(default_factory=dict, max_length=20)
    """variable -> JSON field of a good answer: later requests of the same user may use ``{variable}``."""

    @property
    def label(self) -> str:
        """The name the recording, the report and per-endpoint SLOs use: ``name``, else the path with ``[variable]``."""
        return self.name or PATH_VARIABLE.sub(r"[\1]", self.path)

    @property
    def variables(self) -> list[str]:
        """Variables in the path and in the body's strings."""
        found = PATH_VARIABLE.findall(self.path)
        found += [name for text in _strings(self.body) for name in PATH_VARIABLE.findall(text)]
        return list(dict.fromkeys(found))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


class ScenarioConfig(Section):
    """``headroom:scenario``: a locustfile with its user classes, or declared requests (see docs/scenarios.md)."""

    locustfile: Annotated[str, _fullmatch(_LOCUSTFILE, "a path to a .py file, relative to the stack file's directory")] | None = None
    user_classes: Annotated[list[UserClassRef], BeforeValidator(lambda v: [_class_ref(i) for i in v] if isinstance(v, list) else v)] = Field(
        default_factory=list, max_length=50
    )
    mean_think_time_seconds: float | None = Field(default=None, ge=0, le=3600)
    """locustfile form: the users' mean wait, for Little's law; by default headroom samples the classes' wait_time."""
    requests: list[RequestSpec] = Field(default_factory=list, max_length=200)
    variables: dict[Identifier, Variable] = Field(default_factory=dict)
    headers: Headers = Field(default_factory=dict)
    """Sent with every declared request (a request's own headers win)."""
    think_time: ThinkTime | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        declared = ("requests", "variables", "headers", "thinkTime")
        given = {field.alias or name for name, field in type(self).model_fields.items() if name in self.model_fields_set}
        if self.locustfile is not None:
            mixed = sorted(given & set(declared))
            if mixed:
                raise ValueError(f"a locustfile scenario takes userClasses (and meanThinkTimeSeconds), not {', '.join(mixed)}: "
                                 "give locustfile or requests, not both")
            if not self.user_classes:
                raise ValueError("locustfile needs userClasses: the names of the Locust user classes to run, "
                                 "for example userClasses: [WebsiteUser]")
            names = [ref.name for ref in self.user_classes]
            if len(set(names)) != len(names):
                raise ValueError(f"userClasses names a class twice: {', '.join(names)}")
            return self
        if self.user_classes or self.mean_think_time_seconds is not None:
            raise ValueError("userClasses and meanThinkTimeSeconds belong to a locustfile scenario: give locustfile too")
        if not self.requests:
            raise ValueError("give locustfile (with userClasses) or a non-empty requests list (docs/scenarios.md)")
        labels = [request.label for request in self.requests]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two requests share the name {twice[0]!r}: give each its own name (it labels the results)")
        captured = self.captured
        both = sorted(set(captured) & set(self.variables))
        if both:
            raise ValueError(f"{both[0]} is both declared under variables and captured by requests[{captured[both[0]]}]: "
                             "give the captured one another name")
        for index, request in enumerate(self.requests):
            unknown = [name for name in request.variables if name not in self.variables and name not in captured]
            if unknown:
                known = ", ".join(sorted(self.variables)) or "none declared under variables"
                also = f"; captured: {', '.join(sorted(captured))}" if captured else ""
                raise ValueError(
                    f"requests[{index}] ({request.label}) uses the variable {{{unknown[0]}}} (path = {request.path!r}), "
                    f"which is neither declared under variables nor captured; declared: {known}{also}"
                )
            self._check_no_cycle(index)
        return self

    def _check_no_cycle(self, start: int) -> None:
        """A user without a captured value sends its capturing request first: that chain must end."""
        captured = self.captured
        chain = [start]
        pending = [start]
        while pending:
            index = pending.pop()
            for name in self.requests[index].variables:
                producer = captured.get(name)
                if producer is None:
                    continue
                if producer == start:
                    label = f"requests[{start}] ({self.requests[start].label})"
                    raise ValueError(
                        (f"{label} uses {{{name}}}, which only it captures" if index == start else
                         f"{label} waits for a capture of requests[{index}], which uses {{{name}}} that {label} captures")
                        + ": another request must capture it first, using no captured variable itself "
                        "(for example a POST that creates, read back by a GET)")
                if producer not in chain:
                    chain.append(producer)
                    pending.append(producer)

    @property
    def captured(self) -> dict[str, int]:
        """Captured variable -> the index of the (first) request that captures it."""
        return {name: index for index, request in reversed(list(enumerate(self.requests))) for name in request.capture}

    @property
    def is_locustfile(self) -> bool:
        return self.locustfile is not None

    @property
    def effective_think_time(self) -> ThinkTime:
        """The declared think time, or the reference's 1-3 s."""
        return self.think_time or ThinkTime(min=DEFAULT_THINK_MIN_S, max=DEFAULT_THINK_MAX_S)
