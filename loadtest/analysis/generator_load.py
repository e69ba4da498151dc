"""Is the load generator itself the bottleneck? Judged from its processes' CPU samples.

A Locust process runs on one core; above about 90 % of it, its users are late to
send and to time their requests, so what it measures is partly itself. Locust
only warns after its own 20-second average; headroom samples every second from
the first second of load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SATURATION_PERCENT = 90.0
CONSECUTIVE_SAMPLES = 2


@dataclass(frozen=True)
class CpuSample:
    offset_s: float
    percent_by_process: dict[str, float]


@dataclass(frozen=True)
class GeneratorLoad:
    samples: list[CpuSample] = field(default_factory=list)
    peak_percent: float = 0.0
    peak_process: str = ""
    peak_offset_s: float = 0.0
    saturated: bool = False
    saturated_at_s: float | None = None
    threshold_percent: float = SATURATION_PERCENT

    @property
    def mean_percent(self) -> float:
        values = [max(s.percent_by_process.values(), default=0.0) for s in self.samples]
        return sum(values) / len(values) if values else 0.0


def judge_generator(samples: list[CpuSample], threshold: float = SATURATION_PERCENT) -> GeneratorLoad:
    """Saturated when one process stays at or above the threshold for consecutive samples."""
    peak, peak_process, peak_offset = 0.0, "", 0.0
    streaks: dict[str, int] = {}
    saturated_at: float | None = None
    for sample in samples:
        for process, percent in sample.percent_by_process.items():
            if percent > peak:
                peak, peak_process, peak_offset = percent, process, sample.offset_s
            streaks[process] = streaks.get(process, 0) + 1 if percent >= threshold else 0
            if saturated_at is None and streaks[process] >= CONSECUTIVE_SAMPLES:
                saturated_at = sample.offset_s
    return GeneratorLoad(
        samples=samples,
        peak_percent=peak,
        peak_process=peak_process,
        peak_offset_s=peak_offset,
        saturated=saturated_at is not None,
        saturated_at_s=saturated_at,
        threshold_percent=threshold,
    )
