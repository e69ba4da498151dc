"""What the local stack's two sources share: a background thread that samples its replicas every two seconds."""

from __future__ import annotations

import threading

import psutil

from ..local.state import StackState

SAMPLE_EVERY_S = 2.0


class PeriodicSampler:
    """Samples once at ``start``, every ``SAMPLE_EVERY_S`` while the load runs, and once more at ``stop_sampling``."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)

    def start(self) -> None:
        self._sample_all()
        self._thread.start()

    def stop_sampling(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample_all()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._sample_all()

    def _sample_all(self) -> None:
        raise NotImplementedError


def proven_process(state: StackState, pid: int) -> psutil.Process | None:
    """The replica's process, only when the state proves it this stack's (not a later owner of its PID)."""
    try:
        return psutil.Process(pid) if state.owns(pid) else None
    except psutil.Error:
        return None
