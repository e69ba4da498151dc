"""The seed's programmatic API, as a thin facade over headroom's real modules.

    tester = LoadTester("http://127.0.0.1:8080")
    plan = tester.create_test_plan(max_users=500, ramp_time=300)
    results = tester.run_load_test(duration=600, max_users=500)
    metrics = tester.collect_metrics(results)
    analysis = tester.analyze_results(metrics)
    print(tester.generate_report(metrics, analysis))

``run_load_test`` runs Locust exactly as ``headroom validate --host`` does and returns
the JSON report (docs/report.md); the other methods only read it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from infra.config import SloConfig, StackConfig

from .analysis.verdict import latency_class
from .formats import render_text
from .report.load import parse_report
from .scenario.profiles import PROFILES, TASK_WEIGHTS
from .validation.request import ValidationRequest
from .validation.run import run_validation

SCENARIO_ENDPOINTS = {
    "predict": "GET /api/v1/predict/{symbol}",
    "batch": "POST /api/v1/predict/batch",
    "health": "GET /api/v1/health",
}


class LoadTester:
    def __init__(self, base_url: str, slo: SloConfig | None = None, workdir: Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.slo = slo or SloConfig()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="headroom-"))

    def create_test_plan(self, max_users: int = 500, ramp_time: float = 300) -> dict[str, Any]:
        """Users, spawn rate (users / ramp time) and the weighted scenarios of the normal profile."""
        if max_users < 1 or ramp_time < 0:
            raise ValueError("max_users must be at least 1 and ramp_time not negative")
        profile = PROFILES["normal"]
        total = sum(TASK_WEIGHTS.values())
        return {
            "max_users": max_users,
            "ramp_time": ramp_time,
            "spawn_rate": float(max_users) if ramp_time == 0 else max_users / ramp_time,
            "user_class": profile.user_class,
            "think_time_s": {"min": profile.wait_min_s, "max": profile.wait_max_s},
            "scenarios": [
                {"name": name, "endpoint": SCENARIO_ENDPOINTS[name], "weight": weight, "share": weight / total}
                for name, weight in TASK_WEIGHTS.items()
            ],
        }

    def run_load_test(self, duration: float, max_users: int = 500, ramp_time: float | None = None) -> dict[str, Any]:
        """Run the normal profile against ``base_url``; returns the JSON report as a dict."""
        ramp = ramp_time if ramp_time is not None else min(self.slo.ramp_duration_seconds, duration / 2)
        request = ValidationRequest(
            stack_name="api",
            stack_path=self.workdir / "Pulumi.api.yaml",
            config=StackConfig(slo=self.slo),
            host=self.base_url,
            users=max_users,
            ramp_s=ramp,
            run_time_s=duration,
        )
        return run_validation(request).to_json_dict()

    def collect_metrics(self, results: dict[str, Any] | None) -> dict[str, Any]:
        """Headline figures of the judged window; zeros for an empty or missing result."""
        judged = ((results or {}).get("results") or {}).get("judged") or {}
        latency = judged.get("latency") or {}
        return {
            "total_requests": int(judged.get("requests", 0)),
            "failed_requests": int(judged.get("failures", 0)),
            "error_rate": float(judged.get("error_rate_percent", 0.0)),
            "requests_per_second": float(judged.get("throughput_rps", 0.0)),
            "avg_response_time": float(latency.get("mean_ms", 0.0)),
            "p50_response_time": float(latency.get("p50_ms", 0.0)),
            "p95_response_time": float(latency.get("p95_ms", 0.0)),
            "p99_response_time": float(latency.get("p99_ms", 0.0)),
            "max_response_time": float(latency.get("max_ms", 0.0)),
            "status": ((results or {}).get("verdict") or {}).get("status", "NO DATA"),
        }

    def analyze_results(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """SLO compliance and the seed's performance rating from collected metrics."""
        has_data = metrics.get("total_requests", 0) > 0
        p95 = float(metrics.get("p95_response_time", 0.0))
        error_rate = float(metrics.get("error_rate", 0.0))
        return {
            "has_data": has_data,
            "slo_compliance": {
                f"p95_under_{self.slo.p95_ms:g}ms": has_data and p95 < self.slo.p95_ms,
                f"error_rate_under_{self.slo.error_rate_percent:g}pct": has_data and error_rate < self.slo.error_rate_percent,
            },
            "performance_rating": latency_class(p95) if has_data else "No data",
        }

    def generate_report(self, metrics: dict[str, Any], analysis: dict[str, Any] | None = None, results: dict[str, Any] | None = None) -> str:
        """The seed's plain text report; from a full result when given, else from the metrics."""
        if results is not None:
            return render_text(parse_report(results, "results"))
        analysis = analysis or self.analyze_results(metrics)
        lines = ["=" * 64, "LOAD TEST REPORT - headroom", "=" * 64, f"Target: {self.base_url}", ""]
        lines += [f"  {key}: {value}" for key, value in metrics.items()]
        lines += ["", "SLO Compliance:"]
        lines += [f"  {key}: {'PASS' if ok else 'FAIL'}" for key, ok in analysis["slo_compliance"].items()]
        lines += ["", f"Performance Rating: {analysis['performance_rating']}", "=" * 64]
        return "\n".join(lines) + "\n"
