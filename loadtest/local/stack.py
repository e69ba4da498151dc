"""The local stack: replicas of the reference service (or of the team's own command) behind a real nginx, all on 127.0.0.1.

nginx.conf comes from the same template ``headroom render`` uses, with the
replicas' ports as upstreams, so the local stack exercises the configuration a
deployment would run. The stack's processes and ports are kept in a state file
(``.headroom/local/<stack>/state.json`` beside the stack file) so that
``headroom local status|down`` and ``headroom validate`` find a running stack; what
that file is trusted for, and how its processes are proven this stack's, is
``loadtest.local.state`` and ``loadtest.local.ownership``. A replica of the team's own
command (``headroom:local.command``) is ``loadtest.local.command``: proven this stack's
the same way (the secret in its environment), and stopped with its process group.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from infra.config import StackConfig, Upstream
from infra.config.types import cpu_millicores, memory_bytes
from infra.files import write_atomically
from infra.render import NginxRuntime, render_nginx_conf

from ..console import err
from ..errors import LocalStackError, StackRunningError
from ..processes import PortRaces, free_port, log_tail, record_of, spawn, stop_all
from ..reference import ServiceBehaviour
from ..reference.exposition import PodIdentity
from .command import CommandSpec, command_spec, stop_groups
from .ownership import SECRET_ENV, LockHeldError, SupervisorLock, new_secret, secret_digest
from .pod_exporter import PodExporter
from .prometheus import LocalPrometheus
from .state import STATE_FILE, StackState, running_state

READY_TIMEOUT_S = 20.0


def runtime_dir_for(stack_path: Path, stack_name: str) -> Path:
    return stack_path.resolve().parent / ".headroom" / "local" / stack_name


def stack_dir_of(runtime_dir: Path) -> Path:
    """The stack file's directory, whose runtime directory ``runtime_dir_for`` made ``runtime_dir``."""
    return runtime_dir.parents[2]


UPSTREAM_LOG = "nginx-upstream.log"
"""In the runtime directory: nginx's per-upstream log of a command stack (``$msec $upstream_addr
$upstream_response_time``), from which ``loadtest.metrics`` measures each replica's concurrency."""


def behaviour_for(config: StackConfig) -> ServiceBehaviour:
    local = config.local
    return ServiceBehaviour(
        workers=local.workers,
        distribution=local.service_time.distribution,
        mean_ms=local.service_time.mean_ms,
        sigma=local.service_time.sigma,
        cpu_ms=local.cpu_ms,
        batch_item_cost=local.batch_item_cost,
        failure_rate=local.failure_rate_percent / 100.0,
        injected_latency_ms=local.injected_latency_ms,
    )


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise LocalStackError("nginx is not installed: run scripts/setup (it installs Debian's nginx)")
    return found


RUNNING_CONFIG_SECTIONS = frozenset({"service", "hpa", "load_balancer", "local", "capacity"})
"""What a running local stack was built from: its replicas' behaviour, nginx.conf, health path, autoscaler."""


def config_digest(config: StackConfig) -> str:
    """A digest of the sections a running local stack depends on (not the SLO, which only the judge reads)."""
    sections = config.model_dump(mode="json", include=set(RUNNING_CONFIG_SECTIONS))
    return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()


class LocalStack:
    """Start, watch and stop one local stack. Use as a context manager: it always cleans up.

    It knows replicas and nginx, not scaling policy: ``replicas`` is how many to start, and
    whoever scales it (``loadtest.local.autoscaler``) calls ``add_replica``, ``serve`` and
    ``retire``. ``autoscaled`` is only recorded in the state file, for other commands to see.
    With ``prometheus``, a real Prometheus scrapes every replica (``loadtest.local.prometheus``).
    """

    def __init__(self, name: str, config: StackConfig, runtime_dir: Path, replicas: int | None = None,
                 autoscaled: bool = False, prometheus: bool = False, hpa_time_scale: int = 1) -> None:
        self.name = name
        self.hpa_time_scale = hpa_time_scale
        self.config = config
        self.runtime_dir = runtime_dir
        self.initial_replicas = config.local.replicas if replicas is None else replicas
        self.autoscale = autoscaled
        self.with_prometheus = prometheus
        self._prometheus: LocalPrometheus | None = None
        self._exporter: PodExporter | None = None
        """For a command's replicas, what a cluster's exporters would say of them (``loadtest.local.pod_exporter``)."""
        self.state_path = runtime_dir / STATE_FILE
        self._secret = new_secret(runtime_dir)
        """In every child's environment: how another headroom proves them this stack's (``ownership``)."""
        self._lock: SupervisorLock | None = None
        self.replicas: list[tuple[subprocess.Popen[Any], int]] = []
        self.serving_ports: list[int] = []
        """The replicas nginx sends traffic to; an autoscaled replica joins once its start delay passed."""
        self._replicas_started = 0
        self._port_races = PortRaces(note=_print_note)
        """One budget of second chances for the replicas, nginx and Prometheus this stack starts."""
        self._started_at = 0.0
        self.reached_up = False  # the state file was written: Ctrl-C from now on is a normal stop
        self.nginx: subprocess.Popen[Any] | None = None
        self.nginx_port = config.local.nginx_port or 0
        self._nginx_conf = runtime_dir / "nginx.conf"
        self.command: CommandSpec | None = command_spec(config, stack_dir_of(runtime_dir))
        """The team's own service, checked (ConfigError, exit 2) before anything starts; None: the reference service."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    # lifecycle -----------------------------------------------------------------

    def start(self) -> StackState:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self._claim()
        self._started_at = time.time()
        try:
            for _ in range(self.initial_replicas):
                self.serving_ports.append(self._start_replica())
            deadline = time.monotonic() + self.config.local.start_timeout_seconds
            if self.command is not None:
                # Before nginx: a replica that refuses connections while it starts would count as a
                # failure against its upstream (max_fails) and keep nginx answering 502 for fail_timeout.
                self._wait_healthy(deadline, through_nginx=False)
            self._start_nginx()
            self._wait_healthy(deadline, through_nginx=True)
            if self.with_prometheus:
                self._start_prometheus()
            state = self.state()
            state.save(self.state_path)
            self.reached_up = True
            return state
        except OSError as error:
            self.stop()
            raise LocalStackError(f"the local stack could not start: {error}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop Prometheus, nginx, then the replicas; remove the state file. Safe to call twice."""
        if self._prometheus is not None:
            self._prometheus.stop()
            self._prometheus = None
        if self._exporter is not None:
            self._exporter.stop()
            self._exporter = None
        if self.nginx is not None:
            stop_all([self.nginx], grace_seconds=10)
            self.nginx = None
        self._stop_replicas([process for process, _ in self.replicas])
        self.replicas.clear()
        self.serving_ports.clear()
        self.state_path.unlink(missing_ok=True)
        (self.runtime_dir / "nginx.pid").unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    def state(self) -> StackState:
        assert self.nginx is not None
        prometheus_pid = self._prometheus.process.pid if self._prometheus and self._prometheus.process else None
        pids = [os.getpid(), self.nginx.pid, *(process.pid for process, _ in self.replicas), *([prometheus_pid] if prometheus_pid else [])]
        records = [record for record in map(record_of, pids) if record is not None]
        return StackState(
            stack=self.name,
            url=self.url,
            supervisor_pid=os.getpid(),
            nginx_pid=self.nginx.pid,
            nginx_port=self.nginx_port,
            replicas=[{"pid": process.pid, "port": port} for process, port in self.replicas],
            started_at=self._started_at,
            autoscale=self.autoscale,
            hpa_time_scale=self.hpa_time_scale,
            prometheus_url=self._prometheus.url if self._prometheus else None,
            prometheus_pid=prometheus_pid,
            processes=[record.to_json() for record in records],
            config_digest=config_digest(self.config),
            secret_digest=secret_digest(self._secret),
            verified=frozenset(pids),  # this process started each of them
            runtime_dir=self.runtime_dir,
        )

    def _child_env(self) -> dict[str, str]:
        return {**os.environ, SECRET_ENV: self._secret}

    def _start_prometheus(self) -> None:
        if self.command is not None:
            self._exporter = PodExporter(self._identity(0), self.running_replicas,
                                         self.runtime_dir / UPSTREAM_LOG, self.config.local.concurrency_limit)
            self._exporter.start()
        self._prometheus = LocalPrometheus(self.runtime_dir, self.config.service.name, env=self._child_env(),
                                           port_races=self._port_races)
        self._prometheus.start(self._scrape_ports())

    def _scrape_ports(self) -> list[int]:
        """Every running replica, serving or not (as a Deployment counts its pods); for a command, the exporter of them all."""
        return [self._exporter.port] if self._exporter is not None else [port for _, port in self.replicas if port]

    def _sync_prometheus_targets(self) -> None:
        if self._prometheus is not None:
            self._prometheus.set_targets(self._scrape_ports())

    def running_replicas(self) -> list[tuple[int, int]]:
        """(port, pid) of every replica process still running."""
        return [(port, process.pid) for process, port in list(self.replicas) if port and process.poll() is None]

    # replicas --------------------------------------------------------------------

    def add_replica(self) -> int:
        """Start one more replica and return its port; nginx does not send it traffic until ``serve``."""
        port = self._start_replica()
        self._sync_prometheus_targets()
        self.state().save(self.state_path)
        return port

    def check_starting(self, port: int) -> int:
        """Where the replica added on ``port`` listens now, while it starts.

        A replica that lost its port to another process is started again on a new one, as at
        ``start`` (the stack's port-race budget); one that exited for any other reason is a
        LocalStackError with its log. A pod that never turns ready would otherwise sit in the
        autoscaler's count for ever, where a kubelet restarts it and says why.
        """
        index = next(index for index, (_, bound) in enumerate(self.replicas) if bound == port)
        self._check_replica(index)
        listening = self.replicas[index][1]
        if listening != port:
            self._sync_prometheus_targets()
            self.state().save(self.state_path)
        return listening

    def is_ready(self, port: int) -> bool:
        """A command's replica is ready once its health path answers 200; the reference service, once it said READY."""
        if self.command is None:
            return True
        return _probe(f"http://127.0.0.1:{port}{self.config.service.health_path}") == "200"

    def pid_of(self, port: int) -> int | None:
        """The replica process on ``port``, while it runs."""
        return dict(self.running_replicas()).get(port)

    def serve(self, port: int) -> None:
        self.serving_ports.append(port)
        self.reload_nginx()

    def retire(self, port: int, drain_timeout_s: float = 30.0) -> None:
        """Take a replica out of nginx, let nginx's old workers finish its requests, then stop it."""
        self.drain(port, drain_timeout_s)
        self.stop_replica(port)

    def drain(self, port: int, drain_timeout_s: float = 30.0) -> None:
        """Take a replica out of nginx and wait until no nginx worker can still send it a request."""
        if port in self.serving_ports:
            self.serving_ports.remove(port)
            self.reload_nginx()
            self._wait_old_workers(drain_timeout_s)

    def stop_replica(self, port: int) -> None:
        """Stop a replica nginx no longer sends to (``drain`` first)."""
        process = next(p for p, q in self.replicas if q == port)
        self._stop_replicas([process])
        self.replicas = [(p, q) for p, q in self.replicas if q != port]
        self._sync_prometheus_targets()
        self.state().save(self.state_path)

    def _wait_old_workers(self, timeout_s: float) -> None:
        """After a reload, nginx's old workers exit once their in-flight requests are done."""
        assert self.nginx is not None
        time.sleep(0.5)  # the master starts the new worker first; until then the old one is alone
        deadline = time.monotonic() + timeout_s
        try:
            master = psutil.Process(self.nginx.pid)
            while time.monotonic() < deadline:
                workers = [c for c in master.children() if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
                if len(workers) <= 1:  # worker_processes is 1: only the new worker is left
                    return
                time.sleep(0.1)
        except psutil.Error:
            return

    def _stop_replicas(self, processes: list[subprocess.Popen[Any]]) -> None:
        if self.command is not None:
            stop_groups(processes, grace_seconds=10)  # the command's own children too
        else:
            stop_all(processes, grace_seconds=10)

    def _start_replica(self) -> int:
        if self.command is not None:
            return self._start_command_replica(self.command)
        behaviour = json.dumps({k: v for k, v in asdict(behaviour_for(self.config)).items() if not k.startswith("_")})
        index = self._replicas_started
        self._replicas_started += 1
        process = spawn(
            [sys.executable, "-m", "loadtest.reference", "--port", "0", "--behaviour", behaviour,
             "--identity", json.dumps(asdict(self._identity(index)))],
            log_path=self.runtime_dir / f"replica-{index}.log",
            stdout=subprocess.PIPE,
            env=self._child_env(),
        )
        self.replicas.append((process, 0))  # registered before it is ready, so stop() finds it
        port = self._read_ready_port(process, index)
        self.replicas[-1] = (process, port)
        return port

    def _start_command_replica(self, command: CommandSpec) -> int:
        """One replica of the team's own command on a free loopback port, in a process group of its own.

        It has no READY line to wait for: ``_wait_healthy`` probes its health path. The port is
        free when chosen; another process may bind it before the replica does, and the replica
        then exits, which ``_check_replicas_running`` tells from the replica's own failure.
        """
        index = self._replicas_started
        self._replicas_started += 1
        port = free_port()
        self.replicas.append((self._spawn_command(command, port, index), port))
        return port

    def _spawn_command(self, command: CommandSpec, port: int, index: int) -> subprocess.Popen[Any]:
        return spawn(
            command.argv_for(port),
            log_path=self.runtime_dir / f"replica-{index}.log",
            env=command.env_for(self._child_env()),
            cwd=command.working_directory,
            new_session=True,
        )

    def _identity(self, index: int) -> PodIdentity:
        """The labels and requests the replica's /metrics reports, as a cluster's exporters would."""
        service = self.config.service
        return PodIdentity(namespace=service.namespace, pod=f"{service.name}-{index}", container=service.name,
                           deployment=service.name, cpu_request_cores=cpu_millicores(service.cpu_request) / 1000,
                           memory_request_bytes=memory_bytes(service.memory_request))

    def _read_ready_port(self, process: subprocess.Popen[Any], index: int) -> int:
        assert process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.2)
            if ready:
                line = process.stdout.readline()
                break
            if process.poll() is not None:
                break
        process.stdout.close()
        if not line.startswith(b"READY "):
            log = self.runtime_dir / f"replica-{index}.log"
            raise LocalStackError(f"replica {index} did not start; see {log}:\n{log_tail(log)}")
        return int(line.split()[1])

    # nginx -----------------------------------------------------------------------

    def nginx_runtime(self) -> NginxRuntime:
        return NginxRuntime(
            listen=f"127.0.0.1:{self.nginx_port}",
            pid_path=str(self.runtime_dir / "nginx.pid"),
            error_log=str(self.runtime_dir / "nginx-error.log"),
            access_log=str(self.runtime_dir / "nginx-access.log"),
            upstream_log=str(self.runtime_dir / UPSTREAM_LOG) if self.command is not None else None,
            temp_dir=str(self.runtime_dir),
            # One worker: the machine's other core belongs to Locust and the replicas.
            worker_processes="1",
        )

    def render_nginx_conf(self) -> str:
        """The stack's own nginx.conf, with the running replicas as its upstreams."""
        return render_nginx_conf(with_replicas_as_upstreams(self.config, self.serving_ports), self.nginx_runtime())

    def _start_nginx(self) -> None:
        if not self.nginx_port:
            self.nginx_port = free_port()
        write_atomically(self._nginx_conf, self.render_nginx_conf())
        binary = nginx_binary()
        error_log = self.runtime_dir / "nginx-error.log"
        self.nginx = spawn(
            [binary, "-e", str(error_log), "-p", f"{self.runtime_dir}/", "-c", str(self._nginx_conf), "-g", "daemon off;"],
            log_path=self.runtime_dir / "nginx-stderr.log",
            env=self._child_env(),
        )

    def reload_nginx(self) -> None:
        """Re-render nginx.conf for the current replicas and reload it without dropping requests.

        nginx's SIGHUP starts new workers with the new configuration and lets the
        old ones finish their in-flight requests.
        """
        assert self.nginx is not None
        write_atomically(self._nginx_conf, self.render_nginx_conf())
        self.nginx.send_signal(1)  # SIGHUP

    # health ------------------------------------------------------------------------

    def _replica_health_urls(self) -> list[str]:
        """Each replica's own health check: the stack's healthPath for a command, the reference service's otherwise."""
        path = self.config.service.health_path if self.command is not None else "/api/v1/health"
        return [f"http://127.0.0.1:{port}{path}" for _, port in self.replicas]

    def _health_targets(self, through_nginx: bool) -> list[str]:
        """What must answer 200: the replicas, and with ``through_nginx`` nginx and the service behind it."""
        through = [f"{self.url}/nginx-health", f"{self.url}{self.config.service.health_path}"] if through_nginx else []
        return [*through, *self._replica_health_urls()]

    def _wait_healthy(self, deadline: float, through_nginx: bool) -> None:
        """Until every target answers 200; past ``deadline`` a LocalStackError names the first that does not, and its answer.

        The targets are asked for afresh each round: a replica or nginx restarted on a new port
        (``_check_replicas_running``, ``_check_nginx_running``) is probed where it now listens.
        """
        timeout = self.config.local.start_timeout_seconds
        while True:
            self._check_nginx_running()
            self._check_replicas_running()
            answers = {url: _probe(url) for url in self._health_targets(through_nginx)}
            failing = {url: answer for url, answer in answers.items() if answer != "200"}
            if not failing:
                return
            if time.monotonic() > deadline:
                url, answer = next(iter(failing.items()))
                more = f" (and {len(failing) - 1} more probe(s) failing)" if len(failing) > 1 else ""
                raise LocalStackError(f"the local stack did not become healthy within {timeout:g} s "
                                      "(headroom:local.startTimeoutSeconds): "
                                      f"GET {url} answered {answer}, not 200{more} (headroom:service.healthPath is "
                                      f"{self.config.service.health_path!r})")
            time.sleep(0.1)

    def _check_nginx_running(self) -> None:
        """nginx exited: start it again on a new port if another process took the one chosen, else say why, with its log."""
        if self.nginx is None or self.nginx.poll() is None:
            return
        chosen_here = not self.config.local.nginx_port
        if chosen_here and self._port_races.lost(self.nginx_port, "nginx"):
            self.nginx_port = 0
            self._start_nginx()
            return
        log = self.runtime_dir / "nginx-error.log"
        raise LocalStackError(f"nginx exited with code {self.nginx.returncode}; see {log}:\n{log_tail(log)}")

    def _check_replicas_running(self) -> None:
        """A replica that exited while starting will never become healthy: say so now, with its log.

        A command replica whose port another process took first is started again on a new one.
        """
        for index in range(len(self.replicas)):
            self._check_replica(index)

    def _check_replica(self, index: int) -> None:
        process, port = self.replicas[index]
        if process.poll() is None:
            return
        # Exit 0 is a command that daemonized (its child holds the port): never the lost race.
        if self.command is not None and process.returncode != 0 and self._port_races.lost(port, f"replica {index}"):
            self._restart_command_replica(index, process, port)
            return
        log = self.runtime_dir / f"replica-{index}.log"
        what = f"the command {' '.join(self.command.argv_for(port))!r}" if self.command else "the reference service"
        raise LocalStackError(f"replica {index} ({what}, port {port}) exited with code {process.returncode} "
                              f"while starting; see {log}:\n{log_tail(log)}")

    def _restart_command_replica(self, index: int, exited: subprocess.Popen[Any], port: int) -> None:
        assert self.command is not None
        stop_groups([exited], grace_seconds=1)  # whatever the leader started before it exited
        new_port = free_port()
        self.replicas[index] = (self._spawn_command(self.command, new_port, index), new_port)
        self.serving_ports = [new_port if serving == port else serving for serving in self.serving_ports]

    def _claim(self) -> None:
        """Refuse when a stack already runs here; otherwise hold its supervisor lock until ``stop``."""
        existing = running_state(self.runtime_dir)  # a stale file is reported and removed there
        if existing is not None:
            raise StackRunningError(
                f"local stack {self.name!r} is already running at {existing.url} (pid {existing.supervisor_pid}); "
                f"stop it with `headroom local down --stack {self.name}`"
            )
        try:
            self._lock = SupervisorLock.acquire(self.runtime_dir)
        except LockHeldError as held:
            raise StackRunningError(
                f"local stack {self.name!r} is already running or starting ({held}: {self.runtime_dir}); "
                f"stop it with `headroom local down --stack {self.name}`"
            ) from None


def with_replicas_as_upstreams(config: StackConfig, ports: list[int]) -> StackConfig:
    """The config whose nginx.conf the local stack runs: the cluster's upstream block, the replicas as its servers.

    Everything of the upstream the cluster gets stays (algorithm, shared zone, max_fails and
    fail_timeout on every server, keepalive); only where the servers come from differs.
    In the cluster nginx re-resolves the headless Service (`server NAME resolve`, nginx
    1.27.3+); Debian's nginx 1.22 here cannot parse `resolve`, so the replicas are listed
    (static) and whoever adds or retires one (the local autoscaler) reloads nginx gracefully.
    """
    upstreams = [Upstream(host="127.0.0.1", port=port) for port in ports]
    balancer = config.load_balancer.model_copy(update={"discovery": "static", "upstreams": upstreams})
    return config.model_copy(update={"load_balancer": balancer})


def _probe(url: str) -> str:
    """What a health probe got: "200", another status ("HTTP 404"), or why there was no answer."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - loopback only
            return "200" if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return f"no answer ({error.reason})"
    except OSError as error:
        return f"no answer ({error.strerror or type(error).__name__})"


def _print_note(text: str) -> None:
    err.print(text, markup=False, highlight=False)
