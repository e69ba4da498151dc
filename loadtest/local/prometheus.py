"""A real Prometheus for the local stack (``local up --prometheus``): config, process, targets.

Debian's ``prometheus`` runs on a free port of 127.0.0.1 with its storage in the
stack's runtime directory, scraping every replica's ``/metrics`` each second (short,
so a run of a few seconds has enough samples for ``rate()``). Its configuration is
generated from the stack file: the job is the service's name, and the targets live in
a ``file_sd`` file, so replicas the autoscaler starts or stops are scraped without a
restart. ``honor_labels`` keeps the replicas' own ``namespace``/``pod``/``container``
labels, the ones cAdvisor and kube-state-metrics give a cluster's series, so the
Prometheus source's default queries read both alike.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.errors import ConfigError
from infra.files import write_atomically

from ..errors import LocalStackError
from ..processes import PortRaces, free_port, log_tail, spawn, stop_all

PROMETHEUS = "/usr/bin/prometheus"
SCRAPE_INTERVAL_S = 1
READY_TIMEOUT_S = 30.0
INSTALL_HINT = "run `scripts/setup --prometheus` (it installs Debian's prometheus package, /usr/bin/prometheus)"


def prometheus_binary() -> str:
    """Debian's prometheus, or ConfigError (exit 2) naming the fix."""
    found = shutil.which("prometheus") or (PROMETHEUS if Path(PROMETHEUS).exists() else None)
    if not found:
        raise ConfigError(f"Prometheus is not installed, and the local stack was asked to run one: {INSTALL_HINT}")
    return found


def render_config(job: str, targets_file: Path, scrape_interval_s: int = SCRAPE_INTERVAL_S) -> str:
    """prometheus.yml (JSON is YAML) scraping the replicas listed in ``targets_file``."""
    config = {
        "global": {"scrape_interval": f"{scrape_interval_s}s", "scrape_timeout": f"{scrape_interval_s}s",
                   "evaluation_interval": f"{scrape_interval_s}s"},
        "scrape_configs": [{
            "job_name": job,
            "honor_labels": True,
            "metrics_path": "/metrics",
            "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
        }],
    }
    return json.dumps(config, indent=2) + "\n"


def render_targets(ports: list[int]) -> str:
    return json.dumps([{"targets": [f"127.0.0.1:{port}" for port in ports], "labels": {}}], indent=2) + "\n"


class LocalPrometheus:
    """One Prometheus process scraping the local stack's replicas; ``stop`` removes its storage."""

    def __init__(self, runtime_dir: Path, job: str, env: Mapping[str, str] | None = None,
                 port_races: PortRaces | None = None) -> None:
        self.runtime_dir = runtime_dir
        self.env = dict(env) if env is not None else None
        """Prometheus's environment (the local stack's secret, ``loadtest.local.ownership``); None: this one's."""
        self._port_races = port_races or PortRaces()
        """Its second chances when another process binds its port first: the local stack's own budget."""
        self._binary = ""
        self.job = job
        self.port = 0
        self.process: subprocess.Popen[Any] | None = None
        self.config_path = runtime_dir / "prometheus.yml"
        self.targets_path = runtime_dir / "prometheus-targets.json"
        self.storage = runtime_dir / "prometheus-data"
        self.log_path = runtime_dir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ports: list[int]) -> None:
        """Start scraping ``ports`` and return once every target has been scraped up."""
        self._binary = prometheus_binary()
        shutil.rmtree(self.storage, ignore_errors=True)
        self.set_targets(ports)
        write_atomically(self.config_path, render_config(self.job, self.targets_path))
        self._spawn()
        self._wait_scraped(len(ports))

    def _spawn(self) -> None:
        self.port = free_port()
        self.process = spawn(
            [self._binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.storage}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d", "--log.level=warn"],
            log_path=self.log_path,
            env=self.env,
        )

    def set_targets(self, ports: list[int]) -> None:
        write_atomically(self.targets_path, render_targets(ports))

    def stop(self) -> None:
        """Stop the process and remove its storage and files. Safe to call twice."""
        if self.process is not None:
            stop_all([self.process], grace_seconds=10)
            self.process = None
        shutil.rmtree(self.storage, ignore_errors=True)
        for path in (self.config_path, self.targets_path):
            path.unlink(missing_ok=True)

    def _wait_scraped(self, expected: int) -> None:
        """Until Prometheus has scraped every target; started again on a new port if another process took its own first."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None and self._port_races.lost(self.port, "prometheus"):
                self._spawn()
            if self.process.poll() is not None:
                raise LocalStackError(
                    f"prometheus exited with code {self.process.returncode}; see {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if self._targets_up() >= expected:
                return
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"prometheus did not scrape the {expected} replicas within {READY_TIMEOUT_S:.0f} s; see {self.log_path}"
                )
            time.sleep(0.2)

    def _targets_up(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/targets?state=active", timeout=1.0) as response:  # noqa: S310
                targets = json.loads(response.read())["data"]["activeTargets"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return 0
        return sum(1 for target in targets if target.get("health") == "up")
