"""Which CPUs `scripts/test` gives its two phases: the serial tests' own, and the rest.

The tests marked ``serial`` judge timing and load figures that other tests' CPU load would
distort. They mostly wait (fixed run times), so rather than run them after everything else,
`scripts/test` runs them at the same time as the other tests, each phase pinned (``taskset``)
to CPUs the other does not use. That isolates their CPU only where the split is real:

- two hyperthreads of one physical core share it, so a core's siblings go to the same phase;
- a cgroup CPU quota (``cpu.max``, as container CI sets) throttles both phases together whatever
  their affinity, so there the phases run one after the other;
- with one physical core there is nothing to split.

The serial phase gets half the physical cores, rounded down: one on the 2-core reference
machine, two on four, so that its tests keep at least what they had there.

Run as a script, it prints ``PARALLEL_CPUS SERIAL_CPUS`` (taskset lists, such as ``0`` and
``1``), or ``sequential: REASON`` when the phases should not overlap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CPU_DIR = Path("/sys/devices/system/cpu")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def split(cpus: list[int], siblings: dict[int, frozenset[int]], quota: bool) -> tuple[list[int], list[int]] | str:
    """The parallel phase's CPUs and the serial phase's, or why the phases should run one after the other.

    ``siblings`` maps a CPU to the hyperthreads of its physical core (itself included); a CPU
    missing from it is a core of its own.
    """
    if quota:
        return "a cgroup CPU quota (cpu.max) throttles both phases together, whatever CPUs they are pinned to"
    allowed = set(cpus)
    cores: list[list[int]] = []
    for cpu in sorted(allowed):
        if not any(cpu in core for core in cores):
            cores.append(sorted((siblings.get(cpu, frozenset()) & allowed) | {cpu}))
    if len(cores) < 2:
        return f"one physical core ({','.join(map(str, sorted(cpus)))}): nothing to split"
    serial_cores = len(cores) // 2
    parallel = [cpu for core in cores[:-serial_cores] for cpu in core]
    serial = [cpu for core in cores[-serial_cores:] for cpu in core]
    return parallel, serial


def _siblings(cpus: list[int]) -> dict[int, frozenset[int]]:
    found: dict[int, frozenset[int]] = {}
    for cpu in cpus:
        path = CPU_DIR / f"cpu{cpu}" / "topology" / "thread_siblings_list"
        if path.is_file():
            found[cpu] = frozenset(_parse_list(path.read_text()))
    return found


def _parse_list(text: str) -> list[int]:
    """A kernel CPU list (``0-3,8``) as CPUs."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if part:
            first, _, last = part.partition("-")
            cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _quota() -> bool:
    return CGROUP_CPU_MAX.is_file() and not CGROUP_CPU_MAX.read_text().startswith("max")


def main() -> int:
    cpus = sorted(os.sched_getaffinity(0))
    found = split(cpus, _siblings(cpus), _quota())
    if isinstance(found, str):
        print(f"sequential: {found}")
    else:
        print(",".join(map(str, found[0])), ",".join(map(str, found[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
