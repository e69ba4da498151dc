"""Proposals as diffs: the user's stack file stays byte-identical except on the changed lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.errors import ConfigError
from loadtest.validation.stack_edit import ConfigChange, StackEdit, StaleFileError

STACK = """\
# Production stack. Owned by the platform team.
secretsprovider: awskms://alias/pulumi
encryptionsalt: v1:Zm9vYmFy==

config:
  aws:region: eu-west-1          # Ireland
  datadog:apiKey:
    secure: v1:AAABBBCCC+/DDD==

  # --- scaling ---
  headroom:hpa:
    minReplicas: 2               # never fewer than two
    maxReplicas: "10"
    targetCpuUtilization: 70

    scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 4, periodSeconds: 15}]}
  headroom:local: {replicas: 1, workers: 4}
  headroom:service:
    name: 'vcpml-api'
    cpuRequest: "500m"
  headroom:slo:
    users: 500
"""


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(STACK)
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=False) if a != b]


def test_only_the_changed_values_move(stack: Path) -> None:
    edit = StackEdit(stack)
    after = edit.apply([
        ConfigChange("hpa", "minReplicas", 2, 4),
        ConfigChange("hpa", "maxReplicas", "10", 16),
        ConfigChange("local", "replicas", 1, 3),
        ConfigChange("hpa", "targetCpuUtilization", 70, 60),
    ])
    assert len(after.splitlines()) == len(STACK.splitlines())
    assert changed_lines(STACK, after) == [
        ("    minReplicas: 2               # never fewer than two", "    minReplicas: 4               # never fewer than two"),
        ('    maxReplicas: "10"', '    maxReplicas: "16"'),
        ("    targetCpuUtilization: 70", "    targetCpuUtilization: 60"),
        ("  headroom:local: {replicas: 1, workers: 4}", "  headroom:local: {replicas: 3, workers: 4}"),
    ]
    # Everything else, secure values and comments included, is byte-identical.
    assert "    secure: v1:AAABBBCCC+/DDD==\n" in after and after.startswith(STACK.split("config:", maxsplit=1)[0])


def test_quoting_style_is_kept(stack: Path) -> None:
    after = StackEdit(stack).apply([ConfigChange("service", "name", "vcpml-api", "pricing-api"), ConfigChange("service", "cpuRequest", "500m", "750m")])
    assert changed_lines(STACK, after) == [
        ("    name: 'vcpml-api'", "    name: 'pricing-api'"),
        ('    cpuRequest: "500m"', '    cpuRequest: "750m"'),
    ]


def test_a_missing_key_is_inserted_at_the_sections_indentation(stack: Path) -> None:
    after = StackEdit(stack).apply([ConfigChange("slo", "p95Ms", None, 150)])
    assert after == STACK + "    p95Ms: 150\n"
    after = StackEdit(stack).apply([ConfigChange("service", "memoryRequest", None, "768Mi")])
    assert "    cpuRequest: \"500m\"\n    memoryRequest: 768Mi\n  headroom:slo:" in after



@pytest.mark.parametrize(("section", "proposed"), [
    # One line: the new entry goes last, before the brace and the user's comment after it.
    ('{healthPath: /-/versions.json, cpuRequest: "1"}   # one CPU',
     '{healthPath: /-/versions.json, cpuRequest: "1", memoryRequest: 768Mi}   # one CPU'),
    ("{}", "{memoryRequest: 768Mi}"),  # no keys yet: a section that can only be written in flow style
    ("{cpuRequest: '1', }", "{cpuRequest: '1', memoryRequest: 768Mi }"),  # a trailing comma is the separator
    # Over lines: after the last entry, not in a comment holding a brace, and the closing brace stays on its line.
    ('{cpuRequest: "1",   # a whole CPU }\n    healthPath: "/h"\n  }',
     '{cpuRequest: "1",   # a whole CPU }\n    healthPath: "/h", memoryRequest: 768Mi\n  }'),
])
def test_a_missing_key_joins_a_flow_style_section(tmp_path: Path, section: str, proposed: str) -> None:
    # A clean-clone CI run's validate exited 2 after its load on `headroom:service: {...}`: the proposal's new
    # memoryRequest had nowhere to go, and the run's report was lost with it.
    path = tmp_path / "Pulumi.flow.yaml"
    path.write_text(f"config:\n  headroom:service: {section}\n  headroom:local:\n    replicas: 1\n")
    after = StackEdit(path).apply([ConfigChange("service", "memoryRequest", None, "768Mi")])
    assert after == f"config:\n  headroom:service: {proposed}\n  headroom:local:\n    replicas: 1\n"


def test_an_edit_headroom_cannot_place_names_the_file_the_key_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.odd.yaml"
    path.write_text("config:\n  headroom:service: [cpuRequest]\n")
    with pytest.raises(ConfigError, match=r"Pulumi\.odd\.yaml: headroom:service = \['cpuRequest'\] is not a mapping; "
                                          r"set memoryRequest: 768Mi by hand"):
        StackEdit(path).apply([ConfigChange("service", "memoryRequest", None, "768Mi")])

def test_a_missing_section_is_appended(stack: Path) -> None:
    after = StackEdit(stack).apply([ConfigChange("asg", "maxSize", None, 20)])
    assert after == STACK + "  headroom:asg:\n    maxSize: 20\n"


def test_a_file_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  headroom:local:\n    replicas: 1")
    assert StackEdit(path).apply([ConfigChange("local", "replicas", 1, 2)]) == "config:\n  headroom:local:\n    replicas: 2"
    assert StackEdit(path).apply([ConfigChange("local", "workers", None, 6)]) == "config:\n  headroom:local:\n    replicas: 1\n    workers: 6\n"


def test_a_change_the_schema_rejects_is_refused(stack: Path) -> None:
    with pytest.raises(ConfigError, match="minReplicas \\(20\\) must be <= maxReplicas \\(10\\)"):
        StackEdit(stack).apply([ConfigChange("hpa", "minReplicas", 2, 20)])


def test_diff_and_pulumi_commands(stack: Path) -> None:
    edit = StackEdit(stack)
    change = ConfigChange("hpa", "minReplicas", 2, 4)
    diff = edit.diff(edit.apply([change]))
    assert diff.startswith("--- a/Pulumi.prod.yaml\n+++ b/Pulumi.prod.yaml\n")
    assert "-    minReplicas: 2  " in diff and "+    minReplicas: 4  " in diff
    assert edit.diff(edit.original) == ""
    assert change.pulumi_commands("prod") == ["pulumi config set --path 'headroom:hpa.minReplicas' 4 --stack prod"]
    assert ConfigChange("asg", "targetCpu", 70, 62.5).pulumi_commands("prod")[0].endswith("62.5 --type float --stack prod")


def test_write_is_atomic_and_keeps_the_mode(stack: Path) -> None:
    os.chmod(stack, 0o640)
    edit = StackEdit(stack)
    after = edit.apply([ConfigChange("hpa", "minReplicas", 2, 3)])
    edit.write(after)
    assert stack.read_text() == after
    assert stack.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in stack.parent.iterdir()] == [stack.name]


def test_a_file_changed_since_it_was_read_is_not_overwritten(stack: Path) -> None:
    edit = StackEdit(stack)
    after = edit.apply([ConfigChange("hpa", "minReplicas", 2, 3)])
    stack.write_text(STACK.replace("users: 500", "users: 800"))  # someone else's edit
    with pytest.raises(StaleFileError, match="changed since headroom read it"):
        edit.write(after)
    assert "users: 800" in stack.read_text() and "minReplicas: 2 " in stack.read_text()


def test_a_failed_write_leaves_the_original_intact(stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit = StackEdit(stack)
    after = edit.apply([ConfigChange("hpa", "minReplicas", 2, 3)])

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        edit.write(after)
    assert stack.read_text() == STACK
    assert [p.name for p in stack.parent.iterdir()] == [stack.name]  # no temporary file left
