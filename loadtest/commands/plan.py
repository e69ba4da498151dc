"""``headroom plan``: replay a traffic profile through the stack's HPA and ASG, and optionally optimize them."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from infra.config import Stack, StackConfig, load_stack
from infra.config.loader import stack_file_path
from infra.errors import ConfigError

from .. import fan_out
from ..console import err
from ..formats.plan_html import render_plan_html
from ..formats.plan_terminal import optimization_table, plan_table
from ..planning.document import plan_document
from ..planning.optimize import Optimization, SearchWorkers, optimize_asg, optimize_hpa
from ..planning.service import service_for
from ..planning.simulate import simulate_stack, slo_of
from ..planning.traffic import Traffic, grown, profile, read_csv
from ..report.load import load_report
from ..report.model import Report
from ..scenario.profiles import PROFILES
from ..validation.outputs import write_output
from ..validation.scenario import prepare_scenario
from ..validation.stack_edit import StackEdit
from ._flags import check_output, growth_percent, human_console, positive_int
from ._proposal import warn_if_other_stack

HELP = "simulate the HPA and the ASG through a traffic profile: replicas, p95, SLO breach, cost"
DESCRIPTION = """\
Replay a traffic profile second by second through models of the stack's two autoscalers
(the Kubernetes HPA controller's replica calculation and behavior; EC2 target tracking's
alarms, warmup and proportional steps) and a model of the service (what one replica
serves and how its p95 grows with load). Reports, for each autoscaler: the time to the
first scale-out, the peak p95, the seconds the SLO is broken, errors, replica-hours and,
with prices in headroom:cost, the monthly cost (and, with --optimize, what the proposal saves or adds).

The service model comes from --results (a saved `headroom validate` report, fitted by the
capacity model), else from headroom:capacity.replicaRps / serviceTimeMs, else (the local
stack) from its workers and service time; a stack with its own headroom:scenario is
refused there (exit 2): the local stack's figures are the reference service's, not its own.

--optimize searches minimum replicas, target utilization and the HPA scale-up policy for
the cheapest settings that keep the SLO through the profile (within headroom:slo.errorBudget
when the stack states one, with the zero-breach settings and their cost beside them), and proposes them as a diff
of the stack file (--diff-out, --write), each change explained with simulated figures.
"""
EXAMPLES = """\
examples:
  headroom plan --stack prod --profile spike
  headroom plan --stack prod --traffic yesterday.csv --results out/demo/report.json --html plan.html
  headroom plan --stack local --profile spike --optimize --diff-out plan.diff
  headroom plan --stack prod --traffic last-month-peak.csv --growth 30
exit codes: 0 the SLO holds through the profile (within headroom:slo.errorBudget, if set), 1 it breaks, 2 bad input
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "plan", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", choices=sorted(PROFILES), default="spike",
                        help="a seed profile for the stack's SLO users (default: spike)")
    source.add_argument("--traffic", type=Path, metavar="FILE", help="a CSV of timestamp,rps rows to replay instead")
    parser.add_argument("--users", type=positive_int, metavar="N", help="the profile's base users (default: the SLO's)")
    parser.add_argument("--growth", type=growth_percent, default=0.0, metavar="PERCENT",
                        help="scale the traffic (a file's request rate, a profile's users) by 1 + PERCENT/100, e.g. 30")
    parser.add_argument("--results", type=Path, metavar="FILE", help="fit the service model to a saved `headroom validate` report")
    parser.add_argument("--autoscaler", choices=("hpa", "asg", "both"), default="both", help="which model to run (default: both)")
    parser.add_argument("--optimize", action="store_true", help="search for the cheapest settings that keep the SLO")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the plan (timelines included) as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report with charts")
    parser.add_argument("--diff-out", type=Path, metavar="FILE", help="with --optimize: write the proposed change as a unified diff")
    parser.add_argument("--write", action="store_true", help="with --optimize: apply the change to the stack file (atomically)")
    parser.set_defaults(run=run)


def _traffic(args: argparse.Namespace, config) -> Traffic:  # type: ignore[no-untyped-def]
    return grown(_base_traffic(args, config), args.growth)


def _base_traffic(args: argparse.Namespace, config) -> Traffic:  # type: ignore[no-untyped-def]
    if args.traffic is not None:
        return read_csv(args.traffic)
    if args.users is not None and args.users < 1:
        raise ConfigError(f"--users {args.users}: must be at least 1")
    traffic = profile(args.profile, config, args.users)
    if config.scenario is not None:  # the stack's own scenario thinks its own time (docs/scenarios.md), scaled by the profile
        spec = PROFILES[args.profile]
        scenario = prepare_scenario(config, stack_file_path(args.stack, args.project_dir), spec, check_secrets=False)
        think = scenario.profile(spec).mean_think_time_s
        described = re.sub(r"\(users [0-9.]+-[0-9.]+ s apart\)", f"(users {think:g} s apart on average)",
                           traffic.description.replace(spec.description, f"the stack's scenario, users {think:g} s apart on average"))
        traffic = replace(traffic, think_s=think, description=described)
    return traffic


def run(args: argparse.Namespace) -> int:
    if (args.diff_out is not None or args.write) and not args.optimize:
        raise ConfigError("--diff-out and --write apply to --optimize's proposal; add --optimize")
    path, config = stack = load_stack(args.stack, args.project_dir)
    for flag in ("json", "html", "diff_out"):
        check_output(getattr(args, flag), "--" + flag.replace("_", "-"))
    human = human_console({"--json": args.json, "--html": args.html, "--diff-out": args.diff_out})
    name = stack.name
    report = load_report(args.results) if args.results is not None else None
    if report is not None:
        warn_if_other_stack(report, stack, args.results)
    refuse_reference_model(config, report, str(path))
    service = service_for(config, report, str(path))
    traffic = _traffic(args, config)
    which = ("hpa", "asg") if args.autoscaler == "both" else (args.autoscaler,)
    simulations = [simulate_stack(config, traffic, service, name) for name in which]
    optimizations: list[Optimization] = []
    if args.optimize:
        optimizers = {"hpa": optimize_hpa, "asg": optimize_asg}
        workers = SearchWorkers(fan_out.map_parts, fan_out.usable_cores())
        optimizations = [optimizers[autoscaler](config, traffic, service, name, workers) for autoscaler in which]
    document = plan_document(name, str(path), traffic, service, slo_of(config), simulations, optimizations, config)
    human.print(plan_table(document))
    for optimization in optimizations:
        human.print(optimization_table(document, optimization.autoscaler))
    _write_outputs(args, document)
    if optimizations:
        _propose(args, stack, optimizations, human)
    return 0 if document["within_budget"] else 1


def refuse_reference_model(config: StackConfig, report: Report | None, stack_file: str) -> None:
    """A stack that describes or runs its own service (headroom:scenario, headroom:local.command) is not the reference service:
    without figures for it, plan refuses rather than model the reference one (exit 2, saying what to give)."""
    own = config.scenario is not None or config.local.runs_command
    if report is not None or config.capacity.replica_rps is not None or not own or not config.is_local:
        return
    what = "headroom:local.command runs" if config.local.runs_command else "headroom:scenario describes"
    raise ConfigError(
        f"{stack_file}: {what} your own service, and plan has no figures for it (the local "
        "stack's workers and service time are the reference service's): pass --results FILE, a saved `headroom "
        "validate --json` report of your service, or set headroom:capacity.replicaRps and headroom:capacity.serviceTimeMs"
    )


def _write_outputs(args: argparse.Namespace, document: dict[str, Any]) -> None:
    if args.json is not None:
        # allow_nan=False: JSON has no NaN or Infinity; the document never holds one (unbounded values are null).
        err.print(Text(f"wrote {write_output(args.json, json.dumps(document, indent=2, allow_nan=False) + chr(10))}"))
    if args.html is not None:
        err.print(Text(f"wrote {write_output(args.html, render_plan_html(document))}"))


def no_change_reason(optimizations: list[Optimization]) -> str:
    """Why --optimize proposes nothing, true to what each search found (none holding is not "already the cheapest")."""
    failed = [o.autoscaler.upper() for o in optimizations if o.best is None]
    if not failed:
        return "no change proposed: the stack's settings are already the cheapest that keep the SLO"
    held = [o.autoscaler.upper() for o in optimizations if o.best is not None]
    also = f"; the {' and '.join(held)}'s settings are already the cheapest that keep it" if held else ""
    budgets = sorted({o.budget.description for o in optimizations if o.best is None and not o.budget.zero})
    within = f" within its error budget ({'; '.join(budgets)})" if budgets else ""
    return (f"no change proposed for the {' and '.join(failed)}: no setting searched keeps the SLO{within} through this "
            f"profile (raise the maximum, or make the service faster){also}")


def _propose(args: argparse.Namespace, stack: Stack, optimizations: list[Optimization], human: Console) -> None:
    changes = [change for o in optimizations for change in o.changes]
    edit = StackEdit(stack.path, stack.text)
    new_text = edit.apply(changes) if changes else edit.original
    diff = edit.diff(new_text)
    human.print(diff or no_change_reason(optimizations), markup=False)
    for change in changes:
        for command in change.pulumi_commands(stack.name):
            human.print(f"  {command}", markup=False, highlight=False)
    if args.diff_out is not None:
        err.print(Text(f"wrote {write_output(args.diff_out, diff)}" + ("" if diff else " (empty: no change proposed)")))
    if args.write and changes:
        edit.write(new_text)
        err.print(Text(f"applied {len(changes)} change(s) to {stack.path}"))
