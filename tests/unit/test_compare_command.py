"""``headroom compare`` and ``headroom history`` on saved reports; ``validate``'s regression flags refused before any load.

The reports are synthetic runs of known latency (``tests/synthetic.py``): exponential with
a 40 ms mean, and the same 25 % slower, from the same seed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import json_schemas
import pytest
from synthetic import synthetic_report

from infra.config import REPO_ROOT
from loadtest.cli import main
from loadtest.formats import render_json
from loadtest.report.model import Report, Status

SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())


def comparison_schema() -> dict[str, object]:
    return {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/comparison"}


def save(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(report))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return save(synthetic_report(40.0), tmp_path / "base.json"), save(synthetic_report(50.0), tmp_path / "slower.json")


def test_a_slower_run_is_regressed_in_every_format(runs: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base, slower = runs
    files = {name: tmp_path / f"out.{name}" for name in ("json", "junit", "html", "markdown", "openmetrics")}
    flags = [part for name, path in files.items() for part in (f"--{name}", str(path))]
    assert main(["compare", str(base), str(slower), *flags]) == 1
    comparison = json.loads(files["json"].read_text())
    json_schemas.validate(comparison, comparison_schema())
    shift = comparison["rows"][0]
    assert (shift["scope"], shift["statistic"], shift["outcome"]) == ("all requests", "shift", "REGRESSED")
    assert 0 < shift["lower_ms"] < shift["difference_ms"] < shift["upper_ms"]
    assert comparison["verdict"]["status"] == "REGRESSED" and comparison["verdict"]["exit_code"] == 1
    assert files["junit"].read_text().count('type="regressed"') == sum(r["outcome"] == "REGRESSED" for r in comparison["rows"])
    assert "chart-comparison" in files["html"].read_text() and "candidate" in files["html"].read_text()
    assert "REGRESSED" in files["markdown"].read_text()
    metrics = files["openmetrics"].read_text()
    assert 'headroom_comparison_verdict{stack="local",endpoint="http://127.0.0.1:8080",status="REGRESSED"} 1' in metrics
    assert metrics.endswith("# EOF\n")
    assert "REGRESSED" in capsys.readouterr().out


def test_the_same_run_twice_is_never_regressed_and_a_faster_one_improves(runs: tuple[Path, Path]) -> None:
    base, slower = runs
    assert main(["compare", str(base), str(base)]) in (0, 3)
    assert main(["compare", str(slower), str(base), "--percentiles", "50"]) == 0  # IMPROVED: exit 0


def test_a_report_of_another_stack_is_refused_naming_the_difference(runs: tuple[Path, Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = runs
    other = save(synthetic_report(40.0).model_copy(update={"stack": "prod"}), tmp_path / "prod.json")
    assert main(["compare", str(base), str(other)]) == 2
    assert "stack differs: baseline 'local', candidate 'prod'" in capsys.readouterr().err
    out = tmp_path / "forced.json"
    assert main(["compare", str(base), str(other), "--allow-mismatch", "--json", str(out)]) in (0, 3)
    assert any("stack differs" in warning for warning in json.loads(out.read_text())["warnings"])


def test_a_report_without_histograms_is_refused(runs: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = runs
    old = json.loads(base.read_text())
    del old["results"]["judged_histograms"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert main(["compare", str(tmp_path / "old.json"), str(base)]) == 2
    assert "results.judged_histograms: absent" in capsys.readouterr().err
    for field, text in (("all", "notbase64!!"), ("endpoints", {"/api/v1/health": "SGVsbG8="})):
        edited = json.loads(base.read_text())
        edited["results"]["judged_histograms"][field] = text
        (tmp_path / "edited.json").write_text(json.dumps(edited))
        assert main(["compare", str(base), str(tmp_path / "edited.json")]) == 2
        assert "not an HDR histogram" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--tolerance", "5"], ["--tolerance", "5%,6%"], ["--tolerance", "120%"],
                                   ["--percentiles", "97"], ["--percentiles", ""]])
def test_bad_flags_exit_2(runs: tuple[Path, Path], flags: list[str]) -> None:
    base, slower = runs
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(base), str(slower), *flags])
    assert exit_.value.code == 2


def test_history_lists_runs_and_previous_takes_the_last_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "Pulumi.local.yaml"
    shutil.copy(REPO_ROOT / "Pulumi.local.yaml", stack)
    directory = tmp_path / ".headroom" / "runs" / "local"
    good = synthetic_report(40.0)
    failed = good.model_copy(update={"verdict": good.verdict.model_copy(update={"status": Status.FAIL, "exit_code": 1})})
    save(good, directory / "20260101-000000-a" / "report.json")
    save(failed, directory / "20260102-000000-b" / "report.json")
    (directory / "20260103-000000-c").mkdir()  # interrupted: no report
    newest = save(synthetic_report(50.0), directory / "20260104-000000-d" / "report.json")
    assert main(["history", "--stack", str(stack), "--json", "-"]) == 0
    listed = json.loads(capsys.readouterr().out)["runs"]
    assert [entry.get("verdict") for entry in listed] == ["PASS", "FAIL", None, "PASS"]
    assert "no such file" in listed[2]["problem"]
    assert main(["compare", "--previous", str(newest)]) == 1  # against run a, the last PASS before it (b failed)
    assert "20260101-000000-a" in capsys.readouterr().err
    assert main(["compare", "--previous", str(directory / "20260101-000000-a" / "report.json")]) == 2


@pytest.mark.parametrize(("flags", "message"), [
    (["--min-run-time", "30s"], "--min-run-time applies only with --until-decided"),
    (["--until-decided", "--min-run-time", "5m", "--max-run-time", "60s"], "must be shorter than the run's maximum"),
    (["--baseline", "missing.json"], "--baseline missing.json: no such file"),
    (["--compare-host", "http://127.0.0.1:9"], "--compare-host loads two deployed targets"),
    (["--compare-host", "http://127.0.0.1:9/", "--host", "http://127.0.0.1:9"], "the same URL as --host"),
    (["--baseline", "a.json", "--compare-host", "http://127.0.0.1:9"], "not allowed with argument"),
])
def test_validate_refuses_bad_regression_flags_before_any_load(flags: list[str], message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["validate", "--stack", str(REPO_ROOT / "Pulumi.local.yaml"), *flags])
    except SystemExit as exit_:  # argparse's own refusals
        code = int(str(exit_.code))
    assert code == 2
    assert message in capsys.readouterr().err


def test_validate_refuses_a_baseline_of_another_profile_before_any_load(runs: tuple[Path, Path],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    base, _ = runs
    assert main(["validate", "--stack", str(REPO_ROOT / "Pulumi.local.yaml"), "--profile", "spike",
                 "--baseline", str(base)]) == 2
    assert "profile 'normal', this run 'spike'" in capsys.readouterr().err


def test_validate_refuses_a_baseline_without_usable_histograms_before_any_load(runs: tuple[Path, Path], tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    edited = json.loads(runs[0].read_text())
    edited["results"]["judged_histograms"]["all"] = "notbase64!!"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert main(["validate", "--stack", str(REPO_ROOT / "Pulumi.local.yaml"), "--baseline", str(tmp_path / "edited.json")]) == 2
    assert "results.judged_histograms.all: not an HDR histogram" in capsys.readouterr().err
