"""The autouse leftover-process guard (tests/process_guard.py), run on a session of its own.

A child pytest session with the real guard runs three tests: one leaves a process running
(even one that detached into its own session), one stops what it started, and one leaves
a process of another session's mark, which is not its business.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

INNER_TESTS = """\
import os, subprocess, sys

def test_leaves_one_running():
    subprocess.Popen(["sleep", "37"], start_new_session=True)

def test_stops_what_it_started():
    process = subprocess.Popen(["sleep", "38"])
    process.kill()
    process.wait()

def test_another_session_s_process_is_not_counted():
    env = {**os.environ, "HEADROOM_TEST_SESSION": "another-session"}
    process = subprocess.Popen(["sleep", "39"], env=env)
    with open("other.pid", "w") as handle:
        handle.write(str(process.pid))
"""


def test_a_test_that_leaves_a_process_fails_naming_it_and_the_process_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from process_guard import no_leftover_processes, pytest_sessionfinish  # noqa: F401
        """))
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                             str(tmp_path / "test_inner.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    other = int((tmp_path / "other.pid").read_text())
    try:
        assert result.returncode == 1, result.stdout[-3000:]
        assert "3 passed, 1 error" in result.stdout, result.stdout[-3000:]
        assert "ERROR at teardown of test_leaves_one_running" in result.stdout
        assert "the test left running (now killed):" in result.stdout and "sleep 37" in result.stdout
        assert "sleep 38" not in result.stdout and "sleep 39" not in result.stdout
        left = subprocess.run(["pgrep", "-f", "^sleep 37$"], capture_output=True, text=True)
        assert left.stdout == "", "the guard stops what it names"
    finally:
        subprocess.run(["kill", str(other)], check=False)
