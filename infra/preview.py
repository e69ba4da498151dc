"""``headroom preview``: the real Pulumi program, run offline under Pulumi's mocks.

No Pulumi CLI, engine, provider plugin or cloud credential is involved: the
program's resource registrations go to ``RecordingMonitor`` instead of an engine,
and provider-assigned values come from ``PreviewMocks``. What comes out is the
resource graph ``pulumi up`` would submit, with every input, parent and
dependency, and the stack outputs computed from the mocks' stand-in values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import NAMESPACE
from .wiring import traffic_paths

MOCK_NOTICE = (
    "Offline preview under Pulumi's mocks: no Pulumi CLI, cloud credentials or cluster were used. "
    "Provider-assigned values (ids, generated names, addresses under .preview.invalid) are stand-ins. "
    "Run `pulumi preview` / `pulumi up` for the real plan."
)


@dataclass(frozen=True)
class PreviewResource:
    """A resource as the preview reports it; parent and dependencies by URN."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    assigned: dict[str, Any]
    """Values the provider would assign (stand-ins here): id, generated names, addresses."""


@dataclass(frozen=True)
class PreviewResult:
    project: str
    stack: str
    resources: list[PreviewResource]
    outputs: dict[str, Any]
    traffic: list[str] = field(default_factory=list)
    """Each mechanism's path from the client to the replicas, read off the graph (``infra.wiring``)."""

    def to_json(self) -> str:
        return json.dumps(
            {"notice": MOCK_NOTICE, **asdict(self)}, indent=2, sort_keys=False, default=str
        )


def _pulumi_config(keys: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Stack-file keys as the Pulumi engine hands them to a program: JSON text for objects.

    Secrets cannot be decrypted offline; they are left out and listed.
    """
    config: dict[str, str] = {}
    skipped: list[str] = []
    for key, value in keys.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            skipped.append(str(key))
            continue
        config[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return config, skipped


def run_preview(stack: str, keys: dict[str, Any], project: str = "headroom") -> PreviewResult:
    """Run ``infra.program`` under mocks for one stack's config keys."""
    # Imported here, not at the top: they load the Pulumi SDK (about 0.5 s), which the CLI
    # pays only when it previews. No cycle: mocks and program never import this module.
    import pulumi

    from .mocks import PreviewMocks, RecordingMonitor
    from .program import define_stack, load_config_from_pulumi

    mocks = PreviewMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    # aws:region too: the program checks ARNs and zones against it, as `pulumi up` would.
    wanted = {k: v for k, v in keys.items() if str(k).startswith(f"{NAMESPACE}:") or k == "aws:region"}
    config, _secrets = _pulumi_config(wanted)
    pulumi.runtime.set_all_config(config)

    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        exported = define_stack(load_config_from_pulumi())
        return pulumi.Output.all(**exported).apply(outputs.update) if exported else pulumi.Output.from_input(None)

    program()
    resources = _ordered(monitor.recording.resources)
    return PreviewResult(
        project=project,
        stack=stack,
        resources=resources,
        outputs=dict(sorted(outputs.items())),
        traffic=traffic_paths(resources),
    )


def _ordered(records: list[Any]) -> list[PreviewResource]:
    """Parents before children, siblings by name: registration order varies between runs."""
    by_parent: dict[str | None, list[Any]] = {}
    urns = {record.urn for record in records}
    for record in records:
        parent = record.parent if record.parent in urns else None
        by_parent.setdefault(parent, []).append(record)
    ordered: list[PreviewResource] = []

    def visit(parent: str | None) -> None:
        for record in sorted(by_parent.get(parent, []), key=lambda r: (r.name, r.type)):
            ordered.append(
                PreviewResource(
                    urn=record.urn,
                    type=record.type,
                    name=record.name,
                    parent=record.parent if record.parent in urns else None,
                    custom=record.custom,
                    dependencies=sorted(set(record.dependencies)),
                    inputs=record.inputs,
                    assigned=_assigned(record),
                )
            )
            visit(record.urn)

    visit(None)
    return ordered


def _assigned(record: Any) -> dict[str, Any]:
    """State the mocks added on top of the inputs, as ``path -> value``."""
    found: dict[str, Any] = {"id": record.id} if record.id else {}

    def walk(inputs: Any, state: Any, path: str) -> None:
        if isinstance(state, dict):
            for key, value in state.items():
                child = f"{path}.{key}" if path else str(key)
                if not isinstance(inputs, dict) or key not in inputs:
                    found[child] = value
                else:
                    walk(inputs[key], value, child)

    walk(record.inputs, record.state, "")
    return found
