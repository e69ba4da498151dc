"""The exit-code contract as CI sees it: bad input in, exit 2 and nothing written.

Refusals run the CLI's ``main`` in-process (``headroom_here``: the code ``sys.exit`` gets); the
markup and exit-4 cases run real ``headroom`` processes, where the process itself is the point.

Each case is a defect that once ended in a traceback and exit 1 (CI's "SLO missed"), or
wrote a file before failing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import headroom, headroom_here

from infra.config import REPO_ROOT

LOCAL = """\
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:slo: {users: 5, rampSeconds: 1, runTime: 5s}
"""


def _stack(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(LOCAL)
    return path


def _refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize(("flags", "fragment"), [
    (("--spawn-rate", "0"), "--spawn-rate: '0': must be a finite number above 0"),
    (("--spawn-rate", "nan"), "--spawn-rate: 'nan'"),
    (("--window", "inf"), "--window: 'inf'"),
    (("--run-time", "0s"), "--run-time: '0s': must be more than 0"),
    (("--run-time", "999999h"), "--run-time: '999999h': must be more than 0 and at most 24h"),
    (("--users", "10000000"), "--users: '10000000': at most 100000 users"),
    (("--master-bind-host", "not a host;x"), "--master-bind-host: 'not a host;x' is not an IP address"),
    (("--host", "ftp://example.com"), "--host: 'ftp://example.com' is not an http(s) URL"),
    (("--workers", "100000"), "--workers: '100000': at most"),
    (("--plan-users", "0"), "--plan-users: '0': must be at least 1"),
])
def test_bad_flags_are_refused_before_any_load(tmp_path: Path, flags: tuple[str, ...], fragment: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack = _stack(tmp_path)
    _refused(headroom_here(capsys, "validate", "--stack", str(stack), *flags), fragment)  # the code main() gives sys.exit
    assert not (tmp_path / ".headroom").exists(), "nothing started, nothing written"


def test_unwritable_outputs_are_refused_before_the_run_and_the_stack_file_is_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = _stack(tmp_path)
    _refused(headroom_here(capsys, "validate", "--stack", str(stack), "--write", "--json", "/proc/r.json"), "--json /proc/r.json")
    _refused(headroom_here(capsys, "validate", "--stack", str(stack), "--diff-out", str(tmp_path)), "is a directory")
    _refused(headroom_here(capsys, "validate", "--stack", str(stack), "--html", str(tmp_path / "no" / "r.html")), "does not exist")
    assert stack.read_text() == LOCAL and not (tmp_path / ".headroom").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    _refused(headroom_here(capsys, "render", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--out", str(afile / "sub")), "--out")


def test_user_text_is_printed_as_is_never_as_markup(tmp_path: Path) -> None:
    _refused(headroom("render", "--stack", "[/x]", "--out", str(tmp_path / "o")), "stack file [/x]: no such file")
    assert not (tmp_path / "o").exists()


def test_forged_reports_are_refused_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = _stack(tmp_path)
    report = json.loads((REPO_ROOT / "tests" / "data" / "report.json").read_text())
    for name, forge in (("missing", lambda d: d["results"]["judged"].pop("latency")),
                        ("typed", lambda d: d["load"].update(users="many"))):
        forged = json.loads(json.dumps(report))
        forge(forged)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(forged))
        _refused(headroom_here(capsys, "recommend", "--stack", str(stack), "--results", str(path)), str(path))
    nan = tmp_path / "nan.json"
    nan.write_text(re.sub(r'"p95_ms": [0-9.]+', '"p95_ms": NaN', json.dumps(report), count=1))
    _refused(headroom_here(capsys, "recommend", "--stack", str(stack), "--results", str(nan)), "NaN is not a JSON number")


def test_a_report_of_another_stack_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "Pulumi.other.yaml"
    other.write_text((REPO_ROOT / "tests" / "data" / "Pulumi.under.yaml").read_text())
    result = headroom_here(capsys, "recommend", "--stack", str(other), "--results", str(REPO_ROOT / "tests" / "data" / "report.json"))
    assert result.returncode == 0, result.stderr
    assert "warning: --results" in result.stderr and "is a run of stack 'under'" in result.stderr


def test_headroom_failing_itself_exits_4_with_one_line(tmp_path: Path) -> None:
    """A bug (here: rendering made to divide by zero) is exit 4, never 1 or 2, and the traceback is kept."""
    probe = (
        "import sys, loadtest.commands.render as render\n"
        "render.render_all = lambda config: 1 / 0\n"
        "from loadtest.cli import main\n"
        f"sys.exit(main(['render', '--stack', 'dev', '--project-dir', {str(REPO_ROOT)!r}, '--out', {str(tmp_path / 'o')!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    saved = re.search(r"full traceback in (\S+)\)", result.stderr)
    assert saved
    text = Path(saved.group(1)).read_text()
    assert "ZeroDivisionError" in text and "headroom version: " in text and "platform: " in text
    assert f"argv: headroom render --stack dev --project-dir {REPO_ROOT}" in text
