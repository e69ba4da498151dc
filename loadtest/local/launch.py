"""Bringing a local stack up, with or without its autoscaler, and always down again.

The one place that knows both halves: ``LocalStack`` runs replicas and nginx,
``LocalAutoscaler`` decides their number; neither imports the other. An
autoscaled stack starts at the HPA's ``minReplicas`` (as a new Deployment would)
and may grow to its ``maxReplicas``, bounded by what one machine runs.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from infra.config import StackConfig
from infra.config.schema import MAX_LOCAL_REPLICAS
from infra.errors import ConfigError

from ..console import err
from .autoscaler import TIMELINE_FILE, LocalAutoscaler
from .meters import CommandMeter, ReferenceMeter, ReplicaMeter
from .stack import UPSTREAM_LOG, LocalStack


class LocalStackRun:
    """``with LocalStackRun(...) as stack:`` starts the stack (and autoscaler); leaving stops both.

    ``stack`` is available before entering, so a caller that is interrupted during
    start-up can still ask ``run.stack.reached_up``.
    """

    def __init__(self, name: str, config: StackConfig, runtime_dir: Path, autoscale: bool = False,
                 prometheus: bool = False, hpa_time_scale: int = 1) -> None:
        """``hpa_time_scale`` K runs the autoscaler's clock K times faster: tests and benchmarks only (loadtest.planning.timescale)."""
        if autoscale and config.hpa.max_replicas > MAX_LOCAL_REPLICAS:
            raise ConfigError(
                f"headroom:hpa.maxReplicas is {config.hpa.max_replicas}; the autoscaled local stack runs at most "
                f"{MAX_LOCAL_REPLICAS} replicas on this machine"
            )
        replicas = config.hpa.min_replicas if autoscale else config.local.replicas
        self.stack = LocalStack(name, config, runtime_dir, replicas=replicas, autoscaled=autoscale, prometheus=prometheus,
                                hpa_time_scale=hpa_time_scale)
        self.autoscaler: LocalAutoscaler | None = None
        self.autoscaler_error: BaseException | None = None
        self._autoscale = autoscale

    def __enter__(self) -> LocalStack:
        self.stack.start()
        if self._autoscale:
            try:
                self.autoscaler = LocalAutoscaler(self.stack, self.stack.config, self.stack.runtime_dir / TIMELINE_FILE,
                                                  time_scale=self.stack.hpa_time_scale, meter=self._meter())
                self.autoscaler.start()
            except BaseException:
                self.stack.stop()
                raise
        return self.stack

    def _meter(self) -> ReplicaMeter:
        """The team's command is measured from outside (its process tree, nginx's log); the reference service counts itself."""
        if self.stack.command is None:
            return ReferenceMeter()
        return CommandMeter(self.stack.pid_of, self.stack.runtime_dir / UPSTREAM_LOG, self.stack.config.local.concurrency_limit)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """The autoscaler first (it may be starting a replica), then the stack. Safe to call twice.

        An autoscaler that died early left the replica count fixed from then on: say so
        (``autoscaler_error`` keeps it for callers), since the run was not autoscaled throughout.
        """
        if self.autoscaler is not None:
            error = self.autoscaler.stop()
            self.autoscaler = None
            if error is not None:
                self.autoscaler_error = error
                err.print(f"error: the local autoscaler stopped early ({type(error).__name__}: {error}); the replica count "
                          "stayed fixed from then on", markup=False, highlight=False)
        self.stack.stop()
