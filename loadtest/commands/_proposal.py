"""What validate, recommend and tune share: show the analysis, write the diff, apply it last."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from infra.config import Stack
from infra.errors import ConfigError

from ..console import err, out
from ..formats.terminal import proposal
from ..report.model import Report, Status
from ..validation.outputs import write_output
from ..validation.proposal import Analysis
from ._flags import check_output, positive_int


def warn_if_other_stack(report: Report, stack: Stack, results: Path) -> None:
    """A warning when ``--results`` is a run of another stack than the one planned or proposed for."""
    if report.stack != stack.name:
        err.print(Text.assemble(("warning:", "bold yellow"), f" --results {results} is a run of stack {report.stack!r}, "
                                f"and this is for {stack.name!r} ({stack.path}); check that they are the same service"))


def add_proposal_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan-users", type=positive_int, metavar="N", help="also size the replicas for N users (capacity planning)")
    parser.add_argument("--replicas", type=positive_int, metavar="N",
                        help="how many replicas served the run, when no metrics source reports it (a remote service): "
                             "the capacity model then sizes from the latency over the ramp (default: headroom:capacity.replicas)")
    parser.add_argument("--diff-out", type=Path, metavar="FILE", help="write the proposed change as a unified diff (- for standard output)")
    parser.add_argument("--write", action="store_true",
                        help="apply the proposed change to the stack file (atomically, last, and refused if the file changed "
                             "since headroom read it or if the verdict is INCONCLUSIVE)")


def with_stated_replicas(stack: Stack, replicas: int | None) -> Stack:
    """The stack with ``--replicas N`` as its headroom:capacity.replicas, for this run's analysis only (the file is untouched)."""
    if replicas is None:
        return stack
    config = stack.config
    capacity = config.capacity.model_copy(update={"replicas": replicas})
    return Stack(stack.path, config.model_copy(update={"capacity": capacity}), stack.text)


def check_proposal_outputs(args: argparse.Namespace) -> None:
    """Before anything runs: the diff's path must be writable."""
    check_output(args.diff_out, "--diff-out")


def present(report: Report, analysis: Analysis, args: argparse.Namespace, human: Console = out) -> None:
    """Print the recommendations (to ``human``) and write the diff file; the stack file is not touched here."""
    human.print(proposal(report))
    if args.diff_out is not None:
        where = write_output(args.diff_out, analysis.diff)
        empty = (f" (empty: the changes could not be written as a diff: {analysis.diff_error})" if analysis.diff_error
                 else " (empty: no change proposed)")
        err.print(Text(f"wrote {where}" + ("" if analysis.diff else empty)))


def apply_proposal(report: Report, analysis: Analysis, args: argparse.Namespace) -> None:
    """``--write``: the last thing a command does, after every report is written.

    An INCONCLUSIVE measurement cannot be trusted, so what it proposes is not applied.
    """
    if not args.write or not analysis.changes:
        return
    if report.verdict.status is Status.INCONCLUSIVE:
        err.print(Text(f"--write: nothing applied to {analysis.stack_file}: the verdict is INCONCLUSIVE, so its proposal "
                       "is not trusted (see the reasons above)"))
        return
    path = analysis.apply()
    err.print(Text(f"applied {len(analysis.changes)} change(s) to {path}"))


def apply_after_run(report: Report, analysis: Analysis, args: argparse.Namespace) -> None:
    """``apply_proposal`` at the end of a run: a refused write (the stack file edited during the run, a read-only
    file) is one error line saying the proposal was not applied; the run's verdict and exit code stand."""
    try:
        apply_proposal(report, analysis, args)
    except (ConfigError, OSError) as error:
        reason = f"{error.strerror} ({error.filename})" if isinstance(error, OSError) else str(error)
        err.print(Text(f"error: --write: the proposal was not applied: {reason}; the verdict above stands"))
