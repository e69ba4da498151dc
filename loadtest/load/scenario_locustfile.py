"""The locustfile headroom runs for a scenario that is not the reference.

``locust -f loadtest/load/scenario_locustfile.py`` with ``HEADROOM_SCENARIO`` set
(headroom sets it; ``headroom scenario show --spec`` prints it for a remote worker):
the user classes it describes become this module's, which is where Locust looks
for them, and importing ``recorder`` attaches headroom's exact recording.
"""

from __future__ import annotations

from loadtest.load import recorder  # noqa: F401 - registers the exact-recording listeners
from loadtest.load.scenario_users import from_environment

globals().update(from_environment())
