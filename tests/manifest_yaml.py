"""Rendered manifests parsed once per distinct text in a test process.

The tests read headroom's rendered Kubernetes manifests with ruamel's pure-Python safe loader
(YAML 1.2, as the stack files are read), about 8 ms a manifest; the three files that do
(test_render_kubernetes, test_pulumi_program, test_load_generator) parsed the same rendered
text again and again: 110 parses of 65 distinct texts. ``load`` parses a text the first time
it is asked for in this process and hands out a deep copy of the result every time, so a test
may edit what it got (a misspelt field, say) without another test seeing it.
"""

from __future__ import annotations

import copy
from typing import Any

from ruamel.yaml import YAML

_PARSED: dict[str, Any] = {}


def load(text: str) -> Any:
    """``YAML(typ="safe", pure=True).load(text)``, parsed once per text in this process; a deep copy for each caller."""
    if text not in _PARSED:
        _PARSED[text] = YAML(typ="safe", pure=True).load(text)
    return copy.deepcopy(_PARSED[text])
