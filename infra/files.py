"""Writing a file whole or not at all: headroom's one way to write what a user will read.

Every output (rendered artifacts, reports, diffs, an edited stack file, the local
stack's state) goes through ``write_atomically``: the text goes to a temporary file
in the target's own directory, is flushed to disk, and is renamed over the target,
so a reader, a crash or a Ctrl-C sees the old file or the new one, never half of
each. A symlink is written through (its target is replaced, the link stays), an
existing file keeps its permission bits, and a new file gets the ones the umask
allows, as ``open()`` would give it, unless the caller names the mode (the local stack's
state file is 0600 whatever the umask).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, *, newline: str | None = None, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` atomically; ``newline`` as ``open()`` takes it ("" keeps ``text``'s own);
    ``mode``: these permission bits from the first byte, instead of the existing file's or the umask's."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
