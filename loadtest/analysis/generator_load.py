"""Is the load generator itself the bottleneck? Judged from its processes' CPU samples.

A Locust process runs on one core; above about 90 % of it, its users are late to
send and to time their requests, so what it measures is partly itself. Locust
only warns after its own 20-second average; headroom samples every second from
the first second of load.
"""

from __future__ import annotations

from ..report.model import CpuSample, GeneratorInfo

SATURATION_PERCENT = 90.0
CONSECUTIVE_SAMPLES = 2


def judge_generator(samples: list[CpuSample], threshold: float = SATURATION_PERCENT) -> GeneratorInfo:
    """Saturated when one process stays at or above the threshold for consecutive samples."""
    peak, peak_process = 0.0, ""
    streaks: dict[str, int] = {}
    saturated_at: float | None = None
    for sample in samples:
        for process, percent in sample.cpu_percent.items():
            if percent > peak:
                peak, peak_process = percent, process
            streaks[process] = streaks.get(process, 0) + 1 if percent >= threshold else 0
            if saturated_at is None and streaks[process] >= CONSECUTIVE_SAMPLES:
                saturated_at = sample.offset_s
    busiest = [max(s.cpu_percent.values(), default=0.0) for s in samples]
    return GeneratorInfo(
        peak_cpu_percent=peak,
        peak_process=peak_process,
        mean_cpu_percent=sum(busiest) / len(busiest) if busiest else 0.0,
        saturated=saturated_at is not None,
        threshold_percent=threshold,
        samples=samples,
        saturated_at_s=saturated_at,
    )
