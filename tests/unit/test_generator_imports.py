"""What the Locust processes import: Locust, gevent, hdrh and headroom's recorder, not the analysis's or the CLI's weight.

Every Locust process (the local runner, a master, each worker, and the probe of a user's
locustfile) imports these modules before its first request; the stack config's schema
(pydantic), the report's model and numpy cost about 0.3-0.5 s of CPU in each and serve
nothing there. A run of 70 s at 14 requests a second spent more CPU in headroom's processes
than plain Locust spent in all (issue 24).
"""

from __future__ import annotations

import json
import subprocess
import sys

from infra.config import REPO_ROOT

LOCUST_SIDE = ["loadtest.load.recorder", "loadtest.load.open_model", "loadtest.load.open_locustfile",
               "loadtest.load.scenario_users", "loadtest.load.probe", "loadtest.locustfile"]
NOT_THERE = ["pydantic", "numpy", "infra.config", "loadtest.report.model", "loadtest.analysis.measurement", "rich"]


SCRIPT = """
import importlib, json, sys
brought = {}
for module in MODULES:
    importlib.import_module(module)
    for name in FORBIDDEN:
        if name in sys.modules and name not in brought:
            brought[name] = module
print(json.dumps(brought))
"""


def test_a_locust_process_does_not_import_the_schema_numpy_or_the_report() -> None:
    """One process imports them all, in turn (one Locust import: the unit tier stays fast); what brought what is said."""
    script = f"MODULES = {LOCUST_SIDE!r}\nFORBIDDEN = {NOT_THERE!r}\n" + SCRIPT
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
