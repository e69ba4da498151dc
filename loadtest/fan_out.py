"""A search split over forked worker processes, one per usable core: how ``plan --optimize`` runs its parts.

The search itself (``loadtest.planning.optimize``) is pure and runs its parts through
whatever ``map_parts`` it is given; `plan` gives it this module's.

Each candidate setting is a whole simulation of the profile (a day is 86,400 steps), and the
candidates are independent, so a search spreads over the cores it may use. Fork, not spawn:
the search's work is a closure over a stack, a traffic profile and a service model, which a
forked child inherits as it is; only each part's result travels back, through its own pipe.

One process per part rather than a pool: a worker that dies (the OOM killer, a ``kill -9``)
closes its pipe, and the parent reports it (``SearchWorkerError``, exit 4) instead of waiting
for a result that will never come, as ``multiprocessing.Pool`` would. Workers ignore SIGINT,
so Ctrl-C reaches headroom's main process alone, and every worker still running is
terminated and joined when the parent leaves, on success, failure and interrupt alike.
SIGINT and SIGTERM are held back while a worker starts, until it has its own handlers:
a worker terminated during its fork hooks then ends at once, instead of meeting the
handler it inherited from the CLI (which prints a traceback there and ignores a second SIGTERM).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from .errors import SearchWorkerError

T = TypeVar("T")

TERMINATE_GRACE_S = 2.0


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, as a container or taskset limits it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if "fork" in multiprocessing.get_all_start_methods() else 1


def map_parts(work: Callable[[int], T], parts: int) -> list[T]:
    """``[work(0), ..., work(parts - 1)]``, each part in its own forked process when there are several."""
    if parts <= 1:
        return [work(0)]
    context = multiprocessing.get_context("fork")
    workers: list[tuple[BaseProcess, Connection]] = []
    try:
        for index in range(parts):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_run_part, args=(work, index, send), name=f"headroom-search-{index}",
                                      daemon=True)
            workers.append((process, receive))  # before it starts: an interrupt right after start still ends it
            try:
                with _interrupts_blocked():  # until the child has its own handlers: see _run_part
                    process.start()
            finally:
                send.close()  # the child holds its own copy: the parent's read sees EOF once the child is gone
        return [_result_of(worker, pipe) for worker, pipe in workers]
    finally:
        for worker, pipe in workers:
            _end(worker)
            pipe.close()


def _end(worker: BaseProcess) -> None:
    """Terminate a worker still running, and kill it if it has not gone within a few seconds (a backstop: the
    worker holds SIGTERM back until it has restored the default action, so it should end at once)."""
    if worker.pid is None:
        return  # never started
    if worker.is_alive():
        worker.terminate()
        worker.join(TERMINATE_GRACE_S)
        if worker.is_alive():
            worker.kill()
    worker.join()


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _interrupts_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held back (not lost: each is delivered when unblocked) in this thread, and in a child
    forked meanwhile, which inherits the mask and runs its fork hooks with them held back."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def _run_part(work: Callable[[int], Any], index: int, send: Connection) -> None:
    # Ctrl-C is the parent's to handle; SIGTERM (the parent's terminate) ends a worker at once, without the
    # handler the CLI installed before the fork (which would print a traceback from each worker). Only then
    # are they unblocked: a SIGTERM that came during the fork hooks is delivered now, to the default action.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    try:
        outcome: tuple[str, Any] = ("done", work(index))
    except Exception as error:  # noqa: BLE001 - sent back whole, so the parent raises what the work raised
        outcome = ("failed", error)
    send.send(outcome)
    send.close()


def _result_of(process: BaseProcess, receive: Connection) -> Any:
    try:
        status, value = receive.recv()
    except EOFError:
        process.join()
        raise SearchWorkerError(
            f"a worker process of the search (pid {process.pid}) ended with exit code {process.exitcode} before "
            "sending its result (killed, or out of memory?); run the command again"
        ) from None
    if status == "failed":
        raise value
    return value
