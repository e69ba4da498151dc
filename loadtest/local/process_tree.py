"""A process and everything under it, measured from outside: what cAdvisor reads for a pod's containers.

The team's own command may be a supervisor with workers (gunicorn, uvicorn --workers), so a
replica's CPU and memory are its whole process tree's. CPU seconds of children that already
exited and were waited for count too (``children_user`` and ``children_system`` of their
parent), so a worker recycled mid-run does not take its CPU with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class TreeSample:
    at: float
    """Epoch seconds."""
    cpu_seconds: float
    rss_bytes: int


def sample_tree(process: psutil.Process) -> TreeSample:
    """CPU seconds and resident memory of ``process`` and everything under it, now (``psutil.Error`` if it is gone)."""
    with process.oneshot():
        times = process.cpu_times()
        cpu = times.user + times.system + times.children_user + times.children_system
        rss = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            with child.oneshot():
                times = child.cpu_times()
                cpu += times.user + times.system
                rss += child.memory_info().rss
        except psutil.Error:
            continue  # exited meanwhile: its CPU shows in its parent's children_* once waited for
    return TreeSample(time.time(), cpu, rss)
