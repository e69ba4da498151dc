"""The terminals headroom writes to: results on stdout, diagnostics on stderr."""

from __future__ import annotations

import os

from rich.console import Console

# Rich assumes 80 columns when output is not a terminal (CI logs, pipes); tables are wider.
_WIDTH = None if os.isatty(1) else int(os.environ.get("COLUMNS", "120"))
# markup=False: messages quote user text (paths, stack names, values) that may contain '[' and ']';
# styling is done with rich.text.Text, never with markup strings.
out = Console(highlight=False, soft_wrap=False, width=_WIDTH, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
