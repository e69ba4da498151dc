"""The autoscaled local stack: real replicas started and stopped by the HPA model, real nginx reloads, real load.

One replica of 8 workers at 40 ms serves about 200 req/s. The HPA scales on each pod's
request rate (the Pods metric prometheus-adapter would serve, averaged over its rate
window) against a target of 80 req/s per pod. A spike of 150 users thinking about
1 s sends about 145 req/s (less on a busy machine): once the window's average passes 88
(the target and its 10 % tolerance), the next sync asks for 2. A second, light run (20 users)
lets the HPA scale back to 1 once the scale-down window has passed, while traffic flows.

The controller runs time-scaled (``local up --hpa-time-scale 5``, for tests and benchmarks
only: loadtest.planning.timescale): a sync every 3 s, the 60 s rate window and the 60 s
scale-down window in 12 s each, the policies' 15 s periods in 3 s, a pod's 3 s start in 0.6 s;
the simulator it is compared with runs the same scaled controller on the run's real load.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import headroom, lost_only_to_reload_races

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # the controller acts on measured utilization
SCALE = 5

STACK = """\
config:
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:hpa:
    minReplicas: 1
    maxReplicas: 4
    scalingMetric: requestsPerSecond
    targetRequestsPerSecond: 80
    scaleDown:
      stabilizationWindowSeconds: 60
      policies:
        - type: Percent
          value: 100
          periodSeconds: 15
  headroom:capacity:
    podStartSeconds: 3
  headroom:slo:
    users: 150
    rampSeconds: 3
    runTime: 20s
    p95Ms: 500
    errorRatePercent: 5
  headroom:local:
    workers: 8
    serviceTime:
      distribution: lognormal
      meanMs: 40
      sigma: 0.5
"""


def timeline(stack: Path) -> list[dict]:  # type: ignore[type-arg]
    path = stack.parent / ".headroom" / "local" / "as" / "autoscale.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_spike_scales_out_and_back_without_losing_a_request(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: headroom-test\nruntime: python\n")
    stack = tmp_path / "Pulumi.as.yaml"
    stack.write_text(STACK)
    try:
        up = headroom("local", "up", "--stack", str(stack), "--autoscale", "--hpa-time-scale", str(SCALE), "--detach", timeout=90)
        assert up.returncode == 0, up.stderr
        spike = headroom("validate", "--stack", str(stack), "--profile", "spike", "--json", str(tmp_path / "spike.json"))
        # The verdict is not the point here (a busy machine may leave the p95 undecided: 3); a FAIL or an error is.
        assert spike.returncode in (0, 3), spike.stdout + spike.stderr
        # The scale-in came 17 s into the light run in each of three runs: the recommendation drops to 1 once enough
        # of the spike has left the scaled 12 s rate window, then the scaled 12 s stabilization holds it. 24 s leaves
        # two of the 3 s syncs to spare.
        light = headroom("validate", "--stack", str(stack), "--profile", "stress", "--users", "20", "--ramp", "1", "--run-time", "24s",
                         "--json", str(tmp_path / "light.json"))
        rows = timeline(stack)
    finally:
        down = headroom("local", "down", "--stack", str(stack))
    assert down.returncode == 0

    report = json.loads((tmp_path / "spike.json").read_text())
    scaling = report["autoscaling"]
    assert scaling["hpa_time_scale"] == SCALE
    # Scale-out at the first sync that read the rate above the target and its tolerance (80 x 1.1, plus 1 for
    # the metric's rounding), by the autoscaler's own records rather than elapsed time: a busy machine may deliver
    # the load late, but no sync may see it and do nothing.
    assert scaling["measured_actions"][0]["replicas"] == 2, scaling["measured_actions"]
    assert "req/s per pod" in scaling["measured_actions"][0]["action"]
    first_out = next(r for r in rows if "action" in r and r["replicas"] == 2)
    missed = [r for r in rows if r.get("sync") and r["t"] < first_out["t"] and r["metric"] > 80 * 1.1 + 1]
    assert first_out.get("sync") and missed == [], rows
    # No request lost across the scale-outs' nginx reloads, but for nginx's keep-alive race on each (conftest).
    assert lost_only_to_reload_races(report["results"]["whole_run"], len(scaling["measured_actions"])), (
        report["results"]["whole_run"]["failure_reasons"], scaling["measured_actions"])
    # The real timeline stays within one replica of the simulator's for the same load.
    assert scaling["max_difference"] <= 1, (scaling["measured_replicas"], scaling["predicted_replicas"])
    # Right after the split the first pod's 60 s rate still holds the load it carried alone, so a third pod may
    # follow for a while, in the real controller's arithmetic as in the simulator's (each pod's own window).
    assert 2 <= max(scaling["measured_replicas"]) <= 3 and 2 <= max(scaling["predicted_replicas"]) <= 3

    # The light run: the scale-in happens under traffic, only after the (scaled) 60 s window, and loses nothing.
    assert light.returncode in (0, 3), light.stdout + light.stderr  # as the spike: no FAIL, no error
    light_report = json.loads((tmp_path / "light.json").read_text())
    assert lost_only_to_reload_races(light_report["results"]["whole_run"], len(light_report["autoscaling"]["measured_actions"]))
    outs = [r for r in rows if "action" in r and r["replicas"] == 2]
    ins = [r for r in rows if "action" in r and r["replicas"] == 1]
    assert outs and ins, rows
    spike_syncs = [r["t"] for r in rows if r.get("sync") and r["t"] <= ins[0]["t"] and r["metric"] > 40]
    assert ins[0]["t"] - spike_syncs[-1] >= 60 / SCALE - 1, "scaled in before the stabilization window passed"
    light_measured = light_report["autoscaling"]["measured_replicas"]
    assert light_measured[0] >= 2 and light_measured[-1] == 1
