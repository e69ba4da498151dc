"""The text syntax of a declared scenario (``headroom:scenario``): path variables and secret references.

The schema (``infra.config.scenario``) checks them, and the Locust processes substitute them at
run time (``loadtest.load.scenario_users``, ``loadtest.scenario.secrets``). Plain regular
expressions, apart from the schema, so that a Locust process does not import pydantic and the
whole stack schema for them (about 0.3 s of CPU per process, measured).
"""

from __future__ import annotations

import re

PATH_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,99})\}")
"""``{name}`` in a request's path or body: one of the scenario's variables."""
REFERENCE = re.compile(r"\$\{([^}]*)\}")
"""Any ``${...}`` in a header value; its inside must be one of the two forms below."""
ENV_REFERENCE = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]{0,127})")
CONFIG_REFERENCE = re.compile(r"config:([A-Za-z0-9_.-]{1,100}:[A-Za-z0-9_.-]{1,200})")
