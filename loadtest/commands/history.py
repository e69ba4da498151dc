"""``headroom history``: a stack's past runs (``.headroom/runs/<stack>/``) with their verdicts and p95."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table
from rich.text import Text

from infra.config import load_stack

from ..console import out
from ..validation.history import PastRun, past_runs, runs_directory
from ..validation.outputs import write_output
from ._flags import check_output, positive_int

HELP = "list a stack's past validation runs with their verdicts and p95 (newest last)"
EXAMPLES = """\
examples:
  headroom history --stack local
  headroom history --stack prod --limit 5 --json runs.json
"""
STYLES = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "REGRESSED": "red", "SAME": "green",
          "IMPROVED": "green"}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("history", parents=[parent], help=HELP, description=HELP, epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=positive_int, default=20, metavar="N", help="the last N runs (default 20)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the list as JSON ('-': standard output)")
    parser.set_defaults(run=run)


def row(run: PastRun) -> dict[str, object]:
    """One run as the JSON list has it; a run without a readable report says why."""
    report = run.report
    if report is None:
        return {"run": run.directory.name, "report": str(run.report_path), "problem": run.problem}
    judged = report.results.judged
    return {
        "run": run.directory.name, "report": str(run.report_path), "generated_at": report.generated_at,
        "host": report.host, "verdict": report.verdict.status.value, "p95_ms": judged.latency.p95_ms,
        "requests": judged.requests, "users": report.load.users,
        "comparison": report.comparison.verdict.status.value if report.comparison is not None else None,
        "stopped_early_s": report.sequential.saved_s if report.sequential is not None else None,
    }


def run(args: argparse.Namespace) -> int:
    check_output(args.json, "--json")
    stack = load_stack(args.stack, args.project_dir)
    directory = runs_directory(stack.path, stack.name)
    runs = [row(found) for found in past_runs(directory, args.limit)]
    if args.json is not None:
        write_output(args.json, json.dumps({"stack": stack.name, "directory": str(directory), "runs": runs}, indent=2) + "\n")
        return 0
    if not runs:
        out.print(Text(f"no runs of {stack.name} in {directory}"))
        return 0
    table = Table(title=f"runs of {stack.name} ({directory})", title_justify="left")
    for column in ("run", "started", "verdict", "p95 ms", "requests", "users", "vs baseline", "host"):
        table.add_column(column, justify="right" if column in ("p95 ms", "requests", "users") else "left")
    for entry in runs:
        if "problem" in entry:
            table.add_row(Text(str(entry["run"])), "", Text("unreadable", "yellow"), "", "", "", "", Text(str(entry["problem"])))
            continue
        verdict, versus = str(entry["verdict"]), entry["comparison"]
        table.add_row(Text(str(entry["run"])), str(entry["generated_at"]), Text(verdict, STYLES[verdict]),
                      f"{entry['p95_ms']:.1f}", str(entry["requests"]), str(entry["users"]),
                      Text(str(versus), STYLES[str(versus)]) if versus else "", Text(str(entry["host"])))
    out.print(table)
    return 0
