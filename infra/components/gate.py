"""``headroom:gate``: ``headroom validate`` as a resource of the stack, after everything it judges.

A ``pulumi_command.local.Command`` runs the script ``infra.gate.gate_script`` builds
on the machine running ``pulumi up``: on create, and again on every update whose
``triggers`` (hashes of the deployed artifacts and the gate's settings) change. It
depends on the load balancer and the scaling resources, so it starts only once
they are up. A FAIL fails the update (``onFail: fail``) or only warns (``warn``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_command import local

from ..config import StackConfig
from ..gate import INTERPRETER, gate_reports, gate_script, gate_triggers, parse_gate_line


@dataclass(frozen=True)
class ValidationGateArgs:
    """The script's inputs: the stack's checked config, the URL to load (None: the local stack), what to wait for."""

    config: StackConfig
    stack: str
    url: pulumi.Input[str] | None
    depends_on: list[pulumi.Resource] = field(default_factory=list)

    @classmethod
    def from_config(
        cls, config: StackConfig, stack: str, deployed_url: pulumi.Input[str] | None, depends_on: list[pulumi.Resource]
    ) -> ValidationGateArgs:
        """``headroom:gate.url`` wins over the deployed load balancer's URL."""
        url = config.gate.url if config.gate.url is not None else deployed_url
        return cls(config=config, stack=stack, url=url, depends_on=depends_on)


class ValidationGate(pulumi.ComponentResource):
    """The validation run; outputs: ``verdict`` (PASS, FAIL, INCONCLUSIVE, ERROR), ``reportPath``, ``junitPath``."""

    verdict: pulumi.Output[str]
    report_path: pulumi.Output[str]
    junit_path: pulumi.Output[str]

    def __init__(self, name: str, args: ValidationGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("headroom:pipeline:ValidationGate", name, None, opts)
        config, stack = args.config, args.stack
        script: pulumi.Input[str] = (
            gate_script(config, stack, None) if args.url is None
            else pulumi.Output.from_input(args.url).apply(lambda url: gate_script(config, stack, url))
        )
        self.command = local.Command(
            f"{name}-validate",
            create=script,
            update=script,
            interpreter=list(INTERPRETER),
            triggers=gate_triggers(config),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        reports = gate_reports(config, stack)
        self.verdict = self.command.stdout.apply(_verdict_of)
        self.report_path = pulumi.Output.from_input(reports.json)
        self.junit_path = pulumi.Output.from_input(reports.junit)
        self.register_outputs({"verdict": self.verdict, "reportPath": self.report_path, "junitPath": self.junit_path})


def _verdict_of(stdout: Any) -> str:
    """The verdict the script printed; UNKNOWN before it ran (an offline preview has no output)."""
    return parse_gate_line(stdout if isinstance(stdout, str) else None).get("verdict", "UNKNOWN")
