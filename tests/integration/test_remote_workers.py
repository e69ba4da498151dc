"""`--remote-workers` with no worker: the master honours its start timeout and says what to do (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import free_port

from loadtest.errors import LoadGeneratorError
from loadtest.load import runner
from loadtest.load.runner import LoadSpec, run_load

pytestmark = pytest.mark.slow


def test_no_remote_worker_ends_within_the_start_timeout_saying_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "START_TIMEOUT_S", 8.0)
    spec = LoadSpec(host="http://127.0.0.1:9", user_class="VCPMLUser", users=1, spawn_rate=1, run_time_s=5, remote_workers=1,
                    master_port=free_port())
    started = time.monotonic()
    with pytest.raises(LoadGeneratorError) as caught:
        run_load(spec, tmp_path)
    elapsed = time.monotonic() - started
    assert elapsed < 8.0 + 15, elapsed  # the start timeout and Locust's stop, not start + run + grace (95 s)
    message = str(caught.value)
    assert "no Locust worker connected" in message and "--worker" in message and "--master-port" in message
