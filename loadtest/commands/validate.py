"""``headroom validate``: load the service, judge the SLO, write reports, exit with the verdict."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from infra.config import load_stack
from infra.config.scenario import IDENTIFIER
from infra.errors import ConfigError

from ..analysis.sequential import SPENDING_FUNCTIONS
from ..console import err
from ..errors import OutputError
from ..formats import render_text
from ..formats.comparison import render_comparison_text
from ..formats.terminal import LiveView, summary
from ..report.load import load_report
from ..report.model import Report, overall_exit_code
from ..scenario.profiles import PROFILES
from ..validation.comparing import Baseline, ComparisonSettings
from ..validation.outputs import Outputs
from ..validation.request import ValidationRequest
from ..validation.run import ValidationResult, validate
from ..validation.scenario import LocustfileOverride
from ..validation.until_decided import UntilDecided
from ._flags import (
    check_output,
    duration,
    http_url,
    human_console,
    local_workers,
    locust_bind_address,
    positive_number,
    remote_workers,
    run_time,
    users,
)
from ._proposal import add_proposal_flags, apply_after_run, check_proposal_outputs, present, with_stated_replicas
from .compare import add_comparison_flags, table

HELP = "load the service with Locust, judge its SLO, write reports (exit 0 pass, 1 fail, 3 inconclusive)"
DESCRIPTION = """\
Run Locust against the stack's service and judge its SLO (headroom:slo: users,
p95, error rate, optional throughput) on the full-load phase after the ramp.

The target is --host if given. Otherwise, for a stack that deploys nothing (the
local stack) headroom uses the running local stack or starts one for the run and
stops it after; for a deployed stack it reads `pulumi stack output loadBalancerUrl`.

Every response time is recorded exactly (HDR histograms), not rounded as in
Locust's own statistics. The verdict is PASS, FAIL or INCONCLUSIVE; INCONCLUSIVE
means the measurement cannot be trusted: the load generator saturated its CPU,
too few requests for a p95, or the p95's 95 % confidence interval straddles the
threshold. Before any load, Little's law checks that the users can produce the
throughput the SLO asks for.

What is sent is the stack's headroom:scenario (a locustfile, or declared requests;
`headroom scenario show` prints it), --locustfile for this run, or else the reference
scenario (docs/scenarios.md).
"""
EXAMPLES = """\
examples:
  headroom validate --stack local
  headroom validate --stack local --users 50 --ramp 5 --run-time 30s --html report.html
  headroom validate --stack prod --host https://api.example.com --json results.json --junit slo.xml
  headroom validate --stack local --profile spike --workers 2
  headroom validate --stack prod --host https://api.example.com --locustfile locustfile.py WebsiteUser
  headroom validate --stack local --arrival-rate 200 --arrivals poisson --run-time 60s
  headroom validate --stack local --open --users 500
  headroom validate --stack prod --host https://api.example.com --openmetrics /var/lib/node_exporter/headroom_prod.prom
  headroom validate --stack prod --host https://api.example.com --baseline last-good.json --tolerance 5%,3ms
  headroom validate --stack prod --host http://api-canary:8000 --compare-host http://api-primary:8000
  headroom validate --stack prod --host https://api.example.com --until-decided --max-run-time 15m

exit codes: 0 SLO holds, 1 SLO missed, 2 bad input, 3 inconclusive
            (with --baseline or --compare-host: 1 also when the candidate REGRESSED, 3 when the comparison cannot tell)
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "validate", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", type=http_url, metavar="URL", help="base URL to load (default: see above)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="normal",
                        help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()))
    parser.add_argument("--locustfile", nargs="+", metavar=("FILE", "USERCLASS"),
                        help="run this Locust file (and these of its user classes; default all) instead of the stack's "
                             "headroom:scenario, for this run only; FILE is relative to the current directory (docs/scenarios.md)")
    parser.add_argument("--users", type=users, metavar="N", help="concurrent users (default: headroom:slo.users)")
    ramp = parser.add_mutually_exclusive_group()
    ramp.add_argument("--spawn-rate", type=positive_number, metavar="R", help="users started per second")
    ramp.add_argument("--ramp", type=duration, metavar="SECONDS", help="time to start all users (spawn rate = users / ramp)")
    parser.add_argument("--run-time", type=run_time, metavar="T", help="whole run including the ramp, e.g. 90s or 10m (default: headroom:slo.runTime)")
    open_model = parser.add_mutually_exclusive_group()
    open_model.add_argument("--arrival-rate", type=positive_number, metavar="R",
                            help="open model: R arrivals a second for the run time, each one task of the profile's user class, "
                                 "whatever the answers (default: headroom:slo.arrivalRate / arrivalStages, else closed users)")
    open_model.add_argument("--open", action="store_true",
                            help="open model at the closed SLO's equivalent rate: users / (mean think time + the p95 threshold), "
                                 "at most that many users at once; the report states the rate")
    parser.add_argument("--arrivals", choices=("constant", "poisson"),
                        help="open model: evenly spaced or Poisson arrivals (default: headroom:slo.arrivals)")
    parser.add_argument("--autoscale", action="store_true",
                        help="local stack only: start it with the HPA model as its controller (as `local up --autoscale`); "
                             "the report shows the real replica timeline next to the simulator's prediction")
    parser.add_argument("--workers", type=local_workers, default=0, metavar="N", help="run Locust as a master with N local worker processes")
    parser.add_argument("--remote-workers", type=remote_workers, default=0, metavar="M",
                        help="also wait for M workers started on other hosts (see docs/cli.md)")
    parser.add_argument("--master-bind-host", type=locust_bind_address, default="127.0.0.1", metavar="ADDR",
                        help="IP address the Locust master listens on for workers (* for every interface)")
    parser.add_argument("--window", type=positive_number, default=5.0, metavar="SECONDS", help="timeline window (default 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report (schema: docs/report.md)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one test case per SLO criterion")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report with charts")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown summary for a PR comment")
    parser.add_argument("--openmetrics", type=Path, metavar="FILE",
                        help="write the verdict, criteria, counts and proposed replicas as OpenMetrics "
                             "(for node-exporter's textfile collector; names in docs/report.md)")
    parser.add_argument("--format", choices=("rich", "text"), default="rich", help="terminal summary: tables (rich) or the plain text report (text)")
    add_regression_flags(parser)
    add_proposal_flags(parser)
    parser.set_defaults(run=run)


def add_regression_flags(parser: argparse.ArgumentParser) -> None:
    """Comparing with a baseline or a primary, and stopping once decided (docs/cli.md)."""
    against = parser.add_mutually_exclusive_group()
    against.add_argument("--baseline", type=Path, metavar="REPORT",
                         help="also compare this run with a saved report (the last good run): REGRESSED, IMPROVED, SAME "
                              "or INCONCLUSIVE per row; the exit code is the worse of the SLO's and the comparison's")
    against.add_argument("--compare-host", type=http_url, metavar="URL",
                         help="canary against primary: every other user loads this URL (the primary) while the others "
                              "load --host (the canary), under one schedule; the canary is judged against the primary")
    add_comparison_flags(parser)
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="--baseline: compare with a report of another stack, profile, scenario or load model (warned about)")
    parser.add_argument("--until-decided", action="store_true",
                        help="look at the figures every --look-every seconds after --min-run-time and stop once every "
                             "criterion (and comparison row) is decisive, or at --max-run-time; the 5 %% error is spent "
                             "across the looks (--spending)")
    parser.add_argument("--min-run-time", type=run_time, metavar="T",
                        help="--until-decided: the first look (default: the ramp + 30 s)")
    parser.add_argument("--look-every", type=run_time, default=10.0, metavar="T",
                        help="--until-decided: seconds between looks (default 10)")
    parser.add_argument("--max-run-time", type=run_time, metavar="T",
                        help="--until-decided: the longest the run may go on (default: the run time); longer than the "
                             "run time lets a rare endpoint run until it is decided")
    parser.add_argument("--spending", choices=SPENDING_FUNCTIONS, default="obrien-fleming",
                        help="--until-decided: how the 5 %% is spent over the looks (default obrien-fleming: little "
                             "early, a last look close to a fixed run's; pocock: evenly, stops earlier, wider at the end)")


def run(args: argparse.Namespace) -> int:
    stack = with_stated_replicas(load_stack(args.stack, args.project_dir), args.replicas)
    if args.replicas is not None and args.host is None and stack.config.is_local:
        raise ConfigError("--replicas N states how many replicas served a run no metrics source reports on (a service "
                          "at --host); the local stack reports its own (headroom:local.replicas sets them)")
    request = ValidationRequest(
        stack_name=stack.name,
        stack_path=stack.path,
        config=stack.config,
        host=args.host,
        profile=args.profile,
        users=args.users,
        spawn_rate=args.spawn_rate,
        ramp_s=args.ramp,
        run_time_s=args.run_time,
        workers=args.workers,
        remote_workers=args.remote_workers,
        master_bind_host=args.master_bind_host,
        window_s=args.window,
        autoscale=args.autoscale,
        locustfile=locustfile_override(args.locustfile),
        arrival_rate=args.arrival_rate,
        arrivals=args.arrivals,
        open_equivalent=args.open,
        baseline=Baseline(load_report(args.baseline, "--baseline"), args.baseline) if args.baseline else None,
        compare_host=args.compare_host,
        comparing=ComparisonSettings(args.tolerance, args.percentiles, args.allow_mismatch),
        until_decided=until_decided(args),
        stack_text=stack.text,
    )
    outputs = Outputs(json=args.json, junit=args.junit, html=args.html, markdown=args.markdown,
                      openmetrics=args.openmetrics)
    for name, path in outputs.items():
        check_output(path, f"--{name}")
    check_proposal_outputs(args)
    human = human_console({**{f"--{name}": path for name, path in outputs.items()}, "--diff-out": args.diff_out})
    settings = request.resolve()  # a bad request or scenario is exit 2 before anything is said to start
    err.print(Text(settings.describe()))
    try:
        with LiveView(err, request.effective_run_time_s) as view:
            result = validate(settings, outputs, on_progress=view.update, plan_users=args.plan_users,
                              on_written=lambda where: err.print(Text(f"wrote {where}")))
    except KeyboardInterrupt as interrupt:
        # Locust and the local stack are stopped by now (their own clean-up ran on the way out).
        raise type(interrupt)("no report was written; Locust and the local stack are stopped") from None
    report = result.report
    if args.format == "text":
        human.print(render_text(report), end="", markup=False, highlight=False)
    else:
        human.print(summary(report))
    present_regression(report, args.format, human)
    present(report, result.analysis, args, human)
    apply_after_run(report, result.analysis, args)
    return exit_code(result)


def exit_code(result: ValidationResult) -> int:
    """The verdict's exit code, which an output that failed to write does not change: only a run that could
    write nothing at all (its verdict lost) is headroom's own failure."""
    written = result.written
    for path, reason in written.failed:
        err.print(Text(f"error: could not write {path}: {reason}"))
    if not written.anything:
        raise OutputError(f"no report could be written (the verdict was {result.report.verdict.status.value})")
    return overall_exit_code(result.report)


def until_decided(args: argparse.Namespace) -> UntilDecided | None:
    """``--until-decided`` and its settings; the settings alone are refused (they would do nothing)."""
    given = [flag for flag, value in (("--min-run-time", args.min_run_time), ("--max-run-time", args.max_run_time))
             if value is not None]
    if not args.until_decided:
        if given:
            raise ConfigError(f"{given[0]} applies only with --until-decided")
        return None
    return UntilDecided(first_s=args.min_run_time, every_s=args.look_every, max_s=args.max_run_time,
                        spending=args.spending)


def present_regression(report: Report, style: str, human: Console) -> None:
    """The comparison's table and where a sequential run stopped, after the SLO's summary."""
    if report.comparison is not None:
        if style == "text":
            human.print(render_comparison_text(report.comparison), end="", markup=False, highlight=False)
        else:
            human.print(table(report.comparison))
    if report.sequential is not None:
        sequential = report.sequential
        human.print(Text(f"until decided: {sequential.reason}; {len(sequential.looks)} look(s) taken of "
                       f"{sequential.looks_planned} planned; stopped at {sequential.stopped_at_s:.0f} s of "
                       f"{sequential.max_s:g} s, {sequential.saved_s:.0f} s saved"))


def locustfile_override(words: list[str] | None) -> LocustfileOverride | None:
    """``--locustfile F [UserClass ...]``; the names are checked here, the file when the run is prepared."""
    if not words:
        return None
    for name in words[1:]:
        if not IDENTIFIER.fullmatch(name):
            raise ConfigError(f"--locustfile {words[0]} {name}: not a user class name; allowed: letters, digits and '_', "
                              "not starting with a digit")
    return LocustfileOverride(Path(words[0]), tuple(dict.fromkeys(words[1:])))
