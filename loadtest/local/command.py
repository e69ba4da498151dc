"""The team's own service as the local stack's replicas (``headroom:local.command``).

A command replica is the user's argv, run without a shell, with ``{port}`` replaced by
a free loopback port headroom chose, the stack's ``environment`` added to headroom's
own, in ``workingDirectory`` (relative to the stack file). Everything a user can get
wrong here (a program that is not found, a directory that does not exist) is found
before anything starts and named with its key (``ConfigError``, exit 2).

Each replica runs in a process group of its own, so that stopping it stops what it
started too (a gunicorn master and its workers): TERM to the group, a grace period,
then KILL to the group. The exec wrapper of ``loadtest.processes`` still gives its
leader the death signal, so a replica never outlives headroom.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from infra.config import StackConfig
from infra.config.local import PORT_PLACEHOLDER
from infra.errors import ConfigError

from ..processes import alive


@dataclass(frozen=True)
class CommandSpec:
    """A validated ``headroom:local.command``: what every replica runs, apart from its port."""

    argv: tuple[str, ...]
    environment: dict[str, str]
    working_directory: Path

    def argv_for(self, port: int) -> list[str]:
        return [argument.replace(PORT_PLACEHOLDER, str(port)) for argument in self.argv]

    def env_for(self, base: dict[str, str]) -> dict[str, str]:
        """headroom's environment (its secret included: ``base``) with the stack's variables added.

        The stack's names never start with ``HEADROOM_`` (the schema refuses them), so they
        cannot overwrite the ownership secret.
        """
        return {**base, **self.environment}


def command_spec(config: StackConfig, stack_dir: Path) -> CommandSpec | None:
    """The stack's command, checked against this machine; None for the reference service."""
    local = config.local
    if local.command is None:
        return None
    where = "headroom:local.workingDirectory"
    directory = (stack_dir / local.working_directory).resolve() if local.working_directory else stack_dir.resolve()
    if local.working_directory and not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(f"{where} = {local.working_directory!r}: {directory} {what}; allowed: an existing directory, "
                          "absolute or relative to the stack file's directory")
    program = local.command[0]
    path_var = {**os.environ, **local.environment}.get("PATH", os.defpath)
    found = _resolve_program(program, directory, path_var)
    if found is None:
        raise ConfigError(f"headroom:local.command[0] = {program!r}: no such executable "
                          f"({'relative to ' + str(directory) if '/' in program else 'not on PATH'}); allowed: a program "
                          "path (absolute, or relative to workingDirectory) or a name found on PATH")
    return CommandSpec(tuple(local.command), dict(local.environment), directory)


def _resolve_program(program: str, directory: Path, path_var: str) -> str | None:
    """Where execvp would find ``program`` when run in ``directory``; None when it would not."""
    if "/" in program:
        candidate = directory / program
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(program, path=path_var)


def stop_groups(processes: Iterable[subprocess.Popen[Any]], grace_seconds: float = 10.0) -> None:
    """SIGTERM each replica's process group, wait up to the grace period, SIGKILL the groups, and wait for them to go.

    Each replica leads its own group (started with ``start_new_session``), so its PID is
    the group's ID; the KILL also reaches children that outlived their leader.
    """
    started = list(processes)
    for process in started:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for process in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        _signal_group(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait()
        _wait_until_group_is_gone(process.pid)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


KILLED_GROUP_TIMEOUT_S = 5.0
"""How long a SIGKILLed group may take to go. A KILL is not instant: a member ends when the
scheduler next runs it, which on a busy machine can be after ``killpg`` has returned."""


def _wait_until_group_is_gone(group: int) -> None:
    """Return once the group has no member left but zombies (their new parent reaps them), or after the timeout."""
    deadline = time.monotonic() + KILLED_GROUP_TIMEOUT_S
    while _group_has_live_members(group) and time.monotonic() < deadline:
        time.sleep(0.01)


def _group_has_live_members(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False  # no process left in the group (or none of ours)
    return any(_in_group(pid, group) and alive(pid) for pid in psutil.pids())


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:  # gone since psutil listed it
        return False
