"""``validate --openmetrics``: the renderer on a fixed report (golden lines), checked by the real
``promtool check metrics``, and the pieces of the local stack's Prometheus that need no process."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from synthetic import synthetic_report

from infra.errors import ConfigError
from loadtest.formats.openmetrics import render_openmetrics as _render_openmetrics
from loadtest.local.prometheus import render_config, render_targets
from loadtest.reference.exposition import BUCKETS, LatencyHistogram, PodIdentity, render
from loadtest.report.model import Report

REPORT = {
    "stack": "prod",
    "host": "https://api.example.com",
    "generated_at": "2026-11-29T03:00:00+00:00",
    "verdict": {"status": "FAIL", "exit_code": 1, "reasons": ["p95 above 200 ms"]},
    "criteria": [
        {"name": "p95 response time", "key": "p95_ms", "measured": 250.0, "threshold": 200.0, "comparison": "<", "unit": "ms",
         "passed": False, "decisive": True, "margin": -50.0, "margin_percent": -25.0, "interval": {"lower": 240.0, "upper": 262.5}},
        {"name": "error rate", "key": "error_rate_percent", "measured": 1.5, "threshold": 5.0, "comparison": "<", "unit": "%",
         "passed": True, "decisive": True, "margin": 3.5, "margin_percent": 70.0, "interval": None},
    ],
    "results": {"judged": {"requests": 9000, "failures": 135}, "whole_run": {"requests": 12000, "failures": 140}},
    "infrastructure": {"source": "prometheus", "available": True, "warnings": [], "replicas": 3, "server_p95_ms": 245.0},
    "capacity": {"replicas_for_slo": 5, "replicas_for_plan": 9, "hpa_min": 5, "hpa_max": 12, "asg_min": None, "asg_max": None},
    "proposal": {"changes": [{"path": "headroom:hpa.minReplicas", "old": 2, "new": 5, "reason": "r"},
                             {"path": "headroom:service.memoryRequest", "old": "512Mi", "new": "768Mi", "reason": "r"}]},
}
BASE = 'stack="prod",endpoint="https://api.example.com"'


def _completed(partial: dict, base: dict) -> dict:  # type: ignore[type-arg]
    """``partial`` laid over a whole report (nested mappings merged), so the typed model accepts it."""
    merged = copy.deepcopy(base)
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _completed(value, merged[key])
        else:
            merged[key] = value
    return merged


REPORT = _completed(REPORT, synthetic_report().to_json_dict())
REPORT["capacity"] = {"available": True, "explanation": [], **REPORT["capacity"]}
REPORT["proposal"] = {"stack_file": "Pulumi.prod.yaml", "diff": "", "pulumi_commands": [], **REPORT["proposal"]}


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run scripts/setup --test (Debian's prometheus package)"
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


def test_verdict_criteria_counts_and_proposal_as_gauges_in_base_units() -> None:
    text = render_openmetrics(REPORT)
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("\n")
    for expected in (
        f'headroom_verdict{{{BASE},status="PASS"}} 0',
        f'headroom_verdict{{{BASE},status="FAIL"}} 1',
        f"headroom_exit_code{{{BASE}}} 1",
        f"headroom_last_run_timestamp_seconds{{{BASE}}} 1795921200.0",
        f'headroom_criterion_measured{{{BASE},criterion="p95_latency",unit="seconds"}} 0.25',
        f'headroom_criterion_threshold{{{BASE},criterion="p95_latency",unit="seconds"}} 0.2',
        f'headroom_criterion_margin{{{BASE},criterion="p95_latency",unit="seconds"}} -0.05',
        f'headroom_criterion_lower_bound{{{BASE},criterion="p95_latency",unit="seconds"}} 0.24',
        f'headroom_criterion_upper_bound{{{BASE},criterion="p95_latency",unit="seconds"}} 0.2625',
        f'headroom_criterion_passed{{{BASE},criterion="p95_latency",unit="seconds"}} 0',
        f'headroom_criterion_measured{{{BASE},criterion="error_rate",unit="ratio"}} 0.015',
        f'headroom_requests{{{BASE},window="judged"}} 9000',
        f'headroom_failures{{{BASE},window="whole_run"}} 140',
        f"headroom_replicas{{{BASE}}} 3",
        f"headroom_server_p95_latency_seconds{{{BASE}}} 0.245",
        f'headroom_proposed_replicas{{{BASE},target="slo"}} 5',
        f'headroom_proposed_replicas{{{BASE},target="hpa_max"}} 12',
        f'headroom_proposed_setting{{{BASE},setting="headroom:hpa.minReplicas"}} 5',
        "# TYPE headroom_verdict gauge",
    ):
        assert expected in lines, expected
    # No interval for the error rate, no ASG figures, no non-numeric setting: absent, not zero.
    assert 'headroom_criterion_lower_bound{' + BASE + ',criterion="error_rate"' not in text
    assert 'target="asg_min"' not in text and "memoryRequest" not in text
    # Each family's HELP and TYPE once, its samples together (OpenMetrics requires it).
    names = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_label_values_are_escaped_and_still_valid() -> None:
    report = copy.deepcopy(REPORT)
    report["stack"] = 'we"ird\\stack'
    text = render_openmetrics(report)
    assert 'stack="we\\"ird\\\\stack"' in text
    assert promtool_check(text).returncode == 0


def test_endpoint_criteria_with_their_request_label_are_valid() -> None:
    """Per-endpoint criteria add a ``request`` label to some samples of a family, and omit ``measured`` for none sent."""
    text = _render_openmetrics(synthetic_report(further=True))
    assert 'request="/api/v1/predict/batch"' in text and 'criterion="p99_latency"' in text
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_comparison_adds_valid_families_to_the_report_and_stands_alone() -> None:
    """``validate --baseline``'s report and ``compare --openmetrics``: the headroom_comparison_* gauges pass promtool."""
    from loadtest.analysis.regression import compare_reports
    from loadtest.formats.comparison import render_comparison_openmetrics
    from loadtest.report.comparison import Tolerance

    candidate = synthetic_report(50.0)
    comparison = compare_reports(synthetic_report(40.0), candidate, Tolerance(percent=5.0))
    with_comparison = _render_openmetrics(candidate.model_copy(update={"comparison": comparison}))
    assert 'headroom_comparison_verdict{stack="local",endpoint="http://127.0.0.1:8080",status="REGRESSED"} 1' in with_comparison
    assert with_comparison.count("# EOF") == 1 and with_comparison.endswith("# EOF\n")
    for text in (with_comparison, render_comparison_openmetrics(comparison)):
        result = promtool_check(text)
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_catches_a_broken_file() -> None:
    # The check the tests rely on can fail: a sample without a value is refused.
    assert promtool_check("# TYPE headroom_verdict gauge\nheadroom_verdict{stack=\"x\"}\n").returncode != 0


def test_replica_exposition_is_valid_and_cumulative() -> None:
    histogram = LatencyHistogram()
    for seconds in (0.004, 0.05, 0.05, 0.199, 0.2, 0.201, 99.0):
        histogram.observe(seconds)
    text = render(PodIdentity(namespace="shop", pod="api-0", container="api", deployment="api"), histogram,
                  in_flight=3, pool_size=8, busy=2, queued=1, busy_seconds=12.5)
    assert 'http_server_request_duration_seconds_bucket{namespace="shop",pod="api-0",le="0.2"} 5' in text
    assert 'http_server_request_duration_seconds_bucket{namespace="shop",pod="api-0",le="60.0"} 6' in text
    assert 'http_server_request_duration_seconds_bucket{namespace="shop",pod="api-0",le="+Inf"} 7' in text
    assert 'http_server_request_duration_seconds_count{namespace="shop",pod="api-0"} 7' in text
    assert 'kube_pod_container_resource_requests{namespace="shop",pod="api-0",container="api",resource="cpu",unit="core"} 0.5' in text
    assert "0.19" in [repr(b) for b in BUCKETS] and "0.21" in [repr(b) for b in BUCKETS]  # 10 ms steps around 200 ms
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(render_targets([8001, 8002]))
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config("vcpml-api", targets))
    result = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(targets.read_text())[0]["targets"] == ["127.0.0.1:8001", "127.0.0.1:8002"]


def test_missing_prometheus_is_exit_2_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import loadtest.local.prometheus as module

    monkeypatch.setattr(module, "PROMETHEUS", "/nonexistent/prometheus")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match=r"scripts/setup --prometheus") as caught:
        module.prometheus_binary()
    assert caught.value.exit_code == 2


def render_openmetrics(report: dict) -> str:  # type: ignore[type-arg]
    """The renderer on the edited JSON, typed at the edge as a saved report is."""
    return _render_openmetrics(Report.model_validate(report))
