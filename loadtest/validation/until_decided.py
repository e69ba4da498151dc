"""``validate --until-decided``: look at the recording every few seconds and stop once every criterion is decisive.

The looks and their critical values are planned before the run (``analysis.sequential.LookPlan``)
so that the 5 % is spent across them; at each look the recording so far (Locust's snapshot,
``load.snapshots``) is judged with that look's value (``analysis.looks``). When nothing is
left undecided the progress callback raises ``RunDecided`` and the runner stops Locust as at
the end of its run time; the report is then judged at the same look's level and says where
it stopped, why, and how much run time that saved (``sequential``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import SloConfig

from ..analysis.looks import look
from ..analysis.measurement import Measurement, confidence_of
from ..analysis.regression import Side
from ..analysis.sequential import LookPlan, Spending
from ..load.runner import ProgressCallback, RunDecided
from ..report.model import Look, SequentialInfo
from .comparing import ComparisonSettings

DEFAULT_EVERY_S = 10.0
DEFAULT_FIRST_AFTER_RAMP_S = 30.0


@dataclass(frozen=True)
class UntilDecided:
    """The flags: ``--min-run-time`` (first look), ``--look-every``, ``--max-run-time``, ``--spending``."""

    first_s: float | None = None
    every_s: float = DEFAULT_EVERY_S
    max_s: float | None = None
    spending: Spending = "obrien-fleming"

    def plan(self, run_time_s: float, ramp_s: float) -> LookPlan:
        """The looks for a run of ``run_time_s`` (its maximum) whose ramp lasts ``ramp_s``."""
        first = self.first_s if self.first_s is not None else ramp_s + DEFAULT_FIRST_AFTER_RAMP_S
        return LookPlan(first_s=min(first, run_time_s), every_s=self.every_s, max_s=run_time_s, judged_from_s=ramp_s,
                        spending=self.spending)


@dataclass
class Monitor:
    """Judges each snapshot at its planned look; stops the run when nothing is undecided."""

    plan: LookPlan
    slo: SloConfig
    comparing: ComparisonSettings
    baseline: Side | None = None
    canary: bool = False
    """``--compare-host``: the snapshot's baseline recording is the primary to compare with."""
    times: list[float] = field(default_factory=list)
    critical: list[float] = field(default_factory=list)
    looks: list[Look] = field(default_factory=list)
    stopped_at_look: int | None = None
    next_look: int = 0

    def __post_init__(self) -> None:
        self.times = self.plan.times()
        self.critical = self.plan.critical_values()

    def wrap(self, on_progress: ProgressCallback | None) -> ProgressCallback:
        def progress(line: dict[str, Any]) -> None:
            if "snapshot" in line:
                self.on_snapshot(Path(line["snapshot"]))
            elif on_progress is not None:
                on_progress(line)
        return progress

    def on_snapshot(self, path: Path) -> None:
        results = json.loads(path.read_text(encoding="utf-8"))
        measurement = Measurement.from_results(results)
        due = [k for k in range(self.next_look, len(self.times)) if self.times[k] <= measurement.duration_s]
        if not due or due[-1] == len(self.times) - 1:
            return  # not yet time, or the maximum: the run ends by itself and is judged at the last look's level
        index = due[-1]
        self.next_look = index + 1
        z = self.critical[index]
        baselines = [("the baseline", self.baseline)] if self.baseline is not None else []
        if self.canary and "baseline_recording" in results:
            primary = Measurement.from_results({**results, "recording": results["baseline_recording"]})
            phase = primary.full_load()
            if phase is not None:
                baselines.append(("the primary", Side(primary.histogram(phase), primary.endpoint_histograms(phase))))
        result = look(measurement, self.slo, z, baselines, self.comparing.tolerance, self.comparing.percentiles)
        self.looks.append(Look(at_s=round(self.times[index], 3), fraction=round(self.plan.fractions()[index], 6),
                               critical_value=round(z, 6), confidence=round(confidence_of(z), 8),
                               requests=result.requests, undecided=result.undecided))
        if not result.undecided:
            self.stopped_at_look = index
            raise RunDecided

    @property
    def z(self) -> float:
        """The critical value the report is judged at: the stopping look's, else the last (the maximum's)."""
        return self.critical[self.stopped_at_look if self.stopped_at_look is not None else -1]

    def info(self, stopped_at_s: float) -> SequentialInfo:
        plan = self.plan
        if self.stopped_at_look is not None:
            reason = (f"every criterion was decisive at look {self.stopped_at_look + 1} of {len(self.times)} "
                      f"({self.times[self.stopped_at_look]:g} s, each interval at "
                      f"{100 * confidence_of(self.z):.6g} %)")
        else:
            left = self.looks[-1].undecided if self.looks else []
            reason = ("no look decided everything; the run went on to its maximum"
                      + (f" (still undecided at the last look: {', '.join(left[:5])})" if left else ""))
        return SequentialInfo(
            spending=plan.spending, alpha=plan.alpha, first_s=plan.first_s, every_s=plan.every_s, max_s=plan.max_s,
            looks_planned=len(self.times), looks=self.looks,
            stopped_at_look=None if self.stopped_at_look is None else self.stopped_at_look + 1,
            stopped_at_s=round(stopped_at_s, 3), reason=reason,
            saved_s=round(max(0.0, plan.max_s - stopped_at_s), 3) if self.stopped_at_look is not None else 0.0,
        )
