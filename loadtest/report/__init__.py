"""The validation report as a typed model: built once, parsed once at the edge, passed inward typed.

``model`` holds every section of ``headroom-report/1``; ``load`` turns a saved file into a
``Report`` or refuses it with the field that is wrong.
"""

from .load import load_report, parse_report
from .model import FORMAT, InfraMetrics, Report, Status, unavailable

__all__ = ["FORMAT", "InfraMetrics", "Report", "Status", "load_report", "parse_report", "unavailable"]
