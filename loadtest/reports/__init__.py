"""Renderers of the validation report. Each takes the report's JSON dict (``ValidationReport.to_dict()``),
so a saved report renders the same as a fresh one."""

from .html import render_html
from .junit import render_junit
from .markdown import render_markdown
from .openmetrics import render_openmetrics
from .text import render_text

__all__ = ["render_html", "render_junit", "render_markdown", "render_openmetrics", "render_text"]
