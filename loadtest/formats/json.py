"""The JSON report (docs/report.md, schema docs/report.schema.json): the report's own dictionary, indented."""

from __future__ import annotations

import json

from ..report.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json_dict(), indent=2) + "\n"
