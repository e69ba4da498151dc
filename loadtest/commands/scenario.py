"""``headroom scenario show``: what a validation run of this stack would send, secrets masked."""

from __future__ import annotations

import argparse
import os
import sys

from infra.config import load_stack

from ..console import out
from ..formats.scenario import describe
from ..pipeline.scenario import prepare_scenario
from ..scenario.profiles import PROFILES
from ..scenario.spec import encode

HELP = "show what a validation run would send: the stack's scenario (headroom:scenario), secrets masked"
DESCRIPTION = """\
Print the scenario a `headroom validate` of this stack would run: the reference
scenario, a locustfile's user classes, or every declared request with its method,
path, headers, body and expected answer, and the think time and request mix the
plan check and the capacity model use. Header secrets are shown as their references
(${env:NAME}, ${config:ns:key}) marked set or not set, never as values.

The scenario is checked exactly as a run checks it (the locustfile is imported in a
child process): any problem is exit 2, naming the file, the key and what is allowed.
"""
EXAMPLES = """\
examples:
  headroom scenario show --stack orders
  headroom scenario show --stack orders --spec    # the HEADROOM_SCENARIO value a remote worker needs
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("scenario", help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("--profile", choices=sorted(PROFILES), default="normal", help="the profile whose think time applies")
    show.add_argument("--spec", action="store_true",
                      help="print only the spec headroom hands Locust in HEADROOM_SCENARIO (no secrets in it)")
    show.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.project_dir)
    prepared = prepare_scenario(stack.config, stack.path, PROFILES[args.profile], check_secrets=False)
    if args.spec:
        # Plain stdout: the console would wrap a long line, and the spec is one JSON line to copy.
        sys.stdout.write((encode(dict(prepared.spec)) if prepared.spec is not None else "") + "\n")
        return 0
    out.print(describe(stack.config.scenario, prepared.shape, os.environ, str(stack.path)), end="",
              markup=False, highlight=False)
    return 0
