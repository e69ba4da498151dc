"""Rendering the stack config through the Jinja templates in ``templates/`` (package ``infra.templates``).

These functions are the single source of the artifacts: ``headroom render`` writes
them, the Pulumi program deploys them and the local stack runs the nginx.conf.
Rendering is pure (config in, text out) and all of it happens before anything
is written, so a failure leaves no half-written directory behind.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, TemplateError

from . import load_generator
from .config import StackConfig
from .config.kubernetes import REQUEST_RATE_WINDOW_S, REQUESTS_PER_SECOND_METRIC
from .config.names import policy_name
from .config.schema import STARTUP_PERIOD_SECONDS
from .errors import ConfigError, RenderError
from .files import write_atomically

TEMPLATES_PACKAGE = "infra.templates"
"""The top-level ``templates/`` directory, mapped to this package name by pyproject.toml."""

ARTIFACTS: dict[str, str] = {
    "nginx.conf": "nginx.conf.j2",
    "deployment.yaml": "deployment.yaml.j2",
    "service.yaml": "service.yaml.j2",
    # With loadBalancer.discovery headlessService: the Service nginx re-resolves for the pods.
    "headless-service.yaml": "headless-service.yaml.j2",
    "hpa.yaml": "hpa.yaml.j2",
    # With headroom:hpa.scalingMetric requestsPerSecond: the prometheus-adapter rule that serves the HPA's metric.
    "prometheus-adapter-rules.yaml": "prometheus-adapter-rules.yaml.j2",
    "pdb.yaml": "pdb.yaml.j2",
    "networkpolicy.yaml": "networkpolicy.yaml.j2",
    "nginx-configmap.yaml": "nginx-configmap.yaml.j2",
    "nginx-deployment.yaml": "nginx-deployment.yaml.j2",
    "nginx-service.yaml": "nginx-service.yaml.j2",
    "nginx-pdb.yaml": "nginx-pdb.yaml.j2",
    "nginx-networkpolicy.yaml": "nginx-networkpolicy.yaml.j2",
    "asg-policy.json": "asg-policy.json.j2",
    # headroom:loadGenerator (opt-in): Locust's master and workers in the cluster.
    "loadgen-configmap.yaml": "loadgen-configmap.yaml.j2",
    "loadgen-master-service.yaml": "loadgen-master-service.yaml.j2",
    "loadgen-master-job.yaml": "loadgen-master-job.yaml.j2",
    "loadgen-worker-deployment.yaml": "loadgen-worker-deployment.yaml.j2",
    "loadgen-networkpolicy.yaml": "loadgen-networkpolicy.yaml.j2",
}
"""Each artifact ``headroom render`` can write, and the template it comes from."""

KUBERNETES_MANIFESTS: tuple[str, ...] = tuple(name for name in ARTIFACTS if name.endswith(".yaml"))
"""The artifacts that are Kubernetes manifests (one object each)."""

CHECKSUM_ANNOTATION = "headroom.dev/nginx-conf-sha256"
REQUEST_COUNTER = "http_server_request_duration_seconds_count"
"""The counter of requests every pod exports (its latency histogram's count), which the adapter's rule turns into a rate."""

NGINX_WRITABLE_DIRS: tuple[tuple[str, str], ...] = (
    ("tmp", "/tmp"),  # noqa: S108 - an emptyDir in the nginx pod
    ("cache", "/var/cache/nginx"),
    ("run", "/var/run"),
)
"""emptyDir volumes nginx writes to under a read-only root filesystem: volume name, mount path."""


def enabled_artifacts(config: StackConfig) -> list[str]:
    """The artifacts this stack has: a disabled PDB or NetworkPolicy is not rendered at all."""
    k8s = config.kubernetes
    skipped = set()
    if not k8s.disruption_budget.enabled:
        skipped |= {"pdb.yaml", "nginx-pdb.yaml"}
    if not k8s.network_policy.enabled:
        skipped |= {"networkpolicy.yaml", "nginx-networkpolicy.yaml", "loadgen-networkpolicy.yaml"}
    if not config.load_generator.enabled:
        skipped |= {name for name in ARTIFACTS if name.startswith("loadgen-")}
    if config.load_balancer.discovery != "headlessService":
        skipped.add("headless-service.yaml")
    if config.hpa.scaling_metric != "requestsPerSecond":
        skipped.add("prometheus-adapter-rules.yaml")
    return [name for name in ARTIFACTS if name not in skipped]

_NGINX_UNQUOTABLE = re.compile(r'["\\$;{}\n\r\t]')
_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _nginx_quote(value: str) -> str:
    # Runtime paths come from code, not config, but may contain spaces (a checkout
    # under "My Projects"): quote them, and refuse anything quoting cannot make safe.
    if _NGINX_UNQUOTABLE.search(value):
        raise RenderError(f"path {value!r} cannot be written into nginx.conf safely")
    return f'"{value}"'


def _template_loader() -> BaseLoader:
    """The templates through the package, so a wheel in site-packages renders from any directory.

    An editable install maps the package onto the checkout's ``templates/``; only a bare
    checkout that was never installed (or an editable install in setuptools' ``compat``
    mode, a plain path entry) lacks the package, and then reads that directory directly.
    """
    try:
        return PackageLoader(TEMPLATES_PACKAGE, ".")
    except ModuleNotFoundError:
        return FileSystemLoader(Path(__file__).resolve().parents[1] / "templates")


def _environment() -> Environment:
    env = Environment(
        loader=_template_loader(),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - nginx.conf and YAML, not HTML; values are checked by the schema
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Plain JSON: Jinja's own tojson escapes for HTML, which a manifest does not need.
    env.filters["tojson"] = json.dumps
    env.filters["nginx_quote"] = _nginx_quote
    # A macro's output ends in a newline, and so does the line that calls it.
    env.filters["rstrip_newline"] = lambda text: str(text).rstrip("\n")
    return env


_ENV = _environment()


@dataclass(frozen=True)
class NginxRuntime:
    """Where nginx listens and keeps its files: fixed by the caller, not by the stack file.

    The defaults suit a container (logs to stderr/stdout, state under /tmp); the
    local stack passes a loopback address and a private directory instead.
    """

    listen: str = "80"
    pid_path: str = "/tmp/nginx.pid"  # noqa: S108 - inside the nginx container, which owns its /tmp
    error_log: str = "stderr"
    access_log: str = "/dev/stdout"
    temp_dir: str = "/tmp"  # noqa: S108 - as above
    worker_processes: str = "auto"
    upstream_log: str | None = None
    """The local stack of a team's own command only: a second access log, one line per request with
    ``$msec $upstream_addr $upstream_response_time``, from which each replica's concurrency is measured."""

    @classmethod
    def for_deploy(cls, config: StackConfig) -> NginxRuntime:
        return cls(listen=str(config.load_balancer.listen_port))

    def quoted(self) -> dict[str, Any]:
        """The values as the template writes them: every path quoted and checked."""
        return {
            "listen": self.listen,
            "worker_processes": self.worker_processes,
            "pid_path": _nginx_quote(self.pid_path),
            "error_log": self.error_log if self.error_log == "stderr" else _nginx_quote(self.error_log),
            "access_log": _nginx_quote(self.access_log) + " headroom",
            "upstream_log": None if self.upstream_log is None else _nginx_quote(self.upstream_log) + " headroom_upstream",
            # nginx creates each temp directory but not its parent, so they sit directly in temp_dir.
            "temp_paths": {kind: _nginx_quote(f"{self.temp_dir}/nginx-{kind}") for kind in _TEMP_KINDS},
        }


DEPLOY_TIME_LABEL = "<assigned at deploy: app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>>"
"""The ResourceLabel the rendered policy carries when the program creates the load balancer:
its ids exist only once AWS created it, and the Pulumi program puts the real label in
(``infra.components.asg.policy_inputs``)."""


def request_count_label(config: StackConfig) -> str | None:
    """ALBRequestCountPerTarget's ResourceLabel as far as it is known before deploying, or None for CPU."""
    asg = config.asg
    if asg.scaling_metric != "requestCountPerTarget":
        return None
    return asg.request_count_label or DEPLOY_TIME_LABEL


def upstream_zone_kb(config: StackConfig) -> int:
    """The upstream zone: 64k plus 4k for each server nginx may hold (re-resolved: every pod the HPA may run)."""
    balancer = config.load_balancer
    servers = config.hpa.max_replicas if balancer.discovery == "headlessService" else len(balancer.upstreams)
    return 64 + 4 * servers


def _context(config: StackConfig, runtime: NginxRuntime) -> dict[str, Any]:
    name = config.service.name
    nginx_name = config.nginx_name
    return {
        "config": config,
        "service": config.service,
        "asg": config.asg,
        "hpa": config.hpa,
        "lb": config.load_balancer,
        "runtime": runtime.quoted(),
        "upstream_name": f"{name}_backend",
        "upstream_zone_kb": upstream_zone_kb(config),
        "headless_name": config.headless_service_name,
        "headless_host": config.headless_service_host,
        "resolver_stale_seconds": config.load_balancer.resolver.stale_seconds,
        "request_count_label": request_count_label(config),
        "asg_name": config.asg_name,
        "policy_name": policy_name(config),
        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "headroom"},
        "selector": {"app.kubernetes.io/name": name},
        "k8s": config.kubernetes,
        "startup_period": STARTUP_PERIOD_SECONDS,
        "nginx_name": nginx_name,
        "nginx_labels": {"app.kubernetes.io/name": nginx_name, "app.kubernetes.io/managed-by": "headroom"},
        "nginx_selector": {"app.kubernetes.io/name": nginx_name},
        "nginx_writable": NGINX_WRITABLE_DIRS,
        "checksum_annotation": CHECKSUM_ANNOTATION,
        "requests_metric": REQUESTS_PER_SECOND_METRIC,
        "request_target_quantity": milli_quantity(config.hpa.target_requests_per_second or 0.0),
        "request_counter": REQUEST_COUNTER,
        "rate_window": f"{REQUEST_RATE_WINDOW_S}s",
    }


def milli_quantity(value: float) -> str:
    """A Kubernetes quantity in milli-units ("142500m" for 142.5): exact for any target the schema accepts."""
    return f"{round(value * 1000)}m"


def render_artifact(artifact: str, config: StackConfig, runtime: NginxRuntime | None = None) -> str:
    """Render one artifact by its output name (``nginx.conf``, ``hpa.yaml`` ...)."""
    template_name = ARTIFACTS[artifact]
    context = _context(config, runtime or NginxRuntime.for_deploy(config))
    if artifact.startswith("nginx-"):
        # The pods run the deploy-time nginx.conf, whatever runtime a caller passed.
        nginx_conf = render_artifact("nginx.conf", config)
        context["nginx_conf"] = nginx_conf
        context["nginx_conf_sha256"] = hashlib.sha256(nginx_conf.encode()).hexdigest()
    if artifact.startswith("loadgen-"):
        context["loadgen"] = load_generator.template_context(config)
    try:
        return _ENV.get_template(template_name).render(context)
    except TemplateError as err:
        raise RenderError(f"template {template_name}: {err}") from None


def render_all(config: StackConfig, runtime: NginxRuntime | None = None) -> dict[str, str]:
    """Every artifact the stack has, rendered in memory: output file name -> text."""
    return {artifact: render_artifact(artifact, config, runtime) for artifact in enabled_artifacts(config)}


def render_nginx_conf(config: StackConfig, runtime: NginxRuntime | None = None) -> str:
    return render_artifact("nginx.conf", config, runtime)


def write_artifacts(artifacts: dict[str, str], out_dir: Path) -> list[Path]:
    """Write rendered artifacts; each file appears whole or not at all.

    An artifact the stack no longer has (a PDB or NetworkPolicy since disabled) is
    removed, so `kubectl apply -f DIR` never applies a stale one.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: exists and is not a directory")
    written = []
    for name, text in artifacts.items():
        target = out_dir / name
        write_atomically(target, text)
        written.append(target)
    for name in ARTIFACTS:
        if name not in artifacts:
            (out_dir / name).unlink(missing_ok=True)
    return written


def render_template(template_name: str, context: dict[str, Any]) -> str:
    """Render one template of ``templates/`` with the same environment (StrictUndefined, plain tojson) as the artifacts."""
    try:
        return _ENV.get_template(template_name).render(context)
    except TemplateError as err:
        raise RenderError(f"template {template_name}: {err}") from None
