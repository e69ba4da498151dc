"""The recording so far, for a run that stops once decided (``validate --until-decided``).

Every ``--headroom-snapshot-every`` seconds the master (or the single local runner) writes
everything recorded so far to ``--headroom-snapshot``, in the same form as the final
``recording.json``, atomically. The runner outside Locust reads it at each look
(``loadtest.load.runner``), and stops Locust when the run is decided. The master's
recording is the union of its workers' reports (every few seconds), so a look sees up to a
report interval less than the workers have recorded.

Runs inside Locust (gevent).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust.env import Environment

from infra.files import write_atomically

if TYPE_CHECKING:
    from .recorder import Recorder


def add_snapshot_arguments(group: Any) -> None:
    group.add_argument("--headroom-snapshot", default="", help="write the recording so far here every few seconds")
    group.add_argument("--headroom-snapshot-every", type=float, default=0.0, help="seconds between snapshots (0: none)")


@dataclass
class Snapshots:
    """Where and how often the recording so far is written."""

    path: str
    every_s: float
    written_at: float = 0.0

    def write_if_due(self, recorder: Recorder) -> None:
        """Called each second by the progress loop; writes once ``every_s`` has passed since the last."""
        now = time.time()
        if recorder.started_at is None or now - self.written_at < self.every_s:
            return
        self.written_at = now
        write_atomically(Path(self.path), json.dumps(recorder.results()))


def attach_snapshots(environment: Environment, recorder: Recorder) -> None:
    options = environment.parsed_options
    path = str(getattr(options, "headroom_snapshot", "") or "")
    every = float(getattr(options, "headroom_snapshot_every", 0.0) or 0.0)
    if path and every > 0:
        recorder.snapshots = Snapshots(path, every)
