"""Look inside a user's locustfile before a run: importable, which user classes, how long they wait.

Run by headroom as a child process (``python -m loadtest.load.probe ANSWER FILE [CLASS ...]``),
because importing Locust monkey-patches the process with gevent. It writes one JSON
object to the file ANSWER: the classes found, and for each class asked for (all runnable
ones when none is named) its weight, whether it has any task, and its ``wait_time``
sampled (min, max, mean), or why not; or an ``error`` when the file cannot be imported.
The sampled mean is what Little's law and the capacity model use as the scenario's think
time. The answer has a file of its own because the user's file owns standard output: it
may print at import, print at exit, or start a child that keeps the stream open.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from locust import User

from .locustfiles import import_locustfile, runnable_classes

SAMPLES = 2000


def sample_wait(user_class: type[User]) -> dict[str, float]:
    """min, max and mean of ``SAMPLES`` draws of the class's wait_time, on an instance that never ran."""
    instance = user_class.__new__(user_class)
    draws = []
    for _ in range(SAMPLES):
        # constant_pacing (and constant_throughput) read these: a task that took no time waits the full pace.
        instance._cp_last_run = time.perf_counter()
        instance._cp_last_wait_time = 0
        draws.append(float(instance.wait_time()))
    return {"min": min(draws), "max": max(draws), "mean": sum(draws) / len(draws)}


def has_tasks(user_class: type[User]) -> bool:
    """Whether Locust can run the class: it has tasks, or runs its own loop (Locust stops a user that has neither)."""
    return bool(user_class.tasks) or user_class.run is not User.run


def probe(path: Path, names: list[str]) -> dict[str, Any]:
    random.seed(0)
    try:
        module = import_locustfile(path)
    except BaseException as error:  # noqa: BLE001 - any failure of the user's file is reported, not raised
        last = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        where = f" (line {last.lineno} of {Path(last.filename).name})" if last else ""
        return {"error": f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}{where}"}
    available = runnable_classes(module)
    classes: dict[str, Any] = {}
    for name in names or list(available):
        user_class = available.get(name)
        if user_class is None:
            classes[name] = None
            continue
        entry: dict[str, Any] = {"weight": int(getattr(user_class, "weight", 1) or 1), "has_tasks": has_tasks(user_class)}
        try:
            entry["wait"] = sample_wait(user_class)
        except Exception as error:  # noqa: BLE001 - a wait_time headroom cannot sample
            entry["wait_error"] = f"{type(error).__name__}: {error}"
        classes[name] = entry
    return {"available": sorted(available), "classes": classes}


if __name__ == "__main__":
    answer = json.dumps(probe(Path(sys.argv[2]), sys.argv[3:]))
    Path(sys.argv[1]).write_text(answer, encoding="utf-8")
