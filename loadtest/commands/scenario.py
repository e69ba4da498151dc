"""``headroom scenario show``: what a validation run of this stack would send, secrets masked."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from typing import NoReturn

from rich.text import Text

from infra.config import load_stack
from infra.errors import ConfigError

from ..console import err, out
from ..formats.scenario import describe
from ..load.runner import LOCUST_MASTER_PORT, LoadSpec, worker_command
from ..scenario.profiles import PROFILES
from ..scenario.spec import encode
from ..validation.scenario import prepare_scenario
from ._flags import host, port, positive_duration, positive_number

HELP = "show what a validation run would send: the stack's scenario (headroom:scenario), secrets masked"
DESCRIPTION = """\
Print the scenario a `headroom validate` of this stack would run: the reference
scenario, a locustfile's user classes, or every declared request with its method,
path, headers, body and expected answer, and the think time and request mix the
plan check and the capacity model use. Header secrets are shown as their references
(${env:NAME}, ${config:ns:key}) marked set or not set, never as values.

The scenario is checked exactly as a run checks it (the locustfile is imported in a
child process): any problem is exit 2, naming the file, the key and what is allowed.
"""
EXAMPLES = """\
examples:
  headroom scenario show --stack orders
  headroom scenario show --stack orders --spec    # the HEADROOM_SCENARIO value a remote worker needs
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("scenario", help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("--profile", choices=sorted(PROFILES), default="normal", help="the profile whose think time applies")
    show.add_argument("--spec", action="store_true",
                      help="print only the spec headroom hands Locust in HEADROOM_SCENARIO (no secrets in it)")
    show.set_defaults(run=run)

    worker = actions.add_parser("worker", parents=[parent], help=WORKER_HELP, description=WORKER_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--master-host", type=host, required=True, help="the Locust master (headroom validate --remote-workers) to join")
    worker.add_argument("--master-port", type=port, default=LOCUST_MASTER_PORT, help="its port (default %(default)s)")
    worker.add_argument("--profile", choices=sorted(PROFILES), default="normal", help="the master's --profile (default normal)")
    worker.add_argument("--window", type=positive_number, default=5.0, help="the master's --window in seconds (default 5)")
    worker.add_argument("--wait", type=positive_duration, default=MASTER_WAIT_S, metavar="T",
                        help=f"how long to wait for the master to listen, e.g. 5m (default {MASTER_WAIT_S:.0f}s); then exit 2")
    worker.set_defaults(run=run_worker)


MASTER_WAIT_S = 60.0
"""How long a worker waits for its master to listen before it gives up (exit 2): as long as a master waits for its workers."""
WORKER_HELP = "become a Locust worker for this stack's scenario (what a remote or Kubernetes worker runs)"
WORKER_DESCRIPTION = """\
Replace this process with a Locust worker that joins a `headroom validate
--remote-workers N` master and sends this stack's scenario: the same locustfile,
user classes, think time, request timeout and exact recording as the master's own
workers. Give the master's stack file, --profile and --window, so both sides agree.
Header secrets (${env:NAME}) must be set in this worker's environment: an unset one
is exit 2 here, before the worker joins. It says which master it waits for, and gives
up with exit 2 when nothing listens there within --wait (default 60 s).
"""


def run(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.project_dir)
    prepared = prepare_scenario(stack.config, stack.path, PROFILES[args.profile], check_secrets=False)
    if args.spec and prepared.spec is None:
        raise ConfigError(
            f"--spec: stack {stack.name!r} ({stack.path}) sends the reference scenario, which has no spec: its workers "
            "run loadtest/locustfile.py with the profile's user class and need no HEADROOM_SCENARIO (docs/cli.md)"
        )
    if args.spec:
        # Plain stdout: the console would wrap a long line, and the spec is one JSON line to copy.
        sys.stdout.write(encode(dict(prepared.spec or {})) + "\n")
        return 0
    out.print(describe(stack.config.scenario, prepared.shape, os.environ, str(stack.path)), end="",
              markup=False, highlight=False)
    return 0


def run_worker(args: argparse.Namespace) -> NoReturn:
    """Exec Locust's worker: no headroom process stays between Locust and the signals sent to the worker."""
    stack = load_stack(args.stack, args.project_dir)
    profile = PROFILES[args.profile]
    prepared = prepare_scenario(stack.config, stack.path, profile)
    spec = LoadSpec(host="http://unused.invalid", user_class=profile.user_class, users=1,
                    spawn_rate=1, run_time_s=1, window_s=args.window,
                    request_timeout_s=stack.config.slo.request_timeout_seconds,
                    locustfile=prepared.locustfile, user_classes=prepared.user_classes)
    command = worker_command(spec, args.master_host, args.master_port)
    wait_for_master(args.master_host, args.master_port, args.wait)
    sys.stdout.flush()
    os.execve(command[0], command, {**os.environ, **prepared.env})  # noqa: S606 - an argument list of checked values


def wait_for_master(host: str, port: int, wait_s: float) -> None:
    """Return once something accepts connections on the master's port; ConfigError (exit 2) after ``wait_s``.

    Locust's own worker waits five minutes without a word (its retries log below WARNING)
    and then ends with a traceback; here the worker says what it waits for, and for how long.
    """
    err.print(Text(f"waiting up to {wait_s:g} s for the Locust master at {host}:{port} "
                   "(a `headroom validate --remote-workers N` listening there)"))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            socket.create_connection((host, port), timeout=max(0.1, min(5.0, deadline - time.monotonic()))).close()
            return
        except OSError as error:
            reason = error.strerror or type(error).__name__
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"no Locust master listened at {host}:{port} within {wait_s:g} s ({reason}): start `headroom validate "
                f"--remote-workers N` there first (it listens on port {port}), check that {host}:{port} is reachable "
                "from here, or wait longer with --wait"
            )
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
