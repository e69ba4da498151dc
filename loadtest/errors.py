"""Errors of the validation side, under ``infra.errors.HeadroomError``::

    HeadroomError
    ├── ConfigError                  (infra.errors) bad stack, flag, file or path: exit 2
    │   ├── ContradictoryLoadError   the load cannot produce what the SLO asks (Little's law): exit 2
    │   └── StackRunningError        the local stack is (or is not) running, contrary to the command: exit 2
    ├── ProcessError                 a process headroom starts failed: exit 4 (headroom could not carry out the run)
    │   ├── LocalStackError          a replica or nginx did not start or become healthy
    │   ├── LoadGeneratorError       Locust did not start, crashed, or left no results
    │   └── SearchWorkerError        a worker process of `plan --optimize`'s search died before its result
    └── OutputError                  a finished run could write none of its reports (its verdict is lost): exit 4

Any other exception is a bug (or the OS refusing): the CLI prints one line, writes the
traceback to a file, and exits with ``INTERNAL_ERROR_EXIT`` (4), never 1 or 2.
"""

from __future__ import annotations

from infra.errors import ConfigError, HeadroomError

INTERNAL_ERROR_EXIT = 4
"""headroom itself could not carry out the run; 1 is reserved for "the SLO is missed"."""


class ContradictoryLoadError(ConfigError):
    """The requested load cannot produce what the SLO asks for (checked before any load)."""


class StackRunningError(ConfigError):
    """The local stack's state contradicts the command: already running, or running without its autoscaler."""


class ProcessError(HeadroomError):
    """A process headroom starts did not come up or died; its log is named in the message."""

    exit_code = INTERNAL_ERROR_EXIT


class LocalStackError(ProcessError):
    """A replica or nginx of the local stack did not start or become healthy."""


class LoadGeneratorError(ProcessError):
    """Locust did not start, crashed, or wrote no results."""


class SearchWorkerError(ProcessError):
    """A forked worker of the optimizer's search ended without sending its part's result."""


class OutputError(HeadroomError):
    """A finished run could write none of its reports; an output that fails while another is written is not this."""

    exit_code = INTERNAL_ERROR_EXIT
