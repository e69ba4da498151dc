"""After a run: the capacity model, the rules, and the proposal as a diff of the stack file.

Shared by a validation run (``validation.run.validate``: ``validate``, ``tune``, serve and
the API) and ``recommend`` (from a saved report). Reads the stack file; writes nothing.
A run without a stack file (the API's ``LoadTester``) gets the recommendations and
their changes, but no diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infra.config import Stack, StackConfig
from infra.errors import ConfigError

from ..analysis.capacity import estimate
from ..analysis.changes import ConfigChange
from ..analysis.cost import monthly_cost
from ..analysis.recommendations import Recommendation, all_changes, recommend
from ..planning.thresholds import check_targets
from ..report.model import CapacityEstimate, CostInfo, InfraMetrics, Proposal, Report, unavailable
from .stack_edit import StackEdit


@dataclass
class Analysis:
    capacity: CapacityEstimate
    recommendations: list[Recommendation]
    changes: list[ConfigChange]
    edit: StackEdit | None
    """The stack file the proposal edits; None for a run without one (nothing to diff or write)."""
    new_text: str
    diff: str
    pulumi_commands: list[str] = field(default_factory=list)
    cost: CostInfo | None = None
    """What the whole proposal saves or adds a month (``loadtest.analysis.cost``); None without prices."""
    diff_error: str | None = None
    """Why the changes could not be written into the stack file's text (``diff`` is then empty)."""

    @property
    def stack_file(self) -> Path | None:
        return self.edit.path if self.edit is not None else None

    def apply(self) -> Path:
        """Write the proposal to the stack file, atomically; refused (StaleFileError) if the file changed since
        it was read."""
        if self.edit is None:
            raise ConfigError("this run has no stack file to apply its proposal to")
        if self.diff_error is not None:
            raise ConfigError(f"the proposal could not be written: {self.diff_error}")
        self.edit.write(self.new_text)
        return self.edit.path

    def added_to(self, report: Report, infra: InfraMetrics | None) -> Report:
        """The report with this analysis's sections (docs/report.md); ``infra`` None keeps the report's own."""
        proposal = Proposal(stack_file=str(self.edit.path) if self.edit is not None else "", changes=[change.info() for change in self.changes],
                            diff=self.diff, pulumi_commands=self.pulumi_commands, cost=self.cost,
                            diff_error=self.diff_error)
        update: dict[str, object] = {
            "capacity": self.capacity,
            "recommendations": [r.info() for r in self.recommendations],
            "proposal": proposal,
        }
        if infra is not None:
            update["infrastructure"] = infra
        return report.model_copy(update=update)


def analyze(report: Report, infra: InfraMetrics | None, stack: Stack | None, plan_users: int | None = None,
            stack_name: str | None = None) -> Analysis:
    """The capacity model and the rules over a report; the proposal is computed against ``stack.text``,
    the stack file as it was when its config was read. Without a stack, the report's own stack name and
    a default config are used, and the proposal has no diff."""
    config = stack.config if stack is not None else StackConfig()
    name = stack.name if stack is not None else (stack_name or report.stack)
    infra = infra or unavailable("none", "no infrastructure metrics in this report")
    # The source's count; else the stated one (a remote service); the local stack's own only with its metrics.
    replicas = (infra.replicas or config.capacity.replicas
                or (config.local.replicas if config.is_local and infra.available else None))
    capacity = estimate(report, infra, config, replicas=replicas, plan_users=plan_users)
    recommendations = check_targets(recommend(report, infra, capacity, config, stack_name=name),
                                    report, capacity, config)
    changes = all_changes(recommendations)
    edit = StackEdit(stack.path, stack.text) if stack is not None else None
    new_text, diff_error = _proposed_text(edit, changes)
    return Analysis(
        capacity=capacity,
        recommendations=recommendations,
        changes=changes,
        edit=edit,
        new_text=new_text,
        diff="" if edit is None else edit.diff(new_text),
        pulumi_commands=[command for change in changes for command in change.pulumi_commands(name)],
        cost=monthly_cost(config, changes),
        diff_error=diff_error,
    )


def _proposed_text(edit: StackEdit | None, changes: list[ConfigChange]) -> tuple[str, str | None]:
    """The stack file's text with the changes made; or its text as it was, and why they could not be made.

    The file was loaded and checked before the run, so only headroom's own editor can refuse
    here. That must not cost the run its verdict and reports, written after this: the changes
    are still reported, with the Pulumi commands that make them.
    """
    if edit is None:
        return "", None
    if not changes:
        return edit.original, None
    try:
        return edit.apply(changes), None
    except ConfigError as error:
        return edit.original, str(error)
