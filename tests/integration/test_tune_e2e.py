"""The closed loop on a real local stack: under-provisioned, tuned, and not wastefully high.

One replica of 4 workers at a lognormal ~100 ms request (about 35 req/s here, a
p95 of about 200 ms with no queueing) cannot serve 21 users thinking 0.1-0.5 s
(about 50 req/s) within p95 < 350 ms: it is 50 % overloaded. Two replicas run at
about 75 % load. Over ten runs of this scenario the p95 stayed above 410 ms on one
replica and below 290 ms on two; 20 s at full load keeps its confidence interval
narrow enough for the verdicts to be decisive run after run: a closed loop of users self-limits, and near
the boundary (seen here with 30-40 users on 2-3 replicas) the p95's confidence
interval straddles the SLO and the verdict is, correctly, INCONCLUSIVE. The ramp
is slow enough (20 s) for the model to measure the service time in the windows
before one replica saturates.

tune brackets its answer: after the PASS at N it needs a measured FAIL at N-1. Here
round 1 already measured 1 replica; if the model proposes 2, round 2's PASS closes
the bracket at once, and if it proposes 3, round 3 measures 2.

Each round's load is a real run of this stack at that many replicas, recorded once
(``under-1``, ``under-2``, ``under-3`` in tests/data/runs, tests/recorded.py) with the
metrics its source read, and replayed by the replicas the stack file says when the round
starts: tune itself (its rounds, the local stack it starts for each, the stack edits, the
bracket) runs for real, in-process. A round is 40 s of load; three of them were most of
the suite's time.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import headroom
from recorded import RecordedRun, replaying

from loadtest.cli import main

UNDER_PROVISIONED = """\
# deliberately under-provisioned
config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:slo:
    users: 21
    rampSeconds: 20
    runTime: 40s       # 20 s at full load: enough requests for a narrow p95 interval
    p95Ms: 350         # the SLO
    errorRatePercent: 5
  headroom:local:
    replicas: 1        # too few
    workers: 4
    serviceTime: {distribution: lognormal, meanMs: 100, sigma: 0.5}
    cpuMs: 0.5
"""


def replicas_in(path: Path) -> int:
    match = re.search(r"replicas: (\d+)", path.read_text())
    assert match
    return int(match.group(1))


def test_tune_reaches_the_slo_and_brackets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.under.yaml"
    stack.write_text(UNDER_PROVISIONED)

    def this_round() -> str:
        """The run recorded on the stack file as it is now: the replicas tune has applied so far."""
        name = f"under-{replicas_in(stack)}"
        assert config_of(RecordedRun.load(name).recorded["stack"]) == config_of(stack.read_text()), name
        return name

    replaying(monkeypatch, this_round, metrics=True)
    code = main(["tune", "--stack", str(stack), "--profile", "stress", "--rounds", "3"])
    out, err = capsys.readouterr()
    assert code == 0, out[-3000:] + err[-3000:]
    final = replicas_in(stack)
    assert final > 1
    # Only the replicas line changed; the comments are still there.
    assert [line for line in stack.read_text().splitlines() if line not in UNDER_PROVISIONED.splitlines()] == [
        f"    replicas: {final}        # too few"
    ]
    assert "PASS" in out, out
    assert "round 1: FAIL; applied headroom:local.replicas 1 ->" in err

    # One replica fewer misses the SLO, measured by tune itself: the answer is not wastefully high.
    assert f"bracket: {final} passes, {final - 1} fails, measured" in out, out

    # The same analysis offline, from round 1's saved report, as a diff of the original file.
    first_round = sorted((tmp_path / ".headroom" / "runs" / "under").iterdir())[0] / "report.json"
    original = tmp_path / "Pulumi.original.yaml"
    original.write_text(UNDER_PROVISIONED)
    diff = tmp_path / "proposal.diff"
    offline = headroom("recommend", "--stack", str(original), "--results", str(first_round), "--diff-out", str(diff))
    assert offline.returncode == 0, offline.stderr
    assert "Capacity sized with the closed model" in offline.stdout
    assert f"+    replicas: {final}        # too few" in diff.read_text()
    assert f"pulumi config set --path 'headroom:local.replicas' {final} --stack original" in offline.stdout
    assert original.read_text() == UNDER_PROVISIONED  # nothing written without --write
    assert main(["recommend", "--stack", str(original), "--results", str(first_round), "--write"]) == 0
    assert replicas_in(original) == final


def config_of(text: str) -> object:
    """A stack file's content without its comments."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


# Not slow: both refuse before any stack starts, so they run in-process and start nothing.
def test_recommend_rejects_what_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(UNDER_PROVISIONED)
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    assert main(["recommend", "--stack", str(stack), "--results", str(bogus)]) == 2
    assert "not a headroom report" in capsys.readouterr().err
    assert main(["recommend", "--stack", str(stack), "--results", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_tune_refuses_a_cloud_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from infra.config import REPO_ROOT

    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    assert main(["tune", "--stack", str(tmp_path / "Pulumi.dev.yaml")]) == 2
    assert "local stack only" in capsys.readouterr().err
