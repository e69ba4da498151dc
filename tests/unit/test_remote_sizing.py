"""Sizing a service no metrics source reports on: the ramp is the load sweep, given how many replicas served it.

tests/data/report.json is a real run on one replica (85 % pool utilization). Read with
no infrastructure figure at all, as a remote service is, the capacity model needs one
figure more, the replica count, and says so; given it (headroom:capacity.replicas or
``--replicas``), it fits the capacity to the latency over the ramp and lands within one
replica of what the pool figure gives.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from infra.config import config_from_keys
from loadtest.analysis.capacity import estimate
from loadtest.analysis.recommendations import recommend
from loadtest.metrics.model import TimeWindow
from loadtest.metrics.sources import source_for
from loadtest.report.model import InfraMetrics, Report

DATA = Path(__file__).resolve().parents[1] / "data"
REMOTE = InfraMetrics(source="local", available=False, warnings=[
    ("headroom:metrics.source is auto, which means 'local' for a stack that deploys nothing, and the target was "
    "another host, so no replica reported any utilization")])


def stack(**capacity: object):  # type: ignore[no-untyped-def]
    return config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": True},
                             "headroom:slo": {"users": 60, "p95Ms": 200, "rampSeconds": 10, "runTime": "60s"},
                             "headroom:capacity": capacity}, "x")


def recorded() -> tuple[dict[str, object], Report]:
    data = json.loads((DATA / "report.json").read_text())
    return data, Report.model_validate(data)


def test_without_the_replica_count_the_message_names_it_and_the_three_ways_to_give_it() -> None:
    _, report = recorded()
    result = estimate(report, REMOTE, stack())
    assert not result.available
    (why,) = result.explanation
    assert "the one missing figure is how many replicas served the run" in why
    assert "headroom:capacity.replicas" in why and "--replicas N" in why and "headroom:metrics.source" in why
    assert "headroom:metrics.source is auto, which means 'local'" in why  # the source the user never chose: auto's
    failing = report.model_copy(update={"slo": report.slo.model_copy(update={"p95_ms": 20.0})})
    latency = next(r for r in recommend(failing, REMOTE, estimate(failing, REMOTE, stack()), stack()) if r.rule == "latency")
    assert "headroom:capacity.replicas" in latency.detail and not latency.changes


def test_the_auto_source_on_another_host_says_it_was_auto() -> None:
    local = config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False}}, "x")
    (warning,) = source_for(local, None).stop(TimeWindow(0.0, 1.0)).warnings
    assert warning == REMOTE.warnings[0]
    chosen = config_from_keys({"headroom:deploy": {"aws": False, "kubernetes": False}, "headroom:metrics": {"source": "local"}}, "x")
    assert source_for(chosen, None).stop(TimeWindow(0.0, 1.0)).warnings[0].startswith("headroom:metrics.source is local,")


def test_with_the_replica_count_the_ramp_sizes_it_as_the_pool_figure_does() -> None:
    data, report = recorded()
    assert report.infrastructure is not None
    pool = estimate(Report.model_validate(copy.deepcopy(data)), report.infrastructure, stack())
    remote = estimate(report, REMOTE, stack(replicas=1))
    assert remote.available and remote.capacity_source == "the run's latency over its ramp (no metrics; the replica count stated)"
    assert "the ramp is the load sweep" in remote.explanation[0] and "(stated" in remote.explanation[0]
    assert remote.capacity_per_replica_rps == pytest.approx(pool.capacity_per_replica_rps, rel=0.35)
    assert remote.replicas_for_slo is not None and pool.replicas_for_slo is not None
    assert abs(remote.replicas_for_slo - pool.replicas_for_slo) <= 1
    assert remote.cpu_ms_per_request is None and remote.load_percent is None  # nothing is made up


def test_a_run_with_no_queueing_and_no_metrics_is_not_sized_and_says_why() -> None:
    data, _ = recorded()
    flat = copy.deepcopy(data)
    for window in flat["timeline"]:  # type: ignore[union-attr]
        window["mean_ms"] = 40.0
    flat["results"]["judged"]["latency"]["mean_ms"] = 41.0  # type: ignore[index]
    result = estimate(Report.model_validate(flat), REMOTE, stack(replicas=1))
    assert not result.available and result.replicas_measured == 1
    assert "no queueing seen" in result.explanation[0] and "the service's own cost" in result.explanation[0]
