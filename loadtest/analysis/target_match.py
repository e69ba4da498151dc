"""Does the scenario fit its target? A run whose requests are nearly all HTTP 404 loaded the wrong service.

The local stack runs the reference service unless told otherwise, so a stack that
describes its own scenario (headroom:scenario) and is tuned on it sends requests the
reference does not serve: every one a 404, a FAIL on the error rate, and no change
proposed ("errors first"). Said plainly, that is a mismatch, not a capacity result.
"""

from __future__ import annotations

import re

from ..report.model import PhaseSummary, Report

NOT_FOUND = re.compile(r"(?<![0-9])404(?![0-9])")
"""A failure reason that is an HTTP 404: headroom's own "HTTP 404", or Locust's "404 Client Error: Not Found ..."."""
MISMATCH_SHARE = 0.9
"""Nearly every request: at least this share of them answered 404."""


def not_found_requests(summary: PhaseSummary) -> int:
    """How many of the phase's requests failed with an HTTP 404."""
    return sum(count for by_reason in summary.failure_reasons.values()
               for reason, count in by_reason.items() if NOT_FOUND.search(reason))


def mismatch_warning(report: Report) -> str | None:
    """A warning when nearly every request of the run was a 404; None otherwise."""
    whole = report.results.whole_run
    if whole.requests == 0:
        return None
    missing = not_found_requests(whole)
    share = missing / whole.requests
    if share < MISMATCH_SHARE:
        return None
    return (f"{share:.0%} of the run's {whole.requests} requests answered HTTP 404 at {report.host}: the scenario and "
            "the target do not match (the local stack runs the reference service unless headroom:local says otherwise); "
            "this is not a capacity result. Point the run at your service (`headroom validate --host URL`) or send a "
            "scenario the target serves")
