"""The real Pulumi program under Pulumi's mocks, run once per distinct stack config in a test process.

``infra.preview.run_preview`` is deterministic: the mocks' stand-in values are hashes of the
resources' names, and the result lists the resources in a fixed order. Two tests that preview
the same stack with the same keys therefore get equal results, and the unit tier's files asked
for the same few stacks (dev, prod, the ALB-only stack, the gated dev stack) again and again:
about 50 runs at 0.1-0.2 s each. ``preview`` runs the program the first time a stack and its
keys are asked for in this process and hands out a deep copy of that result every time, so a
test may change what it got without another test seeing it. A config the program refuses is
run, and raises, on every call: only results are kept.

The tests that preview carry ``PULUMI`` (the ``pulumi`` mark): conftest.py runs them first, so
that with pytest-xdist one worker runs them all (see its ``pytest_collection_modifyitems``).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from infra.preview import PreviewResult

PULUMI = pytest.mark.pulumi
"""The mark of a test that runs the Pulumi program (``preview``)."""

_RESULTS: dict[tuple[str, str], PreviewResult] = {}


def preview(stack: str, keys: dict[str, Any]) -> PreviewResult:
    """``run_preview(stack, keys)``, run once per stack and keys in this process; a deep copy for each caller."""
    # The keys as canonical JSON: stack keys are YAML mappings of strings, numbers, booleans and lists.
    key = (stack, json.dumps(keys, sort_keys=True, default=repr))
    if key not in _RESULTS:
        # Imported here: the Pulumi SDK loads with the program, in the test process that previews.
        from infra.preview import run_preview

        _RESULTS[key] = run_preview(stack, copy.deepcopy(keys))
    return copy.deepcopy(_RESULTS[key])
