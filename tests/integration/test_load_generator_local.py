"""The load generator's master/worker topology, run for real on this machine with 2 local workers.

The command lines are read from the rendered manifests (the master Job's and the workers'
Deployment's `command`), not rebuilt: only what a pod has and this machine has not is mapped,
namely the mount paths (the ConfigMap's files are written to temporary directories), the
master's Service name (127.0.0.1 here) and its bind address (loopback, not 0.0.0.0). The target
is one replica of the reference service on 127.0.0.1; the run is tiny. The master's merged
recording must hold both workers' requests: the server counts the same predictions.
"""

from __future__ import annotations

import copy
import fcntl
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from ruamel.yaml import YAML

from infra.config import REPO_ROOT, config_from_keys, read_stack_keys
from infra.load_generator import CONFIG_DIR, LOCUST_MASTER_PORT, WORK_DIR
from infra.render import render_artifact

pytestmark = [pytest.mark.slow]  # exact counts, not latencies: it runs beside other tests, one at a time on the port
WORKERS = 2


def manifest(artifact: str, config: Any) -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load(render_artifact(artifact, config))


def start_reference(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtest.reference", "--port", "0", "--behaviour", json.dumps({"workers": 16})],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "reference.log", "w"), text=True,  # noqa: SIM115
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("READY "), line
    return process, int(line.split()[1])


def local_command(command: list[str], mounts: dict[str, Path], master_host: str) -> list[str]:
    """A pod's command on this machine: mount paths to the directories standing for them, the master's address."""
    mapped = []
    for arg in command:
        local = arg
        for mount, directory in mounts.items():
            if arg == mount or arg.startswith(mount + "/"):
                local = str(directory) + arg[len(mount):]
        mapped.append(local)
    for flag, local in (("--master-host", "127.0.0.1"), ("--master-bind-host", "127.0.0.1")):
        if flag in mapped:
            index = mapped.index(flag) + 1
            if flag == "--master-host":
                assert mapped[index] == master_host  # the Service the manifests create
            mapped[index] = local
    return mapped


@pytest.fixture
def master_port() -> Iterator[int]:
    """Locust's fixed master port (the manifests' own), held by one test at a time across the test processes.

    An exclusive lock on a file named for the port: pytest-xdist may give both cases to different
    processes, and the second waits for the first instead of finding the port taken.
    """
    with open(Path(tempfile.gettempdir()) / f"headroom-tests-port-{LOCUST_MASTER_PORT}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield LOCUST_MASTER_PORT


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


DECLARED = {"requests": [{"name": "health", "path": "/api/v1/health"}], "thinkTime": {"min": 0.1, "max": 0.3}}


@pytest.mark.parametrize("scenario", [None, DECLARED], ids=["reference", "declared"])
def test_master_and_two_workers_merge_an_exact_recording(tmp_path: Path, scenario: dict[str, Any] | None,
                                                         master_port: int) -> None:
    assert port_is_free(master_port), f"port {master_port} (Locust's master port) is taken on this machine"
    reference, port = start_reference(tmp_path)
    processes: list[subprocess.Popen[str]] = [reference]
    try:
        keys = copy.deepcopy(read_stack_keys(REPO_ROOT / "Pulumi.prod.yaml"))
        keys["headroom:slo"] = {"users": 20, "rampSeconds": 1, "runTime": "8s", "p95Ms": 200, "errorRatePercent": 5}
        keys["headroom:loadGenerator"] = {"enabled": True, "workers": WORKERS, "url": f"http://127.0.0.1:{port}"}
        if scenario is not None:
            keys["headroom:scenario"] = scenario
        config = config_from_keys(keys, "Pulumi.prod.yaml")

        files = manifest("loadgen-configmap.yaml", config)["data"]
        job = manifest("loadgen-master-job.yaml", config)
        deployment = manifest("loadgen-worker-deployment.yaml", config)
        service = manifest("loadgen-master-service.yaml", config)
        (master_container,) = job["spec"]["template"]["spec"]["containers"]
        (worker_container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert deployment["spec"]["replicas"] == WORKERS
        assert service["spec"]["ports"][0]["port"] == LOCUST_MASTER_PORT

        # What the volumes hold in the pods: the ConfigMap's files, under each mount.
        config_dir, work_dir = tmp_path / "etc-headroom", tmp_path / "work"
        config_dir.mkdir()
        work_dir.mkdir()
        for mount in worker_container["volumeMounts"]:
            if mount["mountPath"] == CONFIG_DIR:
                (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
                for item in volume["configMap"]["items"]:
                    (config_dir / item["path"]).write_text(files[item["key"]])
        for mount in master_container["volumeMounts"]:
            if "subPath" in mount:
                Path(str(work_dir) + mount["mountPath"][len(WORK_DIR):]).write_text(files[mount["subPath"]])
        mounts = {CONFIG_DIR: config_dir, WORK_DIR: work_dir}
        master_host = service["metadata"]["name"]
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

        master_log = open(tmp_path / "master.log", "w")  # noqa: SIM115
        master = subprocess.Popen(local_command(master_container["command"], mounts, master_host), env=env, cwd=tmp_path,
                                  stdout=master_log, stderr=subprocess.STDOUT, text=True)
        processes.append(master)
        for index in range(deployment["spec"]["replicas"]):
            processes.append(subprocess.Popen(
                local_command(worker_container["command"], mounts, master_host), env=env, cwd=tmp_path,
                stdout=open(tmp_path / f"worker-{index}.log", "w"), stderr=subprocess.STDOUT, text=True,  # noqa: SIM115
            ))
        code = master.wait(timeout=150)
        log = (tmp_path / "master.log").read_text()
        assert code in (0, 1, 3), log[-3000:]
        # The workers end with their master (docs/pipelines.md: the Deployment then restarts them).
        for worker in processes[2:]:
            worker.wait(timeout=30)

        report = json.loads((work_dir / "report.json").read_text())
        assert code == {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}[report["verdict"]["status"]]
        assert f"OVERALL: {report['verdict']['status']}" in log  # the Job's log is the text report
        assert report["load"]["workers"] == WORKERS
        [recording_path] = glob.glob(str(work_dir / ".headroom" / "runs" / "loadgen" / "*" / "recording.json"))
        recording = json.loads(Path(recording_path).read_text())
        assert recording["workers"] == WORKERS  # both workers reported to the master

        endpoints = {e["name"]: e["requests"] for e in report["results"]["whole_run"]["endpoints"]}
        if scenario is not None:  # the workers sent the stack's scenario, not the reference
            assert set(endpoints) == {"health"} and endpoints["health"] > 0
        else:  # exact: the server counted the same predictions (but for a few in flight at the stop)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_headroom/stats", timeout=5) as response:
                server = HdrHistogram.decode(json.loads(response.read())["histograms"]["predict"]).get_total_count()
            client = endpoints["/api/v1/predict/[symbol]"]
            assert client > 0
            assert 0 <= server - client <= 20, (server, client)  # at most one per user
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
