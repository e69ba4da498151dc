"""``headroom tune``: the closed loop on the local stack: validate, apply the proposal, repeat."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.text import Text

from infra.config import load_stack
from infra.errors import ConfigError

from ..analysis.changes import ConfigChange
from ..analysis.floors import Floor, replica_floor
from ..analysis.latency_cause import Cause, causes
from ..analysis.target_match import mismatch_warning
from ..console import err, out
from ..formats.terminal import LiveView
from ..local.stack import runtime_dir_for
from ..local.state import running_state
from ..report.model import Report
from ..scenario.profiles import PROFILES
from ..validation.request import ValidationRequest
from ..validation.run import validate
from ..validation.stack_edit import StackEdit
from ._flags import duration, positive_int, positive_number, run_time, users

HELP = "closed loop on the local stack: validate, apply the proposed diff, restart, until the SLO holds"
DESCRIPTION = """\
Tune the local stack's replicas to its SLO. Give the ramp time to sweep the load (the
stack's rampSeconds, or --ramp): the capacity model learns how latency grows with load
from the windows of the ramp. Each round brings the local stack up with
the stack file's current settings, validates it, and, if the SLO is missed, applies
the proposed change to the stack file (the same diff `validate` prints) before the
next round. Once the SLO holds at N replicas it brackets the answer: it searches below
N (first at the capacity model's own count when that is fewer, then halving the gap,
never below the availability floor, headroom:capacity.minReplicas) until the fewest
that passed sits next to one fewer that did not, reporting "N passes, N-1 fails,
measured"; an INCONCLUSIVE verdict at N-1 keeps N and says so. It stops there, when
nothing more is proposed, or after --rounds rounds. This command edits the stack file;
review it with `git diff`.
"""
EXAMPLES = """\
examples:
  headroom tune --stack local
  headroom tune --stack local --rounds 3 --users 100 --ramp 5 --run-time 30s
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "tune", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=positive_int, default=3, metavar="N", help="at most N validation rounds (default 3)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="normal")
    parser.add_argument("--users", type=users, metavar="N")
    parser.add_argument("--ramp", type=duration, metavar="SECONDS")
    parser.add_argument("--run-time", type=run_time, metavar="T")
    parser.add_argument("--window", type=positive_number, default=2.0, metavar="SECONDS",
                        help="timeline window (default 2): small windows let the ramp show how latency grows with load")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path, config = stack = load_stack(args.stack, args.project_dir)
    name = stack.name
    if not config.is_local:
        raise ConfigError(f"tune runs on the local stack only; stack {name!r} deploys to the cloud (use validate and recommend)")
    if running_state(runtime_dir_for(path, name)) is not None:
        raise ConfigError(f"local stack {name!r} is running; stop it (`headroom local down --stack {name}`) so each round starts it with the new settings")
    rounds = Table(title="tune rounds", title_justify="left")
    for column in ("round", "replicas", "verdict", "p95 ms", "errors %", "req/s", "load %", "change"):
        rounds.add_column(column)
    exit_code = 1
    bracket = Bracket(replica_floor(config, name, "local"), args.rounds)
    # Criteria a round found to be cost: a later round with more replicas may have no request of them at low load.
    costs: dict[str, Cause] = {}
    for number in range(1, args.rounds + 1):
        stack = load_stack(str(path))
        path, config = stack
        request = ValidationRequest(stack_name=name, stack_path=path, config=config, profile=args.profile,
                                    users=args.users, ramp_s=args.ramp, run_time_s=args.run_time, window_s=args.window,
                                    stack_text=stack.text)
        settings = request.resolve()
        err.print(f"round {number}: {config.local.replicas} replicas")
        try:
            with LiveView(err, request.effective_run_time_s) as view:
                result = validate(settings, on_progress=view.update)
        except KeyboardInterrupt as interrupt:
            applied = f"rounds 1-{number - 1} applied their changes to {path}" if number > 1 else f"{path} is unchanged"
            raise type(interrupt)(f"in round {number}, which wrote no report; {applied}; Locust and the local stack are stopped") from None
        report, analysis = result.report, result.analysis
        costs.update({cause.criterion.name: cause for cause in causes(report) if cause.kind == "cost"})
        mismatch = mismatch_warning(report) if number == 1 else None
        if mismatch is not None:
            err.print(Text.assemble(("warning:", "bold yellow"), f" round 1: {mismatch}; tune stops here, nothing applied"))
        judged = report.results.judged
        status = report.verdict.status.value
        change = ", ".join(f"{c.path} {c.old} -> {c.new}" for c in analysis.changes) or "none"
        load = result.infra.load_percent
        replicas = config.local.replicas
        stop, write = bracket.settle(number, replicas, status, analysis.capacity.replicas_for_slo)
        done = "none" if status == "PASS" or stop or mismatch is not None else change
        rounds.add_row(str(number), str(replicas), status, f"{judged.latency.p95_ms:.1f}",
                       f"{judged.error_rate_percent:.2f}", f"{judged.throughput_rps:.1f}",
                       "n/a" if load is None else f"{load:.1f}",
                       done if write is None else f"bracket: headroom:local.replicas {replicas} -> {write}")
        exit_code = 0 if bracket.passed is not None else result.report.exit_code
        if write is not None:
            _set_replicas(path, replicas, write, f"tune's bracket: {bracket.summary or 'fewer replicas'}")
            if not stop:
                err.print(f"round {number}: {status} at {replicas}; next, {write} to bracket the answer "
                          f"(the fewest that passed so far: {bracket.passed})")
                continue
        if stop or status != "FAIL" or not analysis.changes or mismatch is not None:
            _say_why_it_stops(number, status, report, costs, mismatch is not None)
            break
        analysis.apply()
        err.print(f"round {number}: {status}; applied {change}")
    out.print(rounds)
    if bracket.summary:
        out.print(f"bracket: {bracket.summary}")
    out.print(f"final verdict exit code {exit_code}; the stack file {path} holds the last applied settings")
    return exit_code


@dataclass
class Bracket:
    """tune's proof that its answer is minimal: a measured PASS at N next to a measured non-PASS at N-1.

    Below a PASS it searches, not steps: the first probe is the capacity model's own answer
    (when it is fewer), later ones halve the gap between the fewest that passed and the most
    that did not, so an over-provisioned start costs a few rounds, not one per spare replica.
    Counts below the availability floor are never tried: they could not be proposed.
    """

    floor: Floor
    rounds: int
    verdicts: dict[int, str] = field(default_factory=dict)
    """Replicas -> the verdict measured there."""
    passed: int | None = None
    """The fewest replicas that passed so far."""
    summary: str = ""

    def settle(self, number: int, replicas: int, status: str, model: int | None = None) -> tuple[bool, int | None]:
        """After round ``number``: (stop?, the replica count to write to the stack file first, if any).

        ``model`` is the capacity model's replica count for the SLO from this round's run.
        """
        self.verdicts[replicas] = status
        if status == "PASS" and (self.passed is None or replicas < self.passed):
            self.passed = replicas
        if self.passed is None:
            return False, None  # not yet passed: the round's proposal is applied as before
        lower = self.passed - 1
        below = max((n for n, verdict in self.verdicts.items() if n < self.passed and verdict != "PASS"), default=None)
        back = self.passed if replicas != self.passed else None
        if lower < self.floor.replicas:
            self.summary = f"{self.passed} passes; {lower} is below the {self.floor.reason}, so it is not tried"
            return True, back
        if below == lower:
            self.summary = _measured(self.passed, lower, self.verdicts[lower])
            return True, back
        if number >= self.rounds:
            self.summary = f"{self.passed} passes; {lower} not measured (--rounds {self.rounds} reached)"
            return True, back
        if below is not None:
            return False, (below + self.passed) // 2  # halve the gap
        return False, lower if model is None else min(lower, max(model, self.floor.replicas))


def _say_why_it_stops(number: int, status: str, report: Report, costs: dict[str, Cause], mismatched: bool) -> None:
    if status == "INCONCLUSIVE":
        err.print(f"round {number}: INCONCLUSIVE; its proposal is not applied (the measurement cannot be trusted)")
    if status != "PASS" and not mismatched and (left := cost_left(report, costs)):
        err.print(f"round {number}: {status}; {left}")


def cost_left(report: Report, earlier: dict[str, Cause]) -> str | None:
    """When every criterion still failing is the service's own cost, say so: tune has nothing left to apply.

    Replicas size the queueing part only (``loadtest.analysis.latency_cause``); a criterion
    already missed at a run's lowest load stays missed at any replica count. A round whose
    lowest-load windows had no request of it (undetermined) keeps what an ``earlier`` round found.
    """
    found = [earlier.get(cause.criterion.name, cause) if cause.kind == "undetermined" else cause
             for cause in causes(report)]
    failing = [c for c in report.criteria if not c.passed]
    if not found or len(found) != len(failing) or any(cause.kind != "cost" for cause in found):
        return None
    named = "; ".join(f"{cause.criterion.endpoint or 'all requests'}: {cause.criterion.name} already "
                      f"{cause.low_ms or 0:.0f} ms at the lowest load, against < {cause.criterion.threshold:g} ms"
                      for cause in found)
    return (f"the criteria still failing are the service's own cost ({named}): more replicas do not remove them, so "
            "tune stops here; the replicas applied so far size the queueing part (profile those endpoints, or revisit "
            "their thresholds)")


def _measured(passed: int, lower: int, status: str) -> str:
    if status == "FAIL":
        return f"{passed} passes, {lower} fails, measured"
    return f"{passed} passes, {lower} is INCONCLUSIVE, measured; {passed} is kept (one fewer was not shown to fail)"


def _set_replicas(path: Path, old: int, new: int, reason: str) -> None:
    """Write ``local.replicas`` = ``new`` to the stack file, comments kept."""
    edit = StackEdit(path)
    edit.write(edit.apply([ConfigChange("local", "replicas", old, new, reason)]))
