"""What headroom says when the stack, the target and the flags do not fit together: exit 2 with what to give,
one-line hints for Locust's and k6's flags, --optimize true to its search, a 404 mismatch named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from loadtest import cli
from loadtest.analysis.target_match import mismatch_warning
from loadtest.commands.plan import no_change_reason
from loadtest.planning.optimize import Optimization
from loadtest.report.model import Report

DATA = Path(__file__).resolve().parents[1] / "data"
OWN_SCENARIO = """config:
  headroom:deploy: {aws: false, kubernetes: false}
  headroom:scenario:
    requests:
      - {method: GET, path: /search}
"""


@pytest.mark.parametrize(("argv", "hint"), [
    (["validate", "--stack", "local", "-u", "50"], "hint: Locust's -u (users) is headroom's --users N"),
    (["validate", "--stack", "local", "-t", "30s"], "hint: Locust's -t (run time) is headroom's --run-time T"),
    (["validate", "--stack", "local", "--duration", "30s"], "hint: k6's --duration is headroom's --run-time T"),
    (["validate", "--stack", "local", "--vus", "10"], "hint: k6's --vus is headroom's --users N"),
    (["tune", "--stack", "local", "--host", "http://127.0.0.1:9"], "tune changes the local stack's replicas between rounds, so it has no --host"),
])
def test_locust_and_k6_flags_get_a_one_line_hint_and_exit_2(argv: list[str], hint: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith("headroom: error: unrecognized arguments:") for line in lines)
    assert sum(hint in line for line in lines) == 1


def test_an_unknown_flag_of_no_other_tool_gets_no_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["validate", "--stack", "local", "--frobnicate"])
    assert "hint:" not in capsys.readouterr().err


def test_plan_refuses_to_model_the_reference_for_a_stack_with_its_own_scenario(tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.own.yaml"
    stack.write_text(OWN_SCENARIO)
    assert cli.main(["plan", "--stack", str(stack)]) == 2
    message = capsys.readouterr().err
    assert "headroom:scenario describes your own service" in message and "--results FILE" in message
    assert "headroom:capacity.replicaRps" in message and str(stack) in message
    # Stated figures for the service are enough: plan runs on them.
    stack.write_text(OWN_SCENARIO + "  headroom:capacity: {replicaRps: 40, serviceTimeMs: 100}\n")
    assert cli.main(["plan", "--stack", str(stack), "--autoscaler", "hpa"]) in (0, 1)


def _optimization(autoscaler: str, holds: bool) -> Optimization:
    best = object() if holds else None
    return Optimization(autoscaler, current=None, best=best, evaluated=180, changes=[])  # type: ignore[arg-type]


def test_optimize_never_says_already_the_cheapest_when_nothing_kept_the_slo() -> None:
    nothing = no_change_reason([_optimization("hpa", False)])
    assert "already the cheapest" not in nothing and "no setting searched keeps the SLO" in nothing and "HPA" in nothing
    mixed = no_change_reason([_optimization("hpa", True), _optimization("asg", False)])
    assert mixed.startswith("no change proposed for the ASG: no setting searched keeps the SLO")
    assert mixed.endswith("the HPA's settings are already the cheapest that keep it")
    assert no_change_reason([_optimization("hpa", True)]).endswith("already the cheapest that keep the SLO")


def test_a_run_of_nearly_all_404s_is_named_a_mismatch() -> None:
    data = json.loads((DATA / "report.json").read_text())
    assert mismatch_warning(Report.model_validate(data)) is None
    whole = data["results"]["whole_run"]
    missing = copy.deepcopy(data)
    missing["results"]["whole_run"].update(failures=whole["requests"], error_rate_percent=100.0, failure_reasons={
        "/search": {"HTTPError('404 Client Error: Not Found for url: /search')": int(whole["requests"] * 0.95)},
        "/": {"HTTP 500": whole["requests"] - int(whole["requests"] * 0.95)}})
    warning = mismatch_warning(Report.model_validate(missing))
    assert warning is not None and warning.startswith(f"95% of the run's {whole['requests']} requests answered HTTP 404 at ")
    assert "the scenario and the target do not match" in warning
    some = copy.deepcopy(missing)
    some["results"]["whole_run"]["failure_reasons"]["/search"] = {"HTTP 404": int(whole["requests"] * 0.5)}
    assert mismatch_warning(Report.model_validate(some)) is None  # half is a broken endpoint, not the wrong service
