"""The open model's pool of users in a real Locust process: the cap, on_start and on_stop, StopUser, arrivals left over.

Arrivals come at 100/s for 3 s to a user class whose tasks take 40 ms, with at most 3 user
instances: the 3 can serve about 75 a second, so arrivals queue for a free one, and those still
queued when the run ends are dropped, never sent (tests/services/pool_locustfile.py logs what
each instance does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import leftover_processes

from infra.config import REPO_ROOT
from loadtest.analysis.arrivals import OpenLoad, OpenRun
from loadtest.load.runner import LoadSpec, run_load
from loadtest.scenario.arrivals import hold

pytestmark = pytest.mark.slow

RATE, RUN_S, MAX_USERS = 100.0, 3, 3


def test_the_pool_caps_its_users_replaces_stopped_ones_and_drops_what_never_started(tmp_path: Path) -> None:
    log = tmp_path / "pool.jsonl"
    load = OpenLoad(tuple(hold(RATE, RUN_S)), "constant", max_users=MAX_USERS)
    spec = LoadSpec(host="http://127.0.0.1:9", user_class="PoolUser", users=1, spawn_rate=1, run_time_s=RUN_S,
                    window_s=1.0, locustfile=REPO_ROOT / "tests" / "services" / "pool_locustfile.py", open_load=load,
                    env={"POOL_LOG": str(log)})
    outcome = run_load(spec, tmp_path / "run")
    stats = OpenRun.from_results(load, outcome.results).stats
    events = [json.loads(line) for line in log.read_text().splitlines()]

    # Never more than MAX_USERS tasks at once.
    running, most = 0, 0
    for event in sorted((e for e in events if e["event"] in ("begin", "end")), key=lambda e: (e["at"], e["event"] == "begin")):
        running += 1 if event["event"] == "begin" else -1
        most = max(most, running)
    assert 1 <= most <= MAX_USERS

    started = [e["instance"] for e in events if e["event"] == "start"]
    tasks = [e for e in events if e["event"] == "begin"]
    assert len(started) == len(set(started))  # on_start once per instance
    assert 0 not in {e["instance"] for e in tasks}  # the instance whose on_start failed never ran a task
    # Every tenth task stopped its user, and a new instance took its place.
    assert len(started) >= 1 + len(tasks) // 10
    # on_stop for every instance created, when the run ended.
    assert sorted(e["instance"] for e in events if e["event"] == "stop") == sorted(started)

    # Arrivals: the failed on_start's arrival and those still queued at the end were dropped, the rest sent.
    assert stats.sent == len(tasks)
    assert stats.sent + stats.dropped == stats.due
    assert stats.sent <= MAX_USERS / 0.040 * RUN_S  # no more than 3 users at 40 ms a task can take
    assert stats.dropped >= 1  # at least the arrival whose user's on_start failed
    assert stats.late > 0  # those that waited for a free user
    assert leftover_processes() == []
