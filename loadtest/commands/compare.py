"""``headroom compare``: is the candidate run slower than the baseline? Exit 0 same or faster, 1 regressed, 3 inconclusive."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table
from rich.text import Text

from infra.config import load_stack
from infra.errors import ConfigError

from ..analysis.regression import DEFAULT_PERCENTILES, DEFAULT_TOLERANCE, checked_comparison
from ..console import err, out
from ..formats.comparison import (
    HEADERS,
    headline,
    render_comparison_html,
    render_comparison_json,
    render_comparison_junit,
    render_comparison_markdown,
    render_comparison_openmetrics,
    render_comparison_text,
    row_cells,
)
from ..report.comparison import Comparison
from ..report.load import load_report
from ..validation.history import last_pass, runs_directory
from ..validation.outputs import STDOUT_NAMES, write_output
from ._flags import check_output, percentiles, tolerance

HELP = "compare two runs' latency: REGRESSED, IMPROVED, SAME or INCONCLUSIVE (exit 0 same/faster, 1 regressed, 3 inconclusive)"
DESCRIPTION = """\
Compare a candidate run's report with a baseline's: for all requests and each endpoint,
the shift between the two latency distributions (Hodges-Lehmann, with its Mann-Whitney
95 % interval) and each percentile's difference with its interval, all from the exact
HDR histograms the reports carry. A row is REGRESSED when it is slower by more than the
tolerance with 95 % confidence, IMPROVED when faster by more, SAME when its interval lies
within the tolerance, else INCONCLUSIVE (docs/report.md, "Comparing runs").

Reports of different stacks, scenarios, profiles or load models are refused (exit 2)
unless --allow-mismatch; lesser differences (users, run time) are warnings.
"""
EXAMPLES = """\
examples:
  headroom compare before.json after.json
  headroom compare before.json after.json --tolerance 5%,2ms --percentiles 50,95,99 --markdown cmp.md
  headroom compare --previous out/report.json          # against the stack's last PASS in .headroom/runs/

exit codes: 0 same or improved, 1 regressed, 2 bad input, 3 inconclusive
"""
RENDERERS = {
    "json": render_comparison_json,
    "junit": render_comparison_junit,
    "html": render_comparison_html,
    "markdown": render_comparison_markdown,
    "openmetrics": render_comparison_openmetrics,
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("compare", help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT",
                        help="BASELINE.json CANDIDATE.json, or with --previous only CANDIDATE.json")
    parser.add_argument("--previous", action="store_true",
                        help="the baseline is the stack's last run that passed (.headroom/runs/<stack>/), older than the candidate")
    parser.add_argument("--stack", metavar="STACK", help="with --previous: the stack whose runs to look in (default: the candidate's)")
    parser.add_argument("--project-dir", type=Path, default=None, metavar="DIR", help="where the Pulumi.<stack>.yaml files live")
    add_comparison_flags(parser)
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="compare reports of different stacks, scenarios, profiles or load models (warned about)")
    for name, what in (("json", "the comparison as JSON (headroom-comparison/1)"), ("junit", "JUnit XML, one case per row"),
                       ("html", "HTML with both distributions on one chart"), ("markdown", "Markdown for a PR comment"),
                       ("openmetrics", "OpenMetrics for node-exporter's textfile collector")):
        parser.add_argument(f"--{name}", type=Path, metavar="FILE", help=f"write {what}")
    parser.add_argument("--format", choices=("rich", "text"), default="rich", help="terminal output: a table (rich) or plain text")
    parser.set_defaults(run=run)


def add_comparison_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every comparison shares (compare, validate --baseline/--compare-host)."""
    parser.add_argument("--tolerance", type=tolerance, default=DEFAULT_TOLERANCE, metavar="T",
                        help="how much slower still counts as the same: 5%% of the baseline's figure (default), 3ms, "
                             "or 5%%,3ms (the larger)")
    parser.add_argument("--percentiles", type=percentiles, default=DEFAULT_PERCENTILES, metavar="P,...",
                        help="percentiles whose differences are judged besides the shift (default 50,95; of 50, 90, 95, 99, 99.9)")


def run(args: argparse.Namespace) -> int:
    outputs = {name: path for name in RENDERERS if (path := getattr(args, name)) is not None}
    for name, path in outputs.items():
        check_output(path, f"--{name}")
    baseline_path, candidate_path = _paths(args)
    candidate = load_report(candidate_path, "candidate")
    if args.previous:
        baseline_path = _previous(args, candidate_path, candidate.stack, candidate.stack_file)
    baseline = load_report(baseline_path, "baseline")
    comparison = checked_comparison(baseline, candidate, args.tolerance, allow_mismatch=args.allow_mismatch,
                                    baseline_path=str(baseline_path), candidate_path=str(candidate_path),
                                    percentiles=args.percentiles)
    to_stdout = any(str(path) in STDOUT_NAMES for path in outputs.values())
    console = err if to_stdout else out
    if args.format == "text":
        console.print(render_comparison_text(comparison), end="", markup=False, highlight=False)
    else:
        console.print(table(comparison))
    for name, path in outputs.items():
        where = write_output(path, RENDERERS[name](comparison))
        err.print(Text(f"wrote {where}"))
    return comparison.exit_code


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    expected = 1 if args.previous else 2
    if len(args.reports) != expected:
        raise ConfigError(f"compare takes {'CANDIDATE.json with --previous' if args.previous else 'BASELINE.json CANDIDATE.json'}; "
                          f"got {len(args.reports)} report(s): {' '.join(map(str, args.reports))}")
    if args.stack and not args.previous:
        raise ConfigError("--stack only chooses where --previous looks for the baseline")
    return (args.reports[0], args.reports[-1])


def _previous(args: argparse.Namespace, candidate_path: Path, stack_name: str, stack_file: str) -> Path:
    """The last PASS of the stack's runs (older than the candidate, when the candidate is one of them)."""
    candidate_run = candidate_path.resolve().parent
    if args.stack:
        stack = load_stack(args.stack, args.project_dir)
        directory = runs_directory(stack.path, stack.name)
    elif candidate_run.parent.name == stack_name and candidate_run.parent.parent.name == "runs":
        directory = candidate_run.parent  # the candidate is a kept run: its siblings are the stack's runs
    else:
        directory = runs_directory(Path(stack_file), stack_name)
    before = candidate_run if candidate_run.parent == directory else None
    found = last_pass(directory, before)
    if found is None:
        raise ConfigError(f"--previous: no run that passed in {directory}"
                          + (f" before {candidate_run.name}" if before else "") + "; give the baseline report instead")
    err.print(Text(f"baseline: the last PASS, {found.report_path}"))
    return found.report_path


def table(comparison: Comparison) -> Table:
    """The comparison as a rich table under its headline."""
    styles = {"REGRESSED": "red", "IMPROVED": "green", "SAME": "green", "INCONCLUSIVE": "yellow"}
    result = Table(title=headline(comparison), title_justify="left",
                   caption="\n".join([*(f"warning: {w}" for w in comparison.warnings), *comparison.verdict.reasons]) or None,
                   caption_justify="left")
    for index, header in enumerate(HEADERS):
        result.add_column(header, justify="left" if index in (0, 1, 7) else "right")
    for row in comparison.rows:
        cells = row_cells(row)
        result.add_row(*(Text(cell) for cell in cells[:-1]), Text(cells[-1], styles[cells[-1]]))
    return result
