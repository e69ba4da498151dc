"""Errors of the validation side, under ``infra.errors.HeadroomError``::

    HeadroomError
    ├── ConfigError            (infra.errors) bad stack or flag: exit 2
    │   └── ContradictoryLoadError  the load cannot produce what the SLO asks (Little's law): exit 2
    └── ProcessError           a process headroom starts failed to come up: exit 2
        ├── LocalStackError    a replica or nginx did not start or become healthy
        └── LoadGeneratorError Locust did not start or left no results
"""

from __future__ import annotations

from infra.errors import ConfigError, HeadroomError


class ContradictoryLoadError(ConfigError):
    """The requested load cannot produce what the SLO asks for (checked before any load)."""


class ProcessError(HeadroomError):
    """A process headroom starts did not come up; its log is named in the message."""

    exit_code = 2


class LocalStackError(ProcessError):
    """A replica or nginx of the local stack did not start or become healthy."""


class LoadGeneratorError(ProcessError):
    """Locust did not start, crashed, or wrote no results."""
