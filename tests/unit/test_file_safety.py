"""Files headroom writes: atomic, through symlinks, modes kept, line endings kept, never over a newer file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from infra.config import load_stack
from infra.files import write_atomically
from loadtest.analysis.changes import ConfigChange
from loadtest.validation.stack_edit import StackEdit, StaleFileError

STACK = """\
# a comment that must survive
config:
  aws:region: us-east-1
  headroom:deploy:
    aws: false
    kubernetes: false
  headroom:local:
    replicas: 2   # too few
"""
CHANGE = ConfigChange("local", "replicas", 2, 3, "test")


def test_a_symlinked_file_is_written_through_and_the_link_stays(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("old\n")
    link = tmp_path / "Pulumi.link.yaml"
    link.symlink_to(target)
    write_atomically(link, "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"


def test_an_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "existing.json"
    existing.write_text("{}")
    existing.chmod(0o644)
    write_atomically(existing, "{}\n")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644
    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "new.json", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_a_crlf_stack_file_can_be_written_and_stays_crlf(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.win.yaml"
    path.write_bytes(STACK.replace("\n", "\r\n").encode())
    stack = load_stack(str(path))
    edit = StackEdit(stack.path, stack.text)
    new = edit.apply([CHANGE, ConfigChange("local", "workers", 8, 16, "test")])
    edit.write(new)
    raw = path.read_bytes()
    assert b"replicas: 3   # too few\r\n" in raw and b"workers: 16\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b""), "no bare LF was introduced"
    assert load_stack(str(path)).config.local.replicas == 3


def test_an_edit_made_after_the_config_was_read_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(STACK)
    stack = load_stack(str(path))  # the run reads its config here ...
    path.write_text(STACK.replace("us-east-1", "eu-west-1"))  # ... the user edits during the run ...
    edit = StackEdit(stack.path, stack.text)  # ... and the analysis comes minutes later
    new = edit.apply([CHANGE])
    with pytest.raises(StaleFileError, match="changed since headroom read it"):
        edit.write(new)
    assert "eu-west-1" in path.read_text()
