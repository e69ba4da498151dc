"""``headroom recommend``: rerun the analysis offline from a saved JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.config import load_stack

from ..formats.terminal import summary
from ..report.load import load_report
from ..validation.proposal import analyze
from ._flags import human_console
from ._proposal import add_proposal_flags, apply_proposal, check_proposal_outputs, present, warn_if_other_stack, with_stated_replicas

HELP = "recommend replica and threshold changes from a saved JSON report, as a diff of the stack file"
DESCRIPTION = """\
Rerun headroom's analysis on a report saved by `headroom validate --json`, with no load:
the capacity model (per-replica capacity, how the p95 grows with load, Little's law),
the rules (latency, errors, CPU, memory, throughput), and the proposed change to the
stack file as a unified diff, plus the equivalent `pulumi config set --path` commands.

Nothing is written unless --write is given; then the stack file is replaced
atomically, and only if it did not change since it was read.
"""
EXAMPLES = """\
examples:
  headroom recommend --stack local --results out/demo/report.json
  headroom recommend --stack prod --results results.json --plan-users 2000 --diff-out capacity.diff
  headroom recommend --stack local --results results.json --write
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "recommend", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--results", type=Path, required=True, metavar="FILE", help="a JSON report from `headroom validate --json`")
    add_proposal_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stack = with_stated_replicas(load_stack(args.stack, args.project_dir), args.replicas)
    check_proposal_outputs(args)
    human = human_console({"--diff-out": args.diff_out})
    report = load_report(args.results)
    warn_if_other_stack(report, stack, args.results)
    analysis = analyze(report, report.infrastructure, stack, args.plan_users)
    report = analysis.added_to(report, None)
    human.print(summary(report))
    present(report, analysis, args, human)
    apply_proposal(report, analysis, args)
    return 0
