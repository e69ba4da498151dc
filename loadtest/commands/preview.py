"""``headroom preview``: list what `pulumi up` would create, offline, under Pulumi's mocks."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.text import Text
from rich.tree import Tree

from infra.config import read_stack_keys, stack_file_path, stack_name
from infra.config.loader import config_from_keys, warn_about_ignored_keys
from infra.preview import MOCK_NOTICE, PreviewResult

from ..console import out

HELP = "list every resource `pulumi up` would create, offline (no Pulumi CLI or credentials)"
DESCRIPTION = """\
Run the real Pulumi program in infra/ under Pulumi's mocks and list every resource
it would create: type, name, parent, dependencies and inputs, then the stack outputs.

This needs neither the Pulumi CLI nor cloud credentials nor a cluster. Values that a
provider assigns (ids, generated names, load balancer addresses) are stand-ins; the
real plan comes from `pulumi preview --stack STACK`, and `pulumi up` applies it.
"""
EXAMPLES = """\
examples:
  headroom preview --stack dev
  headroom preview --stack prod --json > prod-plan.json
"""
_LONG_TEXT = 120


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "preview", parents=[parent], help=HELP, description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON instead of a tree")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.preview import run_preview  # imports the Pulumi SDK: only when previewing

    path = stack_file_path(args.stack, args.project_dir)
    keys = read_stack_keys(path)
    warn_about_ignored_keys(keys, str(path))
    config_from_keys(keys, source=str(path))  # report config problems before Pulumi runs
    result = run_preview(stack_name(path), keys)
    if args.json:
        out.print_json(result.to_json())
    else:
        out.print(Text(MOCK_NOTICE, style="dim"))
        out.print(preview_tree(result))
    return 0


def preview_tree(result: PreviewResult) -> Tree:
    """The plan as a tree of components and their children, each with its inputs."""
    root = Tree(Text(f"stack {result.project}/{result.stack}: {len(result.resources)} resources", style="bold"))
    nodes: dict[str | None, Tree] = {None: root}
    for resource in result.resources:
        label = Text.assemble((resource.name, "bold cyan"), "  ", (resource.type, "magenta"))
        if resource.dependencies:
            names = ", ".join(urn.rsplit("::", 1)[-1] for urn in resource.dependencies)
            label.append(f"  depends on {names}", style="yellow")
        node = nodes.get(resource.parent, root).add(label)
        nodes[resource.urn] = node
        if resource.custom:
            for line in _input_lines(resource.inputs):
                node.add(Text(line, style="dim"))
            for line in _input_lines(resource.assigned):
                node.add(Text(f"{line}  (provider-assigned stand-in)", style="green"))
    if not result.resources:
        root.add(Text("no resources: this stack enables neither aws nor kubernetes (headroom:deploy)"))
    if result.traffic:
        paths = root.add(Text("traffic: client to replicas, and who adds a replica to the load balancer", style="bold"))
        for path in result.traffic:
            paths.add(Text(path))
    outputs = root.add(Text("outputs", style="bold"))
    for key, value in result.outputs.items():
        outputs.add(f"{key} = {value}")
    return root


def _input_lines(inputs: dict[str, Any]) -> list[str]:
    """Inputs flattened to one ``path = value`` line per leaf, in key order."""
    lines: list[str] = []
    _flatten(inputs, "", lines)
    return lines


def _flatten(value: Any, path: str, lines: list[str]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else str(key), lines)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", lines)
    elif isinstance(value, str) and ("\n" in value or len(value) > _LONG_TEXT):
        lines.append(f"{path} = <{value.count(chr(10)) + 1} lines of text; full text with --json>")
    else:
        lines.append(f"{path} = {json.dumps(value)}")
