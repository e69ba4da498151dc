"""`--remote-workers` with no worker: the master honours its start timeout and says what to do (issue 10)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from conftest import free_port, headroom

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


def test_a_worker_with_no_master_says_what_it_waits_for_and_gives_up(tmp_path: Path) -> None:
    """`scenario worker` against nothing waited silently (Locust retries for five minutes, logging below WARNING)."""
    stack = tmp_path / "Pulumi.w.yaml"
    stack.write_text("config:\n  headroom:deploy: {aws: false, kubernetes: false}\n")
    port = free_port()
    started = time.monotonic()
    result = headroom("scenario", "worker", "--stack", str(stack), "--master-host", "127.0.0.1", "--master-port", str(port),
                      "--wait", "2s", timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"waiting up to 2 s for the Locust master at 127.0.0.1:{port}" in result.stderr
    assert f"no Locust master listened at 127.0.0.1:{port} within 2 s (Connection refused)" in result.stderr
    assert "--wait" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


def test_a_worker_goes_on_as_soon_as_its_master_listens() -> None:
    import socket
    import threading

    from loadtest.commands.scenario import wait_for_master

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        late = threading.Timer(1.0, listener.listen)  # the master comes up a second after the worker
        late.start()
        started = time.monotonic()
        wait_for_master("127.0.0.1", port, 30)
        late.join()
    assert 0.9 < time.monotonic() - started < 5


def test_a_master_whose_port_another_process_took_starts_again_on_a_new_one(
        port_taken_first: Callable[[ModuleType], int], tmp_path: Path) -> None:
    port_taken_first(runner)  # the first port handed to the master is one another process holds by then
    spec = LoadSpec(host="http://127.0.0.1:9", user_class="VCPMLUser", users=2, spawn_rate=2, run_time_s=2, workers=1)
    outcome = run_load(spec, tmp_path)
    assert outcome.results["workers"] == 1 and outcome.results["recording"]["cells"]  # the second master ran the load
    assert runner.MASTER_BIND_FAILURE not in (tmp_path / "locust.log").read_text()  # the log is the run that counted
