"""``headroom recommend``: rerun the analysis offline from a saved JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from infra.config import load_stack
from infra.errors import ConfigError

from ..pipeline.proposal import analyze
from ..console import out
from ..metrics import InfraMetrics
from ..formats.terminal import summary
from ._proposal import add_proposal_flags, present

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


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "recommend", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--results", type=Path, required=True, metavar="FILE", help="a JSON report from `headroom validate --json`")
    add_proposal_flags(parser)
    parser.set_defaults(run=run)


def load_report(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--results {path}: no such file") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"--results {path}: not a JSON report: {error}") from None
    if not isinstance(report, dict) or report.get("format") != "headroom-report/1":
        raise ConfigError(f"--results {path}: not a headroom report (format must be headroom-report/1)")
    return report


def run(args: argparse.Namespace) -> int:
    path, config = load_stack(args.stack, args.project_dir)
    report = load_report(args.results)
    infra = InfraMetrics.from_dict(report["infrastructure"]) if report.get("infrastructure") else None
    stack_name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    analysis = analyze(report, infra, config, path, stack_name, args.plan_users)
    report.update(analysis.sections(infra) if infra else {k: v for k, v in analysis.sections(_none()).items() if k != "infrastructure"})
    out.print(summary(report))
    present(report, analysis, args)
    return 0


def _none() -> InfraMetrics:
    from ..metrics import unavailable

    return unavailable("none", "the report has no infrastructure metrics")
