"""``headroom local up|down|status``: the embedded local stack on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from rich.table import Table

from infra.config import StackConfig, load_stack
from infra.errors import ConfigError

from ..console import out
from ..errors import LocalStackError, StackRunningError
from ..local.command import command_spec
from ..local.launch import LocalStackRun
from ..local.prometheus import prometheus_binary
from ..local.stack import runtime_dir_for
from ..local.state import STATE_FILE, StackState, running_state, verify
from ..local.stats import replica_stats
from ..planning.timescale import TIME_SCALES
from ..processes import is_ours, spawn, stop_all, stop_owned

HELP = "run the local stack: replicas of the reference service behind a real nginx on 127.0.0.1"
DESCRIPTION = """\
The local stack runs headroom:local.replicas replicas of the reference service (or
of your own service: headroom:local.command) and a real nginx, rendered from the
same nginx.conf template as a deployment, with least_conn over the replicas, all on
127.0.0.1.

  up      start it and wait until healthy; stays in the foreground until Ctrl-C
          (or SIGTERM), then stops everything. --detach leaves it running.
          --autoscale starts headroom:hpa.minReplicas replicas and runs the HPA
          model over them every 15 s: replicas start and stop as a Kubernetes
          HPA would decide, each joining nginx podStartSeconds after it starts
          (and, for your command, once its healthPath answers); nginx reloads
          gracefully, so no in-flight request is lost. Your command's CPU is
          its process tree's and its request rate comes from nginx's log.
          --prometheus also starts a real Prometheus (Debian's package;
          install it with scripts/setup --prometheus) on a free port of
          127.0.0.1, scraping every replica's /metrics each second (for your
          command, a pod exporter that measures it from outside); its URL is
          in `local status`, and metrics.source: prometheus reads it.
  status  show what runs, its URL and each replica's utilization
          (exit 0 when running and healthy, 1 otherwise)
  down    stop a detached (or another terminal's) local stack

Its state lives in .headroom/local/<stack>/ beside the stack file; nothing is
left behind after a stop, a failure or Ctrl-C.
"""
EXAMPLES = """\
examples:
  headroom local up --stack local            # Ctrl-C to stop
  headroom local up --stack local --detach && headroom validate --stack local
  headroom local up --stack local --autoscale --detach && headroom validate --stack local --profile spike
  headroom local up --stack local --prometheus --detach   # and a Prometheus scraping the replicas
  headroom local status --stack local
  headroom local down --stack local
"""
DETACH_TIMEOUT_S = 60.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "local", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--detach", action="store_true", help="with up: start in the background and return")
    parser.add_argument("--autoscale", action="store_true",
                        help="with up: run the HPA model as a controller over the replicas (headroom:hpa settings)")
    parser.add_argument("--prometheus", action="store_true",
                        help="with up: also run a real Prometheus on 127.0.0.1 scraping the replicas (needs Debian's prometheus)")
    parser.add_argument("--hpa-time-scale", type=int, choices=TIME_SCALES, default=1, metavar="K",
                        help="with up --autoscale, for tests and benchmarks only: run the controller's clock K times faster "
                             f"(every HPA duration and the pods' start delay divided by K; one of {', '.join(map(str, TIME_SCALES))})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path, config = stack = load_stack(args.stack, args.project_dir)
    name = stack.name
    runtime = runtime_dir_for(path, name)
    if args.action == "status":
        return status(name, runtime, with_stats=not config.local.runs_command)
    if args.action == "down":
        return down(name, runtime)
    command_spec(config, path.parent)  # headroom:local.command's program and directory: exit 2 before anything starts
    if args.prometheus:
        prometheus_binary()  # missing: exit 2 naming the fix, before anything starts
    if args.hpa_time_scale != 1 and not args.autoscale:
        raise ConfigError(f"--hpa-time-scale {args.hpa_time_scale}: scales the autoscaler's clock, so it needs --autoscale")
    if args.detach:
        return up_detached(name, path, runtime, args.autoscale, args.prometheus, args.hpa_time_scale)
    return up_foreground(name, config, runtime, args.autoscale, args.prometheus, args.hpa_time_scale)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def up_foreground(name: str, config: StackConfig, runtime: Path, autoscale: bool = False, prometheus: bool = False,
                  hpa_time_scale: int = 1) -> int:
    """Run until Ctrl-C or `local down`; either is the normal way to stop, so it exits 0.

    The interrupt may land anywhere once the state file says the stack is up (even
    before this function prints so), so it is caught around the whole ``with``; one
    that lands during start-up still propagates (exit 130).
    """
    signal.signal(signal.SIGTERM, _raise_interrupt)  # `local down` stops us like Ctrl-C does
    run = LocalStackRun(name, config, runtime, autoscale=autoscale, prometheus=prometheus, hpa_time_scale=hpa_time_scale)
    try:
        with run as stack:
            state = stack.state()
            scaling = f", autoscaled {config.hpa.min_replicas}-{config.hpa.max_replicas}" if autoscale else ""
            scaling += f", the HPA's clock {hpa_time_scale}x faster (tests and benchmarks only)" if hpa_time_scale != 1 else ""
            out.print(f"local stack {name} is up at {state.url} ({len(state.replicas)} replicas{scaling}); Ctrl-C to stop")
            out.print(state_table(state))
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        if not run.stack.reached_up:
            raise
        out.print(f"local stack {name} stopped")
    return 0


def up_detached(name: str, path: Path, runtime: Path, autoscale: bool = False, prometheus: bool = False,
                hpa_time_scale: int = 1) -> int:
    existing = running_state(runtime)
    if existing is not None:
        raise StackRunningError(f"local stack {name!r} is already running at {existing.url}")
    runtime.mkdir(parents=True, exist_ok=True)
    supervisor = spawn(
        [sys.executable, "-m", "loadtest.cli", "local", "up", "--stack", str(path), *(["--autoscale"] if autoscale else []),
         *(["--prometheus"] if prometheus else []), *(["--hpa-time-scale", str(hpa_time_scale)] if hpa_time_scale != 1 else [])],
        log_path=runtime / "supervisor.log",
        new_session=True,
        die_with_parent=False,  # it must outlive this command
    )
    deadline = time.monotonic() + DETACH_TIMEOUT_S
    while time.monotonic() < deadline:
        state = StackState.load(runtime / STATE_FILE)
        if state is not None and state.supervisor_pid == supervisor.pid:
            state = verify(state, runtime)  # the table's "alive" column shows what is proven, as `local status` does
            out.print(f"local stack {name} is up at {state.url} (supervisor pid {supervisor.pid})")
            out.print(state_table(state))
            return 0
        if supervisor.poll() is not None:
            log = (runtime / "supervisor.log").read_text(errors="replace")[-2000:]
            raise LocalStackError(f"the local stack failed to start:\n{log}")
        time.sleep(0.1)
    stop_all([supervisor])
    raise LocalStackError(f"the local stack did not come up within {DETACH_TIMEOUT_S:.0f} s; see {runtime / 'supervisor.log'}")


def down(name: str, runtime: Path) -> int:
    """Stop the stack through its supervisor (it stops its children), then whatever of it is left.

    ``running_state`` has already dealt with a stale file (reported, removed, only proven
    leftovers stopped) and proved the supervisor and children this stack's
    (``loadtest.local.ownership``). The children are listed before the supervisor stops,
    while its parentage still proves nginx; every signal goes to a process whose start
    time and command line still match its record.
    """
    state = running_state(runtime)
    if state is None:
        out.print(f"local stack {name} is not running")
        return 0
    children = state.owned_children()
    supervisor = state.record(state.supervisor_pid)
    if supervisor is not None and state.supervisor_pid != os.getpid() and is_ours(supervisor):
        os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while is_ours(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
        children.append(supervisor)
    stop_owned(children)
    (runtime / STATE_FILE).unlink(missing_ok=True)
    out.print(f"local stack {name} stopped")
    return 0


def status(name: str, runtime: Path, with_stats: bool = True) -> int:
    """``with_stats``: each replica's utilization and requests, which only the reference service reports."""
    state = running_state(runtime)
    if state is None:
        out.print(f"local stack {name} is not running")
        return 1
    out.print(f"local stack {name} is running at {state.url} (supervisor pid {state.supervisor_pid})")
    out.print(state_table(state, with_stats=with_stats))
    healthy = all(state.owns(pid) for pid in state.pids)
    return 0 if healthy else 1


def state_table(state: StackState, with_stats: bool = False) -> Table:
    table = Table(show_header=True)
    for column in ("process", "pid", "address", "alive", *(("utilization", "requests") if with_stats else ())):
        table.add_column(column)
    table.add_row("nginx (least_conn)", str(state.nginx_pid), state.url, _yes(state.owns(state.nginx_pid)), *(("", "") if with_stats else ()))
    if state.prometheus_url and state.prometheus_pid:
        table.add_row("prometheus", str(state.prometheus_pid), state.prometheus_url, _yes(state.owns(state.prometheus_pid)),
                      *(("", "") if with_stats else ()))
    for index, replica in enumerate(state.replicas):
        address = f"http://127.0.0.1:{replica['port']}"
        extra: tuple[str, ...] = ()
        if with_stats:
            try:
                stats = replica_stats(replica["port"])
                extra = (f"{stats['utilization'] * 100:.1f} %", str(stats["requests"]))
            except OSError:
                extra = ("unreachable", "")
        table.add_row(f"replica {index}", str(replica["pid"]), address, _yes(state.owns(replica["pid"])), *extra)
    return table


def _yes(value: bool) -> str:
    return "yes" if value else "NO"

