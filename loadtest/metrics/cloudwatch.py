"""Metrics of an EC2 Auto Scaling group from CloudWatch: CPU average and maximum, instances in service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..report.model import InfraMetrics, LoadPoint, unavailable
from .model import ReadAfterTheRun, TimeWindow

PERIOD_S = 60


class CloudWatchSource(ReadAfterTheRun):
    """Reads the group's metrics for the run's window after the run (CloudWatch keeps them)."""

    name = "cloudwatch"

    def __init__(self, group_name: str, region: str | None, endpoint_url: str | None, client: Any = None) -> None:
        self.group_name = group_name
        self.region = region
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def unreadable(self) -> str:
        return f"CloudWatch could not be read for group {self.group_name}"

    def _cloudwatch(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch", region_name=self.region, endpoint_url=self.endpoint_url)
        return self._client

    def _statistics(self, namespace: str, metric: str, window: TimeWindow, statistics: list[str]) -> list[dict[str, Any]]:
        start = dt.datetime.fromtimestamp(window.started_at, tz=dt.UTC).replace(second=0, microsecond=0)
        end = dt.datetime.fromtimestamp(window.stopped_at, tz=dt.UTC) + dt.timedelta(seconds=PERIOD_S)
        response = self._cloudwatch().get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": "AutoScalingGroupName", "Value": self.group_name}],
            StartTime=start,
            EndTime=end,
            Period=PERIOD_S,
            Statistics=statistics,
        )
        return sorted(response.get("Datapoints", []), key=lambda point: point["Timestamp"])

    def _read(self, window: TimeWindow) -> InfraMetrics:
        cpu = self._statistics("AWS/EC2", "CPUUtilization", window, ["Average", "Maximum"])
        in_service = self._statistics("AWS/AutoScaling", "GroupInServiceInstances", window, ["Average", "Maximum"])
        if not cpu:
            return unavailable(self.name, f"CloudWatch has no CPUUtilization for group {self.group_name} in the run's window")
        averages = [point["Average"] for point in cpu]
        warnings = [] if in_service else [f"no GroupInServiceInstances for {self.group_name}: enable group metrics collection"]
        return InfraMetrics(
            source=self.name,
            available=True,
            warnings=warnings,
            replicas=round(max(p["Maximum"] for p in in_service)) if in_service else None,
            cpu_percent_avg=sum(averages) / len(averages),
            cpu_percent_max=max(point["Maximum"] for point in cpu),
            timeline=[LoadPoint(offset_s=point["Timestamp"].timestamp() - window.started_at, load_percent=point["Average"])
                      for point in cpu],
        )
