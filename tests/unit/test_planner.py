"""The planner on a synthetic service with a known capacity: timelines and breach windows known by construction.

The service: 100 req/s per replica (10 slots of 100 ms), 5 ms of CPU per request, so a
pod's CPU against the stack's default 500m request equals its pool's load (CPU-bound by
construction; the concurrency-bound case is in test_signals.py). The traffic is open loop
(a rate file), so the offered load does not depend on the model being tested.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import pytest

from infra.config import config_from_keys
from infra.errors import ConfigError
from loadtest import fan_out
from loadtest.analysis.signals import Signal
from loadtest.planning import optimize
from loadtest.planning.optimize import SearchWorkers, optimize_hpa
from loadtest.planning.service import PlanService
from loadtest.planning.simulate import HpaDriver, Slo, serve, simulate, simulate_stack
from loadtest.planning.traffic import Traffic, profile, read_csv

SERVICE = PlanService(capacity_rps=100.0, concurrency=10, service_mean_s=0.1, service_sigma=0.3, source="synthetic",
                      cpu_ms_per_request=5.0, cpu_source="synthetic")
CPU_AT_LOAD = Signal("hpa", "cpu", 50.0, cpu_ms_per_request=5.0, cpu_cores=0.5)
"""The HPA's CPU on SERVICE: 5 ms x 100 req/s / 0.5 core = 100 % at full load."""
SLO = Slo(p95_ms=500.0, error_rate_percent=5.0)


def stack(**sections: dict) -> object:  # type: ignore[type-arg]
    keys = {"headroom:deploy": {"aws": False, "kubernetes": False}, "headroom:capacity": {"podStartSeconds": 10}}
    keys.update({f"headroom:{name}": value for name, value in sections.items()})
    return config_from_keys(keys, source="test")


def step_traffic(before: float, after: float, at: int, seconds: int) -> Traffic:
    return Traffic("step", "a step", rates=tuple(before if t < at else after for t in range(seconds)))


def test_serve_is_the_queue_below_capacity_and_a_fluid_backlog_above() -> None:
    calm = serve(SERVICE, 2, 100.0, 0.0, 60.0)
    assert calm.utilization == pytest.approx(0.5) and calm.errors == 0 and calm.backlog == 0
    assert 100 < calm.p95_ms < 500  # about the 100 ms service time's own p95, little queueing at 50 %
    over = serve(SERVICE, 1, 160.0, 0.0, 60.0)
    assert over.served_rps == 100 and over.backlog == pytest.approx(60) and over.utilization == 1
    assert over.p95_ms == pytest.approx(SERVICE.tables(1)[0][-1] + 600)  # + 60 waiting / 100 per s
    timed_out = serve(SERVICE, 1, 100.0, 1000.0, 2.0)  # 1100 waiting, 100 served, at most 2 s x 100 may wait
    assert timed_out.errors == pytest.approx(800) and timed_out.backlog == pytest.approx(200)
    nobody = serve(SERVICE, 0, 50.0, 0.0, 60.0)
    assert nobody.errors == 50 and math.isinf(nobody.p95_ms)


def test_step_load_breach_window_and_replica_timeline() -> None:
    """40 -> 160 req/s at t = 100 on one replica (capacity 100), HPA target 50 %, pods serve 10 s after creation.

    By construction: the breach starts at 100 (one replica saturates, 60 req/s queue up, 0.6 s of wait
    after one second); the first sync after the step, t = 105, sees 15 s averaging 64 % (9 s at 40 %,
    6 s at 100 %) and asks for ceil(1.28) = 2; the new pod serves from 115; at t = 120 its metric is not
    one window old yet, so it counts at 0 % and the ratio (100 % + 0 %) / 2 / 50 % = 1.0 holds at 2; the
    900 requests queued by 115 drain at 200 - 160 = 40 req/s, so the breach is over by 115 + 22.5 s.
    """
    config = stack(hpa={"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50})
    traffic = step_traffic(40.0, 160.0, 100, 400)
    result = simulate(traffic, SERVICE, HpaDriver(config.hpa, CPU_AT_LOAD, 10.0), SLO, 60.0)
    breach = [t for t, p95 in enumerate(result.p95_ms) if p95 > SLO.p95_ms]
    assert breach[0] == 100
    assert result.actions[0].at == 105 and (result.actions[0].old, result.actions[0].new) == (1, 2)
    assert result.serving[114] == 1 and result.serving[115] == 2
    assert result.replicas[120] == 2
    assert max(breach) < 115 + 23
    assert result.summary is not None and result.summary.breach_seconds == len(breach)
    assert result.summary.first_scale_out_s == 105


def test_asg_reacts_after_three_minutes_on_the_same_step() -> None:
    config = stack(asg={"minSize": 1, "maxSize": 6, "desiredCapacity": 1, "targetCpu": 50, "instanceWarmup": "60s"},
                   capacity={"podStartSeconds": 10, "instanceStartSeconds": 30, "healthCheckSeconds": 0})
    # A t3.medium has 2 vCPUs: 20 ms per request makes its CPU the pool's load again (20 ms x 100 / 2).
    service = dataclasses.replace(SERVICE, cpu_ms_per_request=20.0)
    result = simulate_stack(config, step_traffic(40.0, 160.0, 100, 900), service, "asg")  # type: ignore[arg-type]
    # One-minute datapoints: the one closing at 120 s averages 40 s at 40 % and 20 s saturated, 60 %; the
    # alarm needs it and the two after it, so it fires as the datapoint closing at 240 s (the end of
    # second 239) completes. One warm instance at 100 % for a 50 % target: ceil(2.0) = 2.
    assert (result.actions[0].at, result.actions[0].new) == (239, 2)
    assert result.serving[269] == 1 and result.serving[270] == 2  # launched at 240, InService 30 s later


def test_optimize_finds_the_known_cheapest_minimum() -> None:
    """A steady 250 req/s for 10 minutes: with 100 req/s replicas, 3 are the fewest that serve it (83 %).

    Any smaller minimum starts saturated and breaks the SLO until the HPA catches up, so the cheapest
    setting that keeps the SLO from the first second is minReplicas 3. No target may pass the cpu rule's
    70 % ceiling, and at 70 % the HPA adds a fourth replica at its first sync (3 x 83 % / 70 % = 3.56):
    four replicas for the whole profile, at the highest target the search allows.
    """
    config = stack(hpa={"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50})
    traffic = Traffic("steady", "steady", rates=(250.0,) * 600)
    result = optimize_hpa(config, traffic, SERVICE)  # type: ignore[arg-type]
    assert result.best is not None
    assert result.best.setting.min_replicas == 3 and result.best.setting.target == 70
    assert result.best.summary.breach_seconds == 0 and result.best.summary.replica_hours == pytest.approx(4 * 600 / 3600)
    assert not result.current.summary.holds
    paths = {change.path: change.new for change in result.changes}
    assert paths == {"headroom:hpa.minReplicas": 3, "headroom:hpa.targetCpuUtilization": 70}


STEPS = Traffic("steps", "steps", rates=tuple(120.0 if t < 100 else 330.0 if t < 300 else 200.0 for t in range(420)))


def cutoff_stack(budget: dict | None) -> object:  # type: ignore[type-arg]
    return stack(hpa={"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50}, slo={"errorBudget": budget} if budget else {})


@functools.cache
def exhaustive_search(budget_json: str) -> optimize.Optimization:
    """What simulating every setting in full, in order, chooses for ``cutoff_stack(budget)`` on STEPS.

    Once per budget in a test process: the search with cutoffs in one process and in two is checked against the
    same answer, and this one is the expensive half of each check (no run is stopped early)."""
    full_run = optimize.simulate_stack

    def without_cutoff(*args: object, cutoff: object = None, **kwargs: object) -> object:
        return full_run(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optimize, "simulate_stack", without_cutoff)
        return optimize_hpa(cutoff_stack(json.loads(budget_json)), STEPS, SERVICE)  # type: ignore[arg-type]


@pytest.mark.parametrize("parts", [1, 2], ids=["one-process", "two-processes"])
@pytest.mark.parametrize("budget", [None, {"breachSeconds": 30}], ids=["zero-breach", "30-s-budget"])
def test_the_searchs_cutoffs_skip_only_settings_that_cannot_win(budget: dict | None, parts: int) -> None:  # type: ignore[type-arg]
    """The optimizer stops a run early (its breach past the budget, or its spend plus its minimum for the rest of
    the profile past the cheapest zero-breach run so far), in one process or split over forked ones: it must
    choose what simulating every setting in full, in order, does."""
    pruned = optimize_hpa(cutoff_stack(budget), STEPS, SERVICE, workers=SearchWorkers(fan_out.map_parts, parts, from_steps=0))  # type: ignore[arg-type]
    exhaustive = exhaustive_search(json.dumps(budget))
    assert pruned.best is not None and pruned.zero_breach is not None
    assert pruned.best == exhaustive.best and pruned.zero_breach == exhaustive.zero_breach
    assert pruned.changes == exhaustive.changes


def test_more_cores_than_settings_start_no_idle_worker() -> None:
    """A machine with more cores than settings: one worker per setting at most, and the same answer."""
    config = stack(hpa={"minReplicas": 1, "maxReplicas": 1, "targetCpuUtilization": 50})
    traffic = Traffic("steady", "steady", rates=(60.0,) * 60)
    started: list[int] = []

    def counting(work, parts):  # type: ignore[no-untyped-def]
        started.append(parts)
        return fan_out.map_parts(work, parts)

    spread = optimize_hpa(config, traffic, SERVICE, workers=SearchWorkers(counting, cores=64, from_steps=0))  # type: ignore[arg-type]
    alone = optimize_hpa(config, traffic, SERVICE)  # type: ignore[arg-type]
    assert started == [spread.evaluated] == [15]  # 1 minimum x 5 targets x 3 scale-up policies (the stack's is the default)
    assert spread.best == alone.best and spread.changes == alone.changes


def test_profiles_follow_the_stack() -> None:
    config = stack(slo={"users": 100, "rampSeconds": 10, "runTime": "60s"},
                   capacity={"spikeFactor": 3, "spikeUsersPerSecond": 20, "spikeHoldSeconds": 30})
    normal = profile("normal", config)  # type: ignore[arg-type]
    assert normal.seconds == 60 and normal.users[9] == 100 and normal.users[4] == 50 and normal.think_s == 2.0
    spike = profile("spike", config)  # type: ignore[arg-type]
    assert spike.users[0] == 100 and max(spike.users) == 300 and spike.think_s == 1.0
    surge_start = spike.users.index(120.0)
    assert spike.users[surge_start + 9] == 300  # +20 users/s: 100 -> 300 in 10 s
    assert spike.users[-1] == 100
    assert profile("stress", config).think_s == pytest.approx(0.3)  # type: ignore[arg-type]


def test_traffic_csv_resamples_and_reports_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "traffic.csv"
    good.write_text("timestamp,rps\n0,10\n60,20\n120,5\n")
    traffic = read_csv(good)
    assert traffic.seconds == 180 and traffic.rates[59] == 10 and traffic.rates[60] == 20 and traffic.rates[179] == 5
    iso = tmp_path / "iso.csv"
    iso.write_text("2026-11-28T09:00:00+00:00,1\n2026-11-28T09:00:10+00:00,2\n")
    assert read_csv(iso).seconds == 20
    for body, message in [
        ("0,10\n0,20\n", "traffic.csv:2: timestamp '0' is not after"),
        ("0,ten\n", None),  # a header row with a non-number is skipped, then nothing is left
        ("0,10\n5,-3\n", "traffic.csv:2: rps '-3' must be a number from 0 to 1e"),
        ("0,10\n10,1e308\n", "traffic.csv:2: rps '1e308' must be a number from 0 to 1e"),
        ("yesterday,10\n1,5\n", "traffic.csv:1: timestamp 'yesterday' must be seconds or an ISO 8601"),
        ("0,10,3\n", "traffic.csv:1: expected two columns"),
        ("0,10\nnan,5\n", "traffic.csv:2: timestamp 'nan' must be a finite number"),
        ("inf,5\n", "traffic.csv:1: timestamp 'inf' must be a finite number"),
    ]:
        bad = tmp_path / "traffic.csv"
        bad.write_text(body)
        with pytest.raises(ConfigError, match=message or "no traffic rows"):
            read_csv(bad)


def test_sub_second_rows_are_averaged_not_dropped(tmp_path: Path) -> None:
    """Rows 0.5 s apart alternating 0 and 2000 req/s arrive at 1000 req/s; none of them is lost."""
    rows = tmp_path / "half.csv"
    rows.write_text("timestamp,rps\n" + "".join(f"{t / 2},{0 if t % 2 == 0 else 2000}\n" for t in range(20)))
    traffic = read_csv(rows)
    assert traffic.seconds == 10 and traffic.rates == (1000.0,) * 10
    uneven = tmp_path / "uneven.csv"
    uneven.write_text("0,100\n0.25,0\n1.5,300\n")  # 100 req/s for 0.25 s, 0 until 1.5 s, then 300 for one step (0.25 s)
    assert read_csv(uneven).rates == pytest.approx((25.0, 75.0))


def test_the_p95_table_is_the_queueing_models_p95() -> None:
    """The simulator's numpy table and the capacity model's scalar M/M/c quantile are one formula."""
    from loadtest.analysis.queueing import PooledQueue, ServiceTime

    queue = PooledQueue(2 * SERVICE.concurrency, ServiceTime(SERVICE.slot_mean_s, SERVICE.service_sigma))
    p95_table, mean_table = SERVICE.tables(2)
    for load in (0.1, 0.5, 0.8, 0.95):
        rate = load * queue.capacity_rps
        assert p95_table[round(load * 100)] == pytest.approx(1000 * queue.response_quantile_s(rate), rel=0.01)
        assert mean_table[round(load * 100)] == pytest.approx(queue.mean_response_s(rate), rel=0.001)


def test_a_traffic_file_with_times_plans_in_time_of_day(tmp_path: Path) -> None:
    """ISO 8601 rows: the charts' axis, the actions and the first scale-out read in the file's time of day."""
    from loadtest.formats.plan_html import clock_ticks, render_plan_html
    from loadtest.formats.plan_terminal import plan_table
    from loadtest.planning.document import plan_document

    path = tmp_path / "day.csv"
    path.write_text("timestamp,rps\n" + "".join(
        f"2026-11-28T09:{minute:02d}:00+01:00,{40 if minute < 5 else 160}\n" for minute in range(20)))
    traffic = read_csv(path)
    assert traffic.start is not None and traffic.clock(0) == "09:00:00" and traffic.clock(3725) == "10:02:05"
    config = stack(hpa={"minReplicas": 1, "maxReplicas": 6, "targetCpuUtilization": 50})
    simulation = simulate_stack(config, traffic, SERVICE, "hpa")  # type: ignore[arg-type]
    document = plan_document("t", "Pulumi.t.yaml", traffic, SERVICE, SLO, [simulation])
    first = document["simulations"]["hpa"]["actions"][0]
    assert first["time"] == traffic.clock(first["at"]) and first["time"].startswith("09:05")
    assert document["simulations"]["hpa"]["summary"]["first_scale_out_time"] == first["time"]
    assert document["traffic"]["start"] == "2026-11-28T09:00:00+01:00"
    assert clock_ticks(document["traffic"]["start"], 1200)[:2] == [(0.0, "09:00"), (300.0, "09:05")]
    assert 'class="tick">09:05</text>' in render_plan_html(document) and "time of day" in render_plan_html(document)
    from rich.console import Console
    console = Console(width=200, record=True)
    console.print(plan_table(document))
    assert f"{first['time']} (+{first['at']} s)" in console.export_text()
    # Offsets in seconds have no time of day: the plan stays in seconds.
    offsets = tmp_path / "offsets.csv"
    offsets.write_text("0,40\n60,160\n")
    assert read_csv(offsets).start is None and read_csv(offsets).clock(5) is None


def test_growth_scales_a_file_and_a_profile() -> None:
    from loadtest.planning.traffic import grown

    file = Traffic("day", "a day", rates=(100.0, 200.0))
    assert grown(file, 30).rates == pytest.approx((130.0, 260.0)) and "grown by 30 %" in grown(file, 30).description
    assert grown(file, 0) is file and grown(file, -50).rates == pytest.approx((50.0, 100.0))
    users = profile("normal", stack())  # type: ignore[arg-type]
    more = grown(users, 100)
    assert more.users[-1] == 2 * users.users[-1] and more.think_s == users.think_s and not more.rates
