"""The validation report, typed: every section of ``headroom-report/1`` as a pydantic model.

The JSON report is what CI pipelines read (docs/report.md), so these models mirror it
field for field, in its own snake_case names, and fields are added, never renamed.
A report is built once by ``loadtest.analysis.build`` or parsed once from a file by
``loadtest.report.load``; everything after that (the capacity model, the
recommendations, every output format, the planner) reads these typed objects.

Unknown fields are ignored rather than refused, so a report written by a newer
headroom still loads; NaN and infinity are refused, because JSON has neither.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .comparison import Comparison

FORMAT: Final = "headroom-report/1"


class Model(BaseModel):
    """Common settings: immutable, finite numbers only, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class Status(StrEnum):
    """The verdict: INCONCLUSIVE means the measurement cannot be trusted, never "close"."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        return {Status.PASS: 0, Status.FAIL: 1, Status.INCONCLUSIVE: 3}[self]


# what was run ---------------------------------------------------------------------------


class ThinkTime(Model):
    min: float = Field(ge=0)
    max: float = Field(ge=0)


class ProfileInfo(Model):
    name: str
    user_class: str
    think_time_s: ThinkTime


class LoadInfo(Model):
    users: int = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    ramp_s: float = Field(ge=0)
    run_time_s: float = Field(gt=0)
    workers: int = Field(ge=0)


class SloInfo(Model):
    p95_ms: float = Field(gt=0)
    error_rate_percent: float = Field(ge=0, le=100)
    min_throughput_rps: float | None = None
    request_timeout_s: float | None = None
    """``headroom:slo.requestTimeout``: a request that took longer failed ("timeout"). None in reports before it existed."""
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    """The further percentiles of all requests (``headroom:slo.p50Ms`` ...); None: not judged."""
    endpoints: dict[str, EndpointSloInfo] = Field(default_factory=dict)
    """``headroom:slo.endpoints``: each endpoint's own criteria, by Locust request name."""


class EndpointSloInfo(Model):
    """One endpoint's thresholds (``headroom:slo.endpoints.NAME``); None: not judged."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    error_rate_percent: float | None = None


class LoadCheckInfo(Model):
    """Little's law before the run (the JSON key is ``plan``)."""

    think_time_s: float
    max_throughput_rps: float
    expected_throughput_rps: float
    required_throughput_rps: float | None = None
    notes: list[str] = Field(default_factory=list)


# what was measured ------------------------------------------------------------------------


class Window(Model):
    """A span of the run, in seconds from its start."""

    label: str
    start_s: float
    end_s: float
    duration_s: float


class Latency(Model):
    """Response times in milliseconds, from one (merged) HDR histogram."""

    count: int = Field(ge=0)
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float


class ConfidenceInterval(Model):
    confidence: float
    lower_ms: float
    upper_ms: float
    count: int = Field(ge=0)
    enough_samples: bool


class EndpointSummary(Model):
    name: str
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    error_rate_percent: float = Field(ge=0, le=100)
    throughput_rps: float = Field(ge=0)
    latency: Latency


class PhaseSummary(Model):
    """Everything measured over one phase of the run (the judged window, or the whole run)."""

    window: Window
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    error_rate_percent: float = Field(ge=0, le=100)
    throughput_rps: float = Field(ge=0)
    latency: Latency
    p95_confidence_interval: ConfidenceInterval
    endpoints: list[EndpointSummary]
    failure_reasons: dict[str, dict[str, int]] = Field(default_factory=dict)


class DistributionPoint(Model):
    percentile: float
    value_ms: float


class LowLoadFigures(Model):
    """Latency of all requests, or of one endpoint, at the run's lowest load: keyed as the criteria are (``p50_ms`` ...)."""

    requests: int = Field(ge=0)
    throughput_rps: float = Field(ge=0)
    percentiles: dict[CriterionKey, float] = Field(default_factory=dict)


class LowLoad(Model):
    """The start of the run, below half the judged throughput: what a response costs before any queueing.

    A criterion already missed here is the service's own cost (more replicas do not remove it);
    one met here and missed at full load grew with load: queueing (``loadtest.analysis.latency_cause``).
    """

    window: Window
    all: LowLoadFigures
    endpoints: dict[str, LowLoadFigures] = Field(default_factory=dict)
class JudgedHistograms(Model):
    """The judged window's exact HDR histograms (microseconds), in HDR's compressed base64 encoding.

    What ``headroom compare`` needs to compare two runs' whole distributions; None in older reports.
    """

    all: str
    endpoints: dict[str, str] = Field(default_factory=dict)


class Results(Model):
    judged: PhaseSummary
    whole_run: PhaseSummary
    latency_distribution: list[DistributionPoint]
    low_load: LowLoad | None = None
    """None: no window of the run was below half load (no ramp, or a report from before it existed)."""
    judged_histograms: JudgedHistograms | None = None


class TimelinePoint(Model):
    """One window of the run: offset from the start, users, throughput, errors and latency."""

    offset_s: float = Field(ge=0)
    users: int = Field(ge=0)
    throughput_rps: float = Field(ge=0)
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float = 0.0


class CpuSample(Model):
    """One second of the load generator's processes: percent of one core each."""

    offset_s: float
    cpu_percent: dict[str, float]


class GeneratorInfo(Model):
    """Was the load generator itself the bottleneck? (``loadtest.analysis.generator_load``)"""

    peak_cpu_percent: float
    peak_process: str
    mean_cpu_percent: float
    saturated: bool
    threshold_percent: float
    samples: list[CpuSample]
    saturated_at_s: float | None = None


# the verdict --------------------------------------------------------------------------------


class Interval(Model):
    lower: float
    upper: float


CriterionKey = Literal["p95_ms", "error_rate_percent", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms"]
"""What a criterion measures; the percentile keys are the ``headroom:slo`` keys in snake_case."""


class Criterion(Model):
    """One SLO criterion measured against its threshold: of all requests, or of one endpoint's (``endpoint``)."""

    name: str
    key: CriterionKey
    measured: float
    threshold: float
    comparison: Literal["<", "<=", ">="]
    unit: str
    passed: bool
    decisive: bool
    """False when the measurement cannot settle this criterion (a straddling interval, too few samples)."""
    margin: float
    """Room left: positive when the criterion holds, in the criterion's unit."""
    margin_percent: float
    interval: Interval | None = None
    endpoint: str | None = None
    """The Locust request name this criterion judges (``headroom:slo.endpoints``); None: all requests."""
    requests: int | None = Field(default=None, ge=0)
    """How many requests of the judged window the measured value comes from (None in older reports)."""

    @property
    def no_requests(self) -> bool:
        """An endpoint's criterion with nothing to measure: its 0 is not a figure, so formats say "no requests"."""
        return self.endpoint is not None and self.requests == 0

    @property
    def further(self) -> bool:
        """Beyond the seed's p95, error rate and throughput of all requests (``headroom:slo.p99Ms``, ``endpoints``)."""
        return self.endpoint is not None or self.key not in {"p95_ms", "error_rate_percent", "throughput_rps"}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> Status:
        """The criterion's own verdict: INCONCLUSIVE when not decisive, else PASS or FAIL."""
        if not self.decisive:
            return Status.INCONCLUSIVE
        return Status.PASS if self.passed else Status.FAIL


class Verdict(Model):
    status: Status
    exit_code: int
    reasons: list[str]
    latency_class: Literal["Excellent", "Good", "Acceptable", "Poor", ""]
    judged_window: Window


# what the infrastructure did (written by loadtest.metrics) ---------------------------------------


class ReplicaMetrics(Model):
    name: str
    utilization_percent: float | None = None
    """Busy workers over pool size: the pool's load, which the capacity model sizes with (no autoscaler reads it)."""
    cpu_percent: float | None = None
    """CPU used, as a percentage of the CPU request (Kubernetes, local) or of the instance (CloudWatch)."""
    memory_percent: float | None = None
    """Resident memory as a percentage of the memory request."""
    concurrency: float | None = None
    """Requests in flight on average over the run (the local stack of a team's own command: from nginx's upstream log)."""


class LoadPoint(Model):
    offset_s: float
    load_percent: float


class InfraMetrics(Model):
    """What the infrastructure did during a run, whatever the source; unavailable sources say why."""

    source: str
    available: bool
    warnings: list[str] = Field(default_factory=list)
    replicas: int | None = None
    desired_replicas: int | None = None
    utilization_percent: float | None = None
    cpu_percent_avg: float | None = None
    cpu_percent_max: float | None = None
    memory_percent_avg: float | None = None
    memory_percent_max: float | None = None
    cpu_ms_per_request: float | None = None
    concurrency_avg: float | None = None
    """The replicas' mean ``concurrency``: requests in flight per replica, measured without the application (nginx's log)."""
    per_replica: list[ReplicaMetrics] = Field(default_factory=list)
    timeline: list[LoadPoint] = Field(default_factory=list)
    """Seconds since the run started and mean load percent: utilization, else CPU."""
    server_p95_ms: float | None = None
    """The service's own p95 over the run, from its latency histogram (Prometheus source), beside the client's."""
    server_p95_bucket_ms: list[float] | None = None
    """[lower, upper] of the histogram bucket that p95 fell in: how precisely the histogram can tell."""
    lost_replicas: list[str] = Field(default_factory=list)
    """Replicas that stopped answering during the run (killed, hung): not in ``replicas`` nor ``per_replica``,
    so capacity is not credited to them; each is also named in ``warnings``."""

    @property
    def load_percent(self) -> float | None:
        """The figure capacity is judged on: pool utilization where known, else average CPU."""
        return self.utilization_percent if self.utilization_percent is not None else self.cpu_percent_avg


def unavailable(source: str, warning: str) -> InfraMetrics:
    return InfraMetrics(source=source, available=False, warnings=[warning])


# the analysis ----------------------------------------------------------------------------------


class SignalCheck(Model):
    """Does one autoscaler's scaling signal reach its target before the SLO breaks? (``loadtest.analysis.tracking``)"""

    autoscaler: Literal["hpa", "asg"]
    metric: Literal["cpu", "requestsPerSecond", "requestCountPerTarget"]
    target: float
    unit: str
    value_at_breaking_load: float
    """What the autoscaler reads when each replica serves ``CapacityEstimate.breaking_rps_per_replica``."""
    threshold: float
    """The value above which it scales out: the HPA's target x (1 + its tolerance), the ASG's target."""
    tracks: bool
    proposed_metric: Literal["requestsPerSecond", "requestCountPerTarget"] | None = None
    proposed_target: float | None = None
    detail: str = ""


class ReplicaPrediction(Model):
    """The capacity model's answer for one replica count at the SLO's users: the evidence for sizing either way."""

    replicas: int
    demand_rps: float
    load_percent: float
    p95_ms: float


class CapacityEstimate(Model):
    """The capacity model's figures (``loadtest.analysis.capacity``), each explained in ``explanation``."""

    available: bool
    replicas_measured: int | None = None
    throughput_rps: float = 0.0
    load_percent: float | None = None
    capacity_per_replica_rps: float | None = None
    concurrency_per_replica: int | None = None
    service_mean_ms: float | None = None
    service_sigma: float | None = None
    delay_ms: float | None = None
    """The closed model's time outside the pool in every response (network, proxy, client)."""
    cpu_ms_per_request: float | None = None
    """CPU milliseconds one request costs (the run's CPU seconds over its requests): what a CPU autoscaler sees."""
    cpu_capacity_per_replica_rps: float | None = None
    """The rate at which one replica's CPU reaches 100 % of its request (or instance): not where its pool saturates."""
    capacity_source: str = ""
    """What ``capacity_per_replica_rps`` comes from: pool utilization, the run's latency (CPU-only source), or CPU (assumed)."""
    breaking_rps_per_replica: float | None = None
    """The per-replica request rate at which the p95 reaches the SLO (``safe_utilization`` x the capacity)."""
    cpu_percent_at_breaking_load: float | None = None
    """A replica's CPU, in percent of its CPU request, at ``breaking_rps_per_replica``; may exceed 100 (no limit)."""
    signals: list[SignalCheck] = Field(default_factory=list)
    safe_utilization: float | None = None
    users: int = 0
    think_time_s: float = 0.0
    demand_rps: float = 0.0
    predicted_p95_ms: float | None = None
    predicted_mean_ms: float | None = None
    sizing_model: Literal["closed", "open"] | None = None
    """Which model sized ``replicas_for_slo``: the closed network (exact MVA) or the open M/M/c queue."""
    sizing_reason: str = ""
    replicas_for_slo: int | None = None
    plan_users: int | None = None
    replicas_for_plan: int | None = None
    reproduced_p95_ms: float | None = None
    """The model's p95 for the run's own users on the run's replicas: beside the measured p95, how well it fits the run."""
    predictions: list[ReplicaPrediction] = Field(default_factory=list)
    """The model's p95 at the SLO's users for each count from one below the answer (or the measured count) up to the
    larger of the two: what one replica fewer would do, and what the replicas running now do."""
    hpa_lag_s: float = 0.0
    asg_lag_s: float = 0.0
    hpa_target_percent: int | None = None
    asg_target_percent: int | None = None
    hpa_min: int | None = None
    hpa_max: int | None = None
    asg_min: int | None = None
    asg_max: int | None = None
    explanation: list[str] = Field(default_factory=list)


class ChangeInfo(Model):
    """One proposed value, as the report states it: ``headroom:<section>.<key>`` from old to new."""

    path: str
    old: Any
    new: Any
    reason: str = ""


class CostInfo(Model):
    """A proposal's monthly cost (``loadtest.analysis.cost``): the always-running replicas now and with it applied."""

    currency: str
    monthly_now: float
    monthly_proposed: float
    monthly_change: float
    """Negative: a saving."""
    hours_per_month: float = 730.0
    basis: str = ""

    def describe(self) -> str:
        """One line: "saves 30.37 USD a month (91.10 -> 60.74 USD/month ...)", "adds ...", or "costs the same"."""
        change = self.monthly_change
        verb = "saves" if change < 0 else "adds" if change > 0 else "costs the same"
        amount = f" {abs(change):.2f} {self.currency} a month" if change else ""
        return (f"{verb}{amount} ({self.monthly_now:.2f} -> {self.monthly_proposed:.2f} {self.currency}/month for the "
                f"replicas always running: {self.basis})")


class RecommendationInfo(Model):
    rule: Literal["errors", "latency", "cpu", "memory", "throughput", "criteria", "signal", "zones", "rightsize", "requests", "healthy"]
    severity: Literal["critical", "high", "medium", "info"]
    title: str
    detail: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    changes: list[ChangeInfo] = Field(default_factory=list)
    cost: CostInfo | None = None
    """Set when headroom:cost (or capacity.pricePerReplicaHour) states a price."""


class Proposal(Model):
    stack_file: str
    changes: list[ChangeInfo]
    diff: str
    pulumi_commands: list[str]
    cost: CostInfo | None = None
    """What the whole proposal saves or adds a month; set when headroom:cost states a price."""
    diff_error: str | None = None
    """Why the changes could not be written as a diff of the stack file (``diff`` is then empty, and the
    ``pulumi_commands`` are the way to apply them); None when the diff was made or nothing is proposed."""


class MeasuredAction(Model):
    at: float
    replicas: int
    action: str


class SimulatedAction(Model):
    at: int
    old: int
    new: int
    reason: str


class ServiceModelInfo(Model):
    capacity_rps: float
    concurrency: int
    service_mean_ms: float
    service_sigma: float
    source: str
    cpu_ms_per_request: float | None = None
    """CPU milliseconds one request costs, which a CPU autoscaler's metric is made of (None in older reports)."""
    cpu_source: str = ""


class AutoscalingComparison(Model):
    """An autoscaled local run's real replicas each second next to the simulator's, same load."""

    measured_replicas: list[int]
    predicted_replicas: list[int]
    measured_serving: list[int] = Field(default_factory=list)
    predicted_serving: list[int] = Field(default_factory=list)
    max_difference: int
    seconds_beyond_one: int
    measured_actions: list[MeasuredAction] = Field(default_factory=list)
    predicted_actions: list[SimulatedAction] = Field(default_factory=list)
    sync_phase_s: int = 0
    hpa_time_scale: int = 1
    """1: the controller ran on Kubernetes' clock; K: every HPA duration divided by K, on both sides (tests and benchmarks only)."""
    service: ServiceModelInfo | None = None


# the open model (loadtest.load.open_model, loadtest.analysis.arrivals) -------------------------


class ArrivalLag(Model):
    """How late arrivals were, in milliseconds after their scheduled time."""

    p50_ms: float = Field(ge=0)
    p99_ms: float = Field(ge=0)
    max_ms: float = Field(ge=0)


class ArrivalStage(Model):
    """Over ``duration_s`` the arrival rate moved in a straight line to ``rate`` per second."""

    duration_s: float = Field(ge=0)
    rate: float = Field(ge=0)


class ClosedEquivalent(Model):
    """The closed-model load an open run stands for: U users, think time Z, response time R -> U / (Z + R)."""

    users: int = Field(ge=1)
    think_time_s: float = Field(ge=0)
    response_time_s: float = Field(ge=0)
    rate: float = Field(gt=0)


class OpenModelInfo(Model):
    """An open-model run: its schedule, how well it was kept, and latency from the scheduled and the send time.

    ``corrected`` (from when each request was due) is the latency every other section and the verdict use;
    ``raw`` (from when it was sent) is the closed-model-like figure that hides the generator's waiting.
    """

    mode: Literal["constant", "poisson"]
    peak_rate: float = Field(ge=0)
    stages: list[ArrivalStage]
    max_users: int = Field(ge=1)
    equivalent_of: ClosedEquivalent | None = None
    due: int = Field(ge=0)
    sent: int = Field(ge=0)
    late: int = Field(ge=0)
    dropped: int = Field(ge=0)
    late_after_ms: float = Field(ge=0)
    lag_bound_ms: float = Field(gt=0)
    generator_lag: ArrivalLag
    start_lag: ArrivalLag
    corrected: Latency
    raw: Latency


# stopping once decided (validate --until-decided; loadtest.analysis.sequential) ---------------------


class Look(Model):
    """One look at the run so far: its critical value, and what was still undecided."""

    at_s: float = Field(ge=0)
    fraction: float = Field(gt=0)
    """The information at this look: judged time so far over judged time at the maximum."""
    critical_value: float = Field(gt=0)
    confidence: float
    """Each interval's confidence at this look (from the critical value: 1 - 2 (1 - Phi(c)))."""
    requests: int = Field(ge=0)
    undecided: list[str]
    """Criteria and comparison rows not yet decisive; empty: the run stopped here."""


class SequentialInfo(Model):
    """A run that looked every ``every_s`` seconds and stopped once every criterion was decisive."""

    spending: Literal["obrien-fleming", "pocock"]
    alpha: float
    first_s: float
    every_s: float
    max_s: float
    looks_planned: int = Field(ge=1)
    looks: list[Look]
    stopped_at_look: int | None
    """1-based; None: no look decided everything, and the run went on to its maximum."""
    stopped_at_s: float
    reason: str
    saved_s: float = Field(ge=0)
    """Run time not spent: the maximum minus the time it stopped at."""


# the whole report -------------------------------------------------------------------------------

OPTIONAL_SECTIONS = ("infrastructure", "capacity", "recommendations", "proposal", "autoscaling", "open_model",
                     "comparison", "sequential")
"""Sections later stages add; absent (not null) in the JSON until they do."""


class Report(Model):
    """One validation run: what was run, what was measured, the verdict, and what later stages added."""

    format: Literal["headroom-report/1"] = FORMAT
    generated_at: str
    stack: str
    stack_file: str
    host: str
    profile: ProfileInfo
    load: LoadInfo
    slo: SloInfo
    plan: LoadCheckInfo
    verdict: Verdict
    criteria: list[Criterion] = Field(min_length=2)
    results: Results
    timeline: list[TimelinePoint]
    generator: GeneratorInfo
    infrastructure: InfraMetrics | None = None
    capacity: CapacityEstimate | None = None
    recommendations: list[RecommendationInfo] | None = None
    proposal: Proposal | None = None
    autoscaling: AutoscalingComparison | None = None
    open_model: OpenModelInfo | None = None
    """Only for an open-model run (``validate --arrival-rate``/``--open``, ``headroom:slo.arrivalRate``)."""
    comparison: Comparison | None = None
    """Only with ``validate --baseline`` or ``--compare-host``: this run against the baseline (report/comparison.py)."""
    sequential: SequentialInfo | None = None
    """Only with ``validate --until-decided``: the looks, where the run stopped and why."""

    @property
    def exit_code(self) -> int:
        """The SLO verdict's exit code (``overall_exit_code`` adds a comparison's)."""
        return self.verdict.status.exit_code

    @property
    def judged(self) -> PhaseSummary:
        return self.results.judged

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON report: every field, the optional sections only once a stage added them."""
        data: dict[str, Any] = self.model_dump(mode="json")
        for section in OPTIONAL_SECTIONS:
            if data.get(section) is None:
                data.pop(section, None)
        return data


def overall_exit_code(report: Report) -> int:
    """The run's exit code with its comparison, if any: 1 if the SLO failed or the candidate regressed, else 3 if
    either is inconclusive, else 0."""
    codes = {report.exit_code, report.comparison.exit_code if report.comparison is not None else 0}
    return 1 if 1 in codes else 3 if 3 in codes else 0


def overall_status(report: Report) -> Status:
    """The verdict with the comparison's folded in (REGRESSED is a FAIL): what a pipeline gate acts on."""
    return {0: Status.PASS, 1: Status.FAIL}.get(overall_exit_code(report), Status.INCONCLUSIVE)
