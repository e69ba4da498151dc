"""`headroom render --pipelines` from the command line: where the manifests go, and nothing written on bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import headroom_here

from infra.config import REPO_ROOT, load_stack
from infra.pipelines import PIPELINE_ARTIFACTS, render_pipelines


def test_pipelines_go_to_their_own_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = headroom_here(capsys, "render", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    assert not (tmp_path / "plain" / "pipelines").exists()
    result = headroom_here(capsys, "render", "--stack", "dev", "--project-dir", str(REPO_ROOT), "--out", str(tmp_path / "out"), "--pipelines")
    assert result.returncode == 0, result.stderr
    stack = load_stack("dev", REPO_ROOT)
    expected = render_pipelines(stack.config, stack.name)
    assert {p.name: p.read_text() for p in (tmp_path / "out" / "pipelines").iterdir()} == expected
    assert set(expected) == set(PIPELINE_ARTIFACTS)
    assert (tmp_path / "out" / "hpa.yaml").is_file()


def test_a_pipeline_setting_that_cannot_work_writes_nothing(tmp_path: Path, write_stack: Callable[..., Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack("""\
        config:
          headroom:slo:
            rampSeconds: 10
            runTime: 5m
          headroom:pipeline:
            flagger:
              interval: 5m
        """)
    result = headroom_here(capsys, "render", "--stack", str(stack), "--out", str(tmp_path / "out"), "--pipelines")
    assert result.returncode == 2
    assert "headroom:pipeline.flagger.interval (5m) must be longer than a webhook's timeout (360 s" in result.stderr
    assert not (tmp_path / "out").exists()
