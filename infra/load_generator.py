"""What the ``headroom:loadGenerator`` pods run: names, files and command lines, built once from the config.

Pure (no Pulumi, no Locust import): the templates (``templates/loadgen-*.yaml.j2``)
write these values into the manifests, the component deploys those manifests, and
the local test (tests/integration/test_load_generator_local.py) reads the command
lines back *from the rendered manifests* and runs them on this machine.

The topology is the one ``headroom validate --remote-workers`` already has
(loadtest/load/runner.py): the master Job runs ``headroom validate --remote-workers
N --master-bind-host 0.0.0.0``, so Locust's master merges every worker's exact HDR
recording (loadtest/load/recorder.py) and headroom judges the merged recording; the
workers run ``headroom scenario worker`` on the same stack file, which becomes a
Locust worker with the same scenario (the reference, or the stack's declared
requests), user classes, timeline window and request timeout as the master. The
Job's log is the plain text report and its status is the verdict (Complete on PASS;
Failed on FAIL, INCONCLUSIVE or an error).

Both sides read one stack file from the ConfigMap, so they cannot disagree on what to
send. A ``headroom:scenario.locustfile`` is refused with the generator (the schema says
so): the user's file is not part of the stack config, and shipping it is left to an
image that holds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .config import StackConfig

LOCUST_MASTER_PORT = 5557
"""Locust's default master port: ``headroom validate --remote-workers`` binds exactly this one
(loadtest.load.runner.LOCUST_MASTER_PORT; tests/unit/test_load_generator.py keeps them equal)."""
WINDOW_SECONDS = 5
"""The timeline window, passed to the master (``--window``) and to every worker (``--headroom-window``)."""
CONFIG_DIR = "/etc/headroom"
"""Where the workers mount the ConfigMap read-only: the stack file."""
WORK_DIR = "/work"
"""The master's writable emptyDir: the stack file is mounted into it (validate writes its runs beside it)."""
STACK_FILE = "Pulumi.loadgen.yaml"
"""The stack file the master validates: the stack's own settings, as the pod sees them (``pod_stack_file``)."""
REPORT_FILE = f"{WORK_DIR}/report.json"


@dataclass(frozen=True)
class LoadGeneratorNames:
    """Every name the generator's objects get (also listed in infra/config/names.py with its rule)."""

    base: str
    namespace: str

    @property
    def config_map(self) -> str:
        return self.base

    @property
    def master(self) -> str:
        """The Job, its Service (the workers' ``--master-host``), and the label value of its pods."""
        return f"{self.base}-master"

    @property
    def workers(self) -> str:
        return f"{self.base}-worker"

    @property
    def network_policy(self) -> str:
        return self.base


def names(config: StackConfig) -> LoadGeneratorNames:
    return LoadGeneratorNames(
        base=f"{config.service.name}-loadgen",
        namespace=config.load_generator.namespace or config.service.namespace,
    )


def target_url(config: StackConfig) -> str:
    """``loadGenerator.url``, else the load balancer's Service by its cluster DNS name and port."""
    if config.load_generator.url is not None:
        return config.load_generator.url
    return f"http://{config.nginx_name}.{config.service.namespace}.svc:{config.load_balancer.service_port}"


def pod_stack_file(config: StackConfig) -> str:
    """The stack file the master validates: the stack's settings, with metrics off and no pipeline sections.

    Metrics off: the pod has no API token (automountServiceAccountToken false) and no cloud
    credentials; the cluster's own metrics belong to the `headroom validate` run outside.
    JSON is YAML, and every value in it already passed the schema.
    """
    sections = config.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    sections.pop("gate", None)
    sections.pop("loadGenerator", None)
    sections["metrics"] = {"source": "none"}
    keys = {f"headroom:{section}": value for section, value in sections.items()}
    return "# Rendered by headroom for the load generator's master from the stack config.\n" + json.dumps(
        {"config": keys}, indent=2, sort_keys=True
    ) + "\n"


def master_args(config: StackConfig) -> list[str]:
    """The master container's command: ``headroom validate`` waiting for the workers, judging their merged recording."""
    return [
        "headroom", "validate",
        "--stack", f"{WORK_DIR}/{STACK_FILE}",
        "--host", target_url(config),
        "--remote-workers", str(config.load_generator.workers),
        "--master-bind-host", "0.0.0.0",  # noqa: S104 - inside the pod; the NetworkPolicy admits only the workers
        "--window", str(WINDOW_SECONDS),
        "--json", REPORT_FILE,
        "--format", "text",
    ]


def worker_args(config: StackConfig) -> list[str]:
    """Each worker's command: ``headroom scenario worker`` on the master's stack file, exec'ing Locust's worker."""
    return [
        "headroom", "scenario", "worker",
        "--stack", f"{CONFIG_DIR}/{STACK_FILE}",
        "--master-host", names(config).master,
        "--master-port", str(LOCUST_MASTER_PORT),
        "--window", str(WINDOW_SECONDS),
        # The master Job's pod may start (and pull its image) after the workers': wait as long as it may take.
        "--wait", f"{START_AND_STOP_SECONDS}s",
    ]


START_AND_STOP_SECONDS = 180
"""Room in the Job's deadline beyond the run: workers connecting (validate waits 60 s), Locust's stop, the report."""


def master_deadline_seconds(config: StackConfig) -> int:
    """``activeDeadlineSeconds`` of the master Job: the run and START_AND_STOP_SECONDS, so a stuck run ends."""
    return int(config.slo.run_seconds) + START_AND_STOP_SECONDS


def template_context(config: StackConfig) -> dict[str, Any]:
    """What ``templates/loadgen-*.yaml.j2`` read, as ``loadgen``: every value checked or built here."""
    generator = config.load_generator
    the_names = names(config)
    labels = {"app.kubernetes.io/name": the_names.base, "app.kubernetes.io/managed-by": "headroom"}
    component = "app.kubernetes.io/component"
    resources = generator.resources
    limits = {"memory": resources.memory_limit} | ({"cpu": resources.cpu_limit} if resources.cpu_limit else {})
    return {
        "config": generator,
        "names": the_names,
        "labels": labels,
        "selector": {"app.kubernetes.io/name": the_names.base},
        "master_labels": {**labels, component: "master"},
        "master_selector": {"app.kubernetes.io/name": the_names.base, component: "master"},
        "worker_labels": {**labels, component: "worker"},
        "worker_selector": {"app.kubernetes.io/name": the_names.base, component: "worker"},
        "master_port": LOCUST_MASTER_PORT,
        "master_args": master_args(config),
        "worker_args": worker_args(config),
        "resources": {"requests": {"cpu": resources.cpu_request, "memory": resources.memory_request}, "limits": limits},
        "files": {STACK_FILE: pod_stack_file(config)},
        "config_dir": CONFIG_DIR,
        "work_dir": WORK_DIR,
        "stack_file": STACK_FILE,
        "stack_path": f"{WORK_DIR}/{STACK_FILE}",
        "deadline_seconds": master_deadline_seconds(config),
    }
