"""What validate, recommend and tune share: add the analysis to the report, show it, write it."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.files import write_atomically

from ..console import err, out
from ..formats.terminal import proposal
from ..pipeline.proposal import Analysis
from ..report.model import Report


def add_proposal_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan-users", type=int, metavar="N", help="also size the replicas for N users (capacity planning)")
    parser.add_argument("--diff-out", type=Path, metavar="FILE", help="write the proposed change as a unified diff")
    parser.add_argument("--write", action="store_true",
                        help="apply the proposed change to the stack file (atomically; refused if the file changed meanwhile)")


def present(report: Report, analysis: Analysis, args: argparse.Namespace) -> None:
    out.print(proposal(report))
    if args.diff_out is not None:
        write_atomically(args.diff_out, analysis.diff)
        err.print(f"wrote {args.diff_out}" + ("" if analysis.diff else " (empty: no change proposed)"))
    if args.write and analysis.changes:
        analysis.edit.write(analysis.new_text)
        err.print(f"applied {len(analysis.changes)} change(s) to {analysis.edit.path}")
