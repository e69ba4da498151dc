"""A concurrency-bound service on the local stack: CPU does not track its SLO; the request rate headroom proposes does.

The service: 8 workers per replica at 40 ms and 0.2 ms of burnt CPU per request, so a
replica saturates near 175 req/s while its process uses about 1.5 ms of CPU per request
(aiohttp's own work included), about 50 % of the 500m request at the load where the p95
breaks. A 70 % CPU HPA would never scale before the SLO breaks.

1. A validation of the stack autoscaled on CPU (70 %, from 2 replicas) measures that: the
   CPU HPA does nothing, and the report's capacity model says its CPU signal does not track
   the SLO, with the measured CPU at the breaking load, and proposes ``scalingMetric:
   requestsPerSecond`` with a target; ``--write`` applies it.
2. The autoscaled local stack, on the proposed signal, through the spike the capacity
   model sizes for (twice the SLO's users, thinking 1 s): it scales out on the request
   rate and the SLO holds, the simulator's replica timeline within one of the real one. Its
   controller runs three times faster (``--hpa-time-scale 3``): the same decisions on the
   same load in a third of the time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import headroom, leftover_processes, lost_only_to_reload_races
from ruamel.yaml import YAML

pytestmark = pytest.mark.slow
SCALE = 3
"""The spike's controller clock (loadtest.planning.timescale): a sync every 5 s, the rate window and pod start a third."""
SPIKE_RUN_TIME = "40s"
"""120 s of the unscaled controller's time. The first scale-out comes after the 20 s rate window has filled with the
spike (24 s into a 30 s run, measured): 40 s leaves it three syncs to spare on a slower machine."""

STACK = """\
config:
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:hpa:
    minReplicas: 2
    maxReplicas: 4
    targetCpuUtilization: 70
    scaleDown:
      stabilizationWindowSeconds: 30
      policies:
        - type: Percent
          value: 100
          periodSeconds: 15
  headroom:capacity:
    podStartSeconds: 3
    growthPercentPerMinute: 200   # surges that triple within a minute: the target keeps that room
  headroom:slo:
    users: 150
    rampSeconds: 10
    runTime: 40s
    p95Ms: 400
    errorRatePercent: 5
  headroom:local:
    replicas: 2
    workers: 8
    cpuMs: 0.2
    serviceTime:
      distribution: lognormal
      meanMs: 40
      sigma: 0.5
"""


def test_cpu_does_not_track_and_the_proposed_request_signal_holds_the_spike(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: headroom-test\nruntime: python\n")
    stack = tmp_path / "Pulumi.show.yaml"
    stack.write_text(STACK)

    measured = headroom("validate", "--stack", str(stack), "--autoscale", "--json", str(tmp_path / "a.json"), "--write",
                        timeout=300)
    assert measured.returncode == 0, measured.stdout + measured.stderr
    report = json.loads((tmp_path / "a.json").read_text())
    capacity, infra = report["capacity"], report["infrastructure"]
    # The CPU HPA never acted: CPU stayed far below its 70 % target while the pool carried the load.
    assert report["autoscaling"]["measured_actions"] == [] and set(report["autoscaling"]["measured_replicas"]) == {2}
    (check,) = capacity["signals"]
    assert (check["autoscaler"], check["metric"], check["tracks"]) == ("hpa", "cpu", False)
    # The CPU at the breaking load is the run's own: its CPU seconds over its requests x the breaking rate / 500m.
    assert capacity["cpu_ms_per_request"] == pytest.approx(infra["cpu_ms_per_request"])
    cpu = capacity["cpu_percent_at_breaking_load"]
    assert cpu == pytest.approx(100 * infra["cpu_ms_per_request"] * capacity["breaking_rps_per_replica"] / 1000 / 0.5)
    assert check["value_at_breaking_load"] == pytest.approx(cpu) and cpu < check["threshold"] == pytest.approx(77.0)
    signal = next(r for r in report["recommendations"] if r["rule"] == "signal")
    assert f"{cpu:.0f} % of its request" in signal["detail"]
    proposed = {c["path"]: c["new"] for c in report["proposal"]["changes"]}
    assert proposed["headroom:hpa.scalingMetric"] == "requestsPerSecond"
    target = proposed["headroom:hpa.targetRequestsPerSecond"]
    assert target == check["proposed_target"] and 0 < target < capacity["capacity_per_replica_rps"]
    written = YAML(typ="safe").load(stack.read_text())["config"]["headroom:hpa"]
    assert (written["scalingMetric"], written["targetRequestsPerSecond"]) == ("requestsPerSecond", target)

    try:
        up = headroom("local", "up", "--stack", str(stack), "--autoscale", "--hpa-time-scale", str(SCALE), "--detach", timeout=90)
        assert up.returncode == 0, up.stderr
        # The spike the capacity model sizes the maximum for: 2 x 150 users thinking as the seed's spike users do.
        spike = headroom("validate", "--stack", str(stack), "--profile", "spike", "--users", "300", "--run-time", SPIKE_RUN_TIME,
                         "--json", str(tmp_path / "b.json"), timeout=300)
    finally:
        down = headroom("local", "down", "--stack", str(stack))
    assert down.returncode == 0
    assert leftover_processes(str(tmp_path)) == []

    assert spike.returncode == 0, spike.stdout + spike.stderr  # the SLO holds
    scaled = json.loads((tmp_path / "b.json").read_text())
    autoscaling = scaled["autoscaling"]
    assert scaled["results"]["judged"]["latency"]["p95_ms"] < 400
    # No request lost to the scale-outs, but for nginx's keep-alive race on each reload (conftest).
    assert lost_only_to_reload_races(scaled["results"]["whole_run"], len(autoscaling["measured_actions"])), (
        scaled["results"]["whole_run"]["failure_reasons"])
    outs = [a for a in autoscaling["measured_actions"] if a["replicas"] > 2]
    assert outs and "req/s per pod" in outs[0]["action"], autoscaling["measured_actions"]
    assert autoscaling["max_difference"] <= 1, (autoscaling["measured_replicas"], autoscaling["predicted_replicas"])
