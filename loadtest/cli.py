"""The ``headroom`` command: parse arguments, run one sub-command, map errors to exit codes.

Exit codes (docs/cli.md): 0 the SLO holds or the command succeeded, 1 the SLO is
missed, 2 bad input or configuration (nothing written), 3 inconclusive, 4 headroom
itself could not carry out the run (a bug, a crashed load generator, the OS refusing):
one line says what, and where the full traceback was written. A traceback never ends
in 1 or 2, because CI reads 1 as "SLO missed".
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from types import FrameType
from typing import NoReturn, TextIO

from rich.text import Text

from infra.errors import HeadroomError, StackConfigWarning

from .console import err
from .errors import INTERNAL_ERROR_EXIT

COMMANDS = ("render", "preview", "validate", "recommend", "tune", "plan", "local", "scenario", "serve", "compare", "history")

DESCRIPTION = """\
headroom: set up an ASG with target tracking, a Kubernetes HPA and an nginx least_conn
load balancer from one Pulumi stack config, then validate them under load.

Every command reads a stack: --stack NAME means Pulumi.NAME.yaml in the project
directory (the nearest directory holding Pulumi.yaml); a path to a file works too.
"""
EPILOG = """\
exit codes: 0 ok / SLO holds, 1 SLO missed, 2 bad input (nothing written), 3 inconclusive,
            4 headroom could not carry out the run (the message names the traceback file)
docs: README.md, docs/config.md, docs/cli.md
"""


FOREIGN_FLAGS: dict[str, str] = {
    "-u": "Locust's -u (users) is headroom's --users N",
    "--vus": "k6's --vus is headroom's --users N",
    "-r": "Locust's -r (spawn rate) is headroom's --spawn-rate R (or --ramp SECONDS)",
    "-t": "Locust's -t (run time) is headroom's --run-time T (e.g. 90s, 5m)",
    "-d": "k6's -d (duration) is headroom's --run-time T (e.g. 90s, 5m)",
    "--duration": "k6's --duration is headroom's --run-time T (e.g. 90s, 5m)",
    "-f": "Locust's -f (locustfile) is headroom's --locustfile FILE [USERCLASS ...]",
    "-H": "Locust's -H (host) is headroom's --host URL",
    "--headless": "headroom always runs Locust headless; drop --headless",
    "--rate": "an arrival rate (k6's constant-arrival-rate) is headroom's --arrival-rate R",
}
"""Locust's and k6's own flags, each with a one-line hint to headroom's (an error, exit 2, still)."""


def foreign_flag_hints(message: str, command: str | None) -> list[str]:
    """One hint per Locust or k6 flag an argparse error quotes (``unrecognized arguments: -u 50``)."""
    if "unrecognized arguments:" not in message:
        return []
    words = message.split("unrecognized arguments:", 1)[1].split()
    hints = [FOREIGN_FLAGS[flag] for flag in dict.fromkeys(word.split("=", 1)[0] for word in words) if flag in FOREIGN_FLAGS]
    if command == "tune" and "--host" in words:
        hints.append("tune changes the local stack's replicas between rounds, so it has no --host; for another host: "
                     "`headroom validate --host URL --json r.json`, then `headroom recommend --results r.json`")
    return hints


class HintingParser(argparse.ArgumentParser):
    """argparse, with a hint for the Locust and k6 flags a user may type out of habit."""

    command: str | None = None
    """The sub-command on the line, for hints that depend on it."""

    def error(self, message: str) -> NoReturn:
        for hint in foreign_flag_hints(message, self.command):
            message += f"\nhint: {hint}"
        super().error(message)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only the named command's module imported, when one is.

    Each command module imports what it runs (the planner and numpy, the local stack,
    the validation pipeline), so importing all of them made `headroom render` pay for
    `plan` and the rest: about 0.1 s of every start-up.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, metavar="STACK", help="stack name (dev, prod, local) or path to a Pulumi.<stack>.yaml")
    common.add_argument("--project-dir", type=Path, default=None, metavar="DIR", help="where the Pulumi.<stack>.yaml files live (default: nearest Pulumi.yaml)")
    parser = HintingParser(
        prog="headroom", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    words = sys.argv[1:] if argv is None else argv
    parser.command = next((word for word in words if word in COMMANDS), None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _commands_for(words):
        importlib.import_module(f"loadtest.commands.{name}").add_parser(subparsers, common)
    return parser


def _commands_for(argv: list[str]) -> tuple[str, ...]:
    """The command named first on the line, or all of them (for --help and for argparse's error listing the choices)."""
    words = [word for word in argv if not word.startswith("-")]
    return (words[0],) if words and words[0] in COMMANDS else COMMANDS


class Terminated(KeyboardInterrupt):
    """SIGTERM, as a CI runner or a supervisor stops a job: handled exactly like Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Once: a second SIGTERM must not cut short the clean-up the first one started
    # (stopping Locust and the local stack); SIGKILL still ends us, and PR_SET_PDEATHSIG our children.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


_PYTHON_SHOWWARNING = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """A stack file's warning as one ``warning:`` line (no file and line of headroom's source); others as Python shows them."""
    if issubclass(category, StackConfigWarning):
        err.print(Text.assemble(("warning:", "bold yellow"), " ", str(message)), highlight=False)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    warnings.showwarning = _show_warning
    warnings.simplefilter("default", StackConfigWarning)  # once per place, even when a command reloads its stack
    signal.signal(signal.SIGTERM, _terminate)  # `local up` installs its own: for it SIGTERM is the normal stop
    try:
        return int(args.run(args))
    except HeadroomError as error:
        print_error(str(error))
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated)
        err.print(f"interrupted{' (SIGTERM)' if terminated else ''}" + (f": {interrupt.args[0]}" if interrupt.args else ""),
                  markup=False, highlight=False)
        return 128 + signal.SIGTERM if terminated else 130
    except Exception as error:  # noqa: BLE001 - the exit-code contract: anything else is headroom's own failure
        summary = f"headroom could not carry out the command: {type(error).__name__}: {_first_line(error)}"
        where = save_traceback(summary, sys.argv if argv is None else ["headroom", *argv])
        print_error(f"{summary} (full traceback in {where})")
        return INTERNAL_ERROR_EXIT


def print_error(message: str) -> None:
    """One error line on stderr; the message is text, never rich markup (it may quote '[' and ']')."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)


def save_traceback(summary: str, argv: list[str]) -> str:
    """Write the current exception's report (``crash_report``) to a new file in the temporary directory; its path."""
    try:
        fd, path = tempfile.mkstemp(prefix="headroom-traceback-", suffix=".txt")  # mode 0600: argv may hold a host
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(crash_report(summary, traceback.format_exc(), argv))
        return path
    except OSError as error:
        return f"nowhere: it could not be written ({error.strerror})"


REPORTED_VERSIONS = ("headroom", "locust", "gevent", "geventhttpclient", "pydantic", "hdrhistogram", "numpy")
"""The distributions whose versions a traceback file names: headroom, and what most failures run through."""


def crash_report(summary: str, formatted_traceback: str, argv: list[str]) -> str:
    """What a maintainer needs from a failure, ready to paste into an issue (the shape pre-commit's log has):
    the versions, the platform and the command line, then the one-line summary and the traceback."""
    import platform  # here, not at the top: only a failure pays for these imports (importlib.metadata is slow)
    import shlex

    python = "\n".join(f"    {line}" for line in sys.version.splitlines())
    lines = [
        "### version information", "", "```",
        f"headroom version: {_version('headroom')}",
        f"Python version:\n{python}",
        f"sys.executable: {sys.executable}",
        f"platform: {platform.platform()}",
        "dependencies: " + ", ".join(f"{name} {_version(name)}" for name in REPORTED_VERSIONS[1:]),
        f"argv: {shlex.join(argv)}",
        "```", "",
        "### error information", "", "```", summary, "```", "", "```", formatted_traceback.rstrip(), "```", "",
    ]
    return "\n".join(lines)


def _version(distribution: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed (run from a source tree?)"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "(no message)"


if __name__ == "__main__":
    sys.exit(main())
