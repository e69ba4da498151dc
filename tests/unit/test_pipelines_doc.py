"""docs/pipelines.md shows the manifests `render --pipelines` writes for the dev stack, byte for byte.

``UPDATE_GOLDEN=1`` rewrites them in place after a deliberate template change (review the diff).
"""

from __future__ import annotations

import os
import re

from infra.config import REPO_ROOT, load_stack
from infra.pipelines import render_pipelines

DOC = REPO_ROOT / "docs" / "pipelines.md"
BLOCK = re.compile(r"(<!-- rendered: (\w+) ([\w.-]+) -->\n```yaml\n)(.*?)(```)", re.DOTALL)


def _filled(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        stack = load_stack(match.group(2), REPO_ROOT)
        return match.group(1) + render_pipelines(stack.config, stack.name)[match.group(3)] + match.group(5)

    return BLOCK.sub(fill, text)


def test_the_doc_shows_what_render_writes() -> None:
    text = DOC.read_text()
    assert len(BLOCK.findall(text)) == 3
    expected = _filled(text)
    if os.environ.get("UPDATE_GOLDEN") and expected != text:
        DOC.write_text(expected)
        text = expected
    assert text == expected, "docs/pipelines.md is out of date: UPDATE_GOLDEN=1 pytest tests/unit/test_pipelines_doc.py"
