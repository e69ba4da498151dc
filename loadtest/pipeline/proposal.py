"""After a run: the capacity model, the rules, and the proposal as a diff of the stack file.

Shared by ``validate`` (right after the load), ``recommend`` (from a saved report)
and ``tune`` (between rounds). Reads the stack file; writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.config import Stack

from ..analysis.capacity import estimate
from ..analysis.changes import ConfigChange
from ..analysis.recommendations import Recommendation, all_changes, recommend
from ..planning.thresholds import check_targets
from ..report.model import CapacityEstimate, InfraMetrics, Proposal, Report, unavailable
from .stack_edit import StackEdit


@dataclass
class Analysis:
    capacity: CapacityEstimate
    recommendations: list[Recommendation]
    changes: list[ConfigChange]
    edit: StackEdit
    new_text: str
    diff: str
    pulumi_commands: list[str] = field(default_factory=list)

    def added_to(self, report: Report, infra: InfraMetrics | None) -> Report:
        """The report with this analysis's sections (docs/report.md); ``infra`` None keeps the report's own."""
        proposal = Proposal(stack_file=str(self.edit.path), changes=[change.info() for change in self.changes],
                            diff=self.diff, pulumi_commands=self.pulumi_commands)
        update: dict[str, object] = {
            "capacity": self.capacity,
            "recommendations": [r.info() for r in self.recommendations],
            "proposal": proposal,
        }
        if infra is not None:
            update["infrastructure"] = infra
        return report.model_copy(update=update)


def analyze(report: Report, infra: InfraMetrics | None, stack: Stack, plan_users: int | None = None) -> Analysis:
    """The capacity model and the rules over a report; the proposal is computed against ``stack.text``,
    the stack file as it was when its config was read."""
    config = stack.config
    infra = infra or unavailable("none", "no infrastructure metrics in this report")
    replicas = infra.replicas or (config.local.replicas if config.is_local else None)
    capacity = estimate(report, infra, config, replicas=replicas, plan_users=plan_users)
    recommendations = check_targets(recommend(report, infra, capacity, config, stack_name=stack.name),
                                    report, capacity, config)
    changes = all_changes(recommendations)
    edit = StackEdit(stack.path, stack.text)
    new_text = edit.apply(changes) if changes else edit.original
    return Analysis(
        capacity=capacity,
        recommendations=recommendations,
        changes=changes,
        edit=edit,
        new_text=new_text,
        diff=edit.diff(new_text),
        pulumi_commands=[command for change in changes for command in change.pulumi_commands(stack.name)],
    )
