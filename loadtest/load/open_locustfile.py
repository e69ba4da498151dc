"""The open model's Locust entry point, loaded beside the scenario's own locustfile.

``headroom validate --arrival-rate`` runs ``locust -f <scenario locustfile>,<this file>
HeadroomOpenModel --headroom-open-user <the scenario's user class> ...``: Locust loads
both files, so the driver finds the scenario's class among the loaded ones
(``loadtest.load.open_model``), and the scenario's file needs no change.
"""

from __future__ import annotations

from loadtest.load import recorder  # noqa: F401 - registers the exact-recording listeners
from loadtest.load.open_model import OpenModelDriver

DRIVER_CLASS = "HeadroomOpenModel"


class HeadroomOpenModel(OpenModelDriver):
    """The driver Locust starts once per process."""

    abstract = False
