"""Infrastructure metric sources: real clients, and a warning (never a crash) when unreachable."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from conftest import free_port

from loadtest.metrics import TimeWindow
from loadtest.metrics.cloudwatch import CloudWatchSource
from loadtest.metrics.kubernetes import KubernetesSource

GROUP = "vcpml-api-asg"


def test_cloudwatch_reads_the_groups_cpu_and_instances(moto_endpoint: str) -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = now - dt.timedelta(minutes=5)
    dimension = [{"Name": "AutoScalingGroupName", "Value": GROUP}]
    for minute, (cpu, instances) in enumerate([(40.0, 2), (60.0, 2), (85.0, 3), (75.0, 3)]):
        at = start + dt.timedelta(minutes=minute, seconds=30)
        client.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "CPUUtilization", "Dimensions": dimension, "Timestamp": at, "Value": cpu, "Unit": "Percent"}])
        client.put_metric_data(Namespace="AWS/AutoScaling", MetricData=[{"MetricName": "GroupInServiceInstances", "Dimensions": dimension, "Timestamp": at, "Value": instances}])
    # Another group's data must not leak in.
    client.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "CPUUtilization", "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "other"}], "Timestamp": start + dt.timedelta(seconds=30), "Value": 99.0}])

    source = CloudWatchSource(GROUP, "us-east-1", moto_endpoint, client=client)
    source.start()
    metrics = source.stop(TimeWindow(start.timestamp(), (start + dt.timedelta(minutes=4)).timestamp()))
    assert metrics.available, metrics.warnings
    assert metrics.cpu_percent_avg == pytest.approx((40 + 60 + 85 + 75) / 4)
    assert metrics.cpu_percent_max == pytest.approx(85.0)
    assert metrics.replicas == 3
    assert len(metrics.timeline) == 4


def test_cloudwatch_unreachable_is_a_warning() -> None:
    source = CloudWatchSource(GROUP, "us-east-1", f"http://127.0.0.1:{free_port()}")
    import botocore.config

    source._client = boto3.client(
        "cloudwatch", region_name="us-east-1", endpoint_url=source.endpoint_url, aws_access_key_id="x", aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    metrics = source.stop(TimeWindow(time.time() - 60, time.time()))
    assert not metrics.available and "CloudWatch could not be read" in metrics.warnings[0]


class _MetricsApi(BaseHTTPRequestHandler):
    """Answers the two reads KubernetesSource makes, in the shapes the API server uses."""

    def do_GET(self) -> None:
        if self.path.startswith("/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods"):
            assert "labelSelector=app.kubernetes.io%2Fname%3Dvcpml-api" in self.path
            body = {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": [
                {"metadata": {"name": "api-1"}, "timestamp": "2026-11-28T00:00:00Z", "window": "15s",
                 "containers": [{"name": "api", "usage": {"cpu": "400000000n", "memory": "256Mi"}}]},
                {"metadata": {"name": "api-2"}, "timestamp": "2026-11-28T00:00:00Z", "window": "15s",
                 "containers": [{"name": "api", "usage": {"cpu": "300m", "memory": "480Mi"}}]},
            ]}
        elif self.path == "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/vcpml-api/status":
            body = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "vcpml-api"},
                    "spec": {"maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "vcpml-api"}},
                    "status": {"currentReplicas": 2, "desiredReplicas": 3}}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def metrics_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubernetes_client(host: str):  # type: ignore[no-untyped-def]
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = host
    configuration.retries = 0
    return client.ApiClient(configuration)


def test_kubernetes_pod_usage_against_requests(metrics_api: str) -> None:
    source = KubernetesSource("shop", "vcpml-api", "500m", "512Mi", api_client=kubernetes_client(metrics_api))
    metrics = source.stop(TimeWindow(0, 1))
    assert metrics.available, metrics.warnings
    assert [(r.name, r.cpu_percent, r.memory_percent) for r in metrics.per_replica] == [("api-1", 80.0, 50.0), ("api-2", 60.0, 93.75)]
    assert (metrics.cpu_percent_avg, metrics.cpu_percent_max, metrics.memory_percent_max) == (70.0, 80.0, 93.75)
    assert (metrics.replicas, metrics.desired_replicas) == (2, 3)


def test_kubernetes_unreachable_is_a_warning() -> None:
    source = KubernetesSource("shop", "vcpml-api", "500m", "512Mi", api_client=kubernetes_client(f"http://127.0.0.1:{free_port()}"))
    metrics = source.stop(TimeWindow(0, 1))
    assert not metrics.available and "Kubernetes metrics API could not be read" in metrics.warnings[0]
