"""The report's formats. Each renderer takes the typed ``loadtest.report.Report``, so a saved
report (``loadtest.report.load_report``) renders the same as a fresh one. Pure: text in memory,
nothing written."""

from .html import render_html
from .json import render_json
from .junit import render_junit
from .markdown import render_markdown
from .openmetrics import render_openmetrics
from .text import render_text

__all__ = ["render_html", "render_json", "render_junit", "render_markdown", "render_openmetrics", "render_text"]
