"""How long `headroom render` and `headroom preview` take, end to end, as a user runs them.

Each command runs as a fresh process (interpreter start and imports included),
REPEATS times; the script prints min / median / max wall-clock seconds.

    .venv/bin/python bench/cli_latency.py [REPEATS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADROOM = [sys.executable, "-m", "loadtest.cli"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "render --stack dev": [*HEADROOM, "render", "--stack", "dev", "--out", out],
            "preview --stack dev": [*HEADROOM, "preview", "--stack", "dev"],
            "preview --stack prod --json": [*HEADROOM, "preview", "--stack", "prod", "--json"],
        }
        print(f"{'command':32} {'min s':>7} {'median s':>9} {'max s':>7}  (n={repeats})")
        for name, command in commands.items():
            timed(command)  # warm the file cache
            samples = [timed(command) for _ in range(repeats)]
            print(f"{name:32} {min(samples):7.3f} {statistics.median(samples):9.3f} {max(samples):7.3f}")


if __name__ == "__main__":
    main()
