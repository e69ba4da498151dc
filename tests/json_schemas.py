"""JSON Schema validation for tests, each schema checked against its metaschema once per test process.

``jsonschema.validate(instance, schema)`` first checks ``schema`` itself against its metaschema
(``check_schema``), on every call: for docs/report.schema.json (draft 2020-12) that is about
0.1 s, some thirty times the validation of a report, and a dozen tests validate against it.
The schemas do not change during a session, so ``validate`` checks each one once and keeps its
validator. Otherwise it is ``jsonschema.validate``: the same validator class (the schema's
``$schema``), no format checker, and the same error raised (``best_match`` of the instance's
errors; ``SchemaError`` for a schema that is not valid, on every call).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

_VALIDATORS: dict[str, Validator] = {}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """``jsonschema.validate(instance, schema)``, with ``schema`` checked and its validator made once per process."""
    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)  # raises SchemaError, and nothing is kept
        validator = _VALIDATORS[key] = cls(copy.deepcopy(schema))  # its own copy: a caller may change theirs later
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error
