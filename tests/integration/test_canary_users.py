"""Inside Locust: canary users alternate with the primary's, and each request is recorded with its own target.

Run in a child interpreter: importing Locust monkey-patches the process with gevent.
"""

from __future__ import annotations

import subprocess
import sys

ALTERNATION = """
from loadtest.load.canary import alternate_targets
class A:
    host = "http://canary:8000"
    def __init__(self, env): self.seen = self.host
class B(A): pass
class C(B):
    def __init__(self, env): super().__init__(env)
alternate_targets([C, A, B], "http://primary:8000")
print(" ".join(cls(None).seen.split("//")[1].split(":")[0] for cls in (A, B, C, A, B, C, B, B)))
"""

ROUTING = """
from types import SimpleNamespace
from loadtest.analysis.recording import Recording
from loadtest.load.recorder import Recorder
recorder = Recorder(SimpleNamespace(runner=None), 5.0, "", "")
recorder.baseline, recorder.baseline_host = Recording(5.0), "http://127.0.0.1:80"
for url in ("http://127.0.0.1:80/a", "http://127.0.0.1:8080/a", "http://127.0.0.1:80", "http://127.0.0.1:8080/b"):
    recorder.on_request("/a", 10.0, start_time=1000.0, url=url)
count = lambda recording: sum(cell.requests for cell in recording.cells.values())
print(count(recorder.baseline), count(recorder.recording), sorted(recorder.results()))
"""


def python(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_users_alternate_one_for_one_whatever_the_class_hierarchy() -> None:
    # Every user is counted once, in the outermost wrapper: a subclass calling its parent's __init__ is not counted twice.
    assert python(ALTERNATION) == "canary primary canary primary canary primary canary primary"


def test_requests_are_recorded_with_the_target_they_went_to() -> None:
    # Port 80 is the primary; port 8080 is not, though its URL starts with the primary's text.
    baseline, canary, keys = python(ROUTING).split(" ", 2)
    assert (baseline, canary) == ("2", "2")
    assert "'baseline_recording'" in keys and "'baseline_host'" in keys
