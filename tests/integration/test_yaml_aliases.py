"""YAML aliases cannot blow up headroom: refused inside headroom sections, never expanded elsewhere.

A few hundred bytes of nested aliases ("billion laughs") expand to gigabytes. Before
this, one inside a headroom value made a 40 MB error message, and one in a key
headroom does not own ran the diff check out of memory. Each file below is small; each
command must finish quickly (run in a child process under a memory ceiling).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import config_from_keys, read_stack_keys
from infra.errors import ConfigError, ConfigValidationError, StackFileError
from loadtest.analysis.changes import ConfigChange
from loadtest.validation.stack_edit import StackEdit

MEMORY_CEILING = 1_500_000_000  # bytes of address space for the child; the bombs need gigabytes


def laughs(keys: list[str], indent: str) -> str:
    """A billion-laughs ladder, one level per key: each level is 9 aliases of the one before."""
    lines = [f'{indent}{keys[0]}: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, len(keys)):
        lines.append(f"{indent}{keys[level]}: &l{level} [{','.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


INSIDE = "config:\n  headroom:service:\n" + laughs(
    ["name", "image", "namespace", "healthPath", "cpuRequest", "memoryRequest", "memoryLimit"], "    "
)
OUTSIDE = (
    "config:\n  aws:region: us-east-1\n"
    + laughs([f"other:k{i}" for i in range(9)], "  ")
    + "  headroom:hpa:\n    minReplicas: 2\n    maxReplicas: 10\n"
)


def run_limited(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Python in a child process that may use at most MEMORY_CEILING bytes."""
    prelude = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CEILING}, {MEMORY_CEILING}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args], capture_output=True, text=True, timeout=timeout
    )


def headroom_limited(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_limited("import sys; from loadtest.cli import main; sys.exit(main(sys.argv[1:]))", *args, timeout=timeout)


def test_the_bombs_are_small() -> None:
    assert len(INSIDE.encode()) < 500 and len(OUTSIDE.encode()) < 700


def test_aliases_inside_a_headroom_section_are_refused_briefly(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bomb.yaml"
    stack.write_text(INSIDE)
    out = tmp_path / "out"
    result = headroom_limited("render", "--stack", str(stack), "--out", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(result.stdout) + len(result.stderr) < 2000, len(result.stderr)
    assert str(stack) in result.stderr and "headroom:service" in result.stderr
    assert "anchors" in result.stderr and "aliases" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # An alias in a headroom value to an anchor elsewhere.
        ("x-ports: &port 8000\nconfig:\n  headroom:service:\n    port: *port\n", "headroom:service"),
        # An anchor alone, not even used.
        ("config:\n  headroom:service:\n    name: &n api\n", "headroom:service"),
        # A merge key: `<<: *base` is an alias too.
        (
            "config:\n  other:base: &base {minReplicas: 2}\n  headroom:hpa:\n    <<: *base\n    maxReplicas: 4\n",
            "headroom:hpa",
        ),
        # A whole section from an alias.
        ("config:\n  other:hpa: &h {minReplicas: 2}\n  headroom:hpa: *h\n", "headroom:hpa"),
        # Headroom sections merged into config from elsewhere.
        ("base: &b\n  headroom:hpa: {minReplicas: 2}\nconfig:\n  <<: *b\n", "<<"),
    ],
)
def test_every_form_of_alias_in_headroom_sections_is_refused(text: str, where: str, tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(text)
    with pytest.raises(StackFileError) as caught:
        read_stack_keys(stack)
    message = str(caught.value)
    assert message.startswith(f"{stack}: ") and where in message and "line " in message, message
    assert "write each value out in full" in message


def test_aliases_in_keys_headroom_does_not_own_are_left_alone(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(OUTSIDE)
    result = headroom_limited("render", "--stack", str(stack), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_diff_check_does_not_expand_other_keys(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text(OUTSIDE)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from loadtest.analysis.changes import ConfigChange\nfrom loadtest.validation.stack_edit import StackEdit\n"
        "edit = StackEdit(Path(sys.argv[1]))\n"
        "print(edit.diff(edit.apply([ConfigChange('hpa', 'maxReplicas', 10, 12)])))\n"
    )
    result = run_limited(code, str(stack))
    assert result.returncode == 0, result.stderr[-2000:]
    changed = [line for line in result.stdout.splitlines() if line.startswith(("+", "-")) and line[:3] not in ("+++", "---")]
    assert changed == ["-    maxReplicas: 10", "+    maxReplicas: 12"]


def test_the_diff_check_refuses_a_change_to_another_key(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n  aws:region: us-east-1\n  headroom:hpa:\n    maxReplicas: 10\n")
    edit = StackEdit(stack)
    changes = [ConfigChange("hpa", "maxReplicas", 10, 12)]
    good = edit.apply(changes)
    tampered = good.replace("us-east-1", "eu-west-1")
    with pytest.raises(ConfigError, match="without touching other values"):
        edit._verify(tampered, changes)
    # Same text, other quoting: still a change to a key headroom does not own.
    with pytest.raises(ConfigError, match="without touching other values"):
        edit._verify(good.replace("us-east-1", "'us-east-1'"), changes)


@pytest.mark.parametrize(
    "keys",
    [
        {"headroom:service": {"name": "a" * 100_000}},
        {"headroom:hpa": {"minReplicas": list(range(100_000))}},
        {"headroom:hpa": "x" * 100_000},
    ],
)
def test_values_quoted_in_messages_are_truncated(keys: dict) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        config_from_keys(keys, source="Pulumi.t.yaml")
    for problem in caught.value.problems:
        assert len(str(problem)) < 600, str(problem)[:700]


def test_a_config_that_is_not_a_mapping_is_quoted_briefly(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config: [" + ",".join(["lolololol"] * 20_000) + "]\n")
    with pytest.raises(StackFileError) as caught:
        read_stack_keys(stack)
    assert len(str(caught.value)) < 600
