"""Flow coverage: which steps ran, which branch cases (and ``else``s) were taken, which
``on_error: continue`` paths were exercised, over a whole suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from runtime.flows.model import ActionStep, BranchStep, LoopStep
from runtime.flowtests.scope import static_path

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.flows.model import Flow, Step
    from runtime.results import ExecutionResult

#: (kind, what): ("step", "route.booked.meeting"), ("branch", "route -> booked"),
#: ("on_error", "notify")
Item = tuple[str, str]
KINDS = ("step", "branch", "on_error")


def universe(flow: Flow) -> list[Item]:
    """Every item of ``flow`` a suite should reach, in document order."""
    items: list[Item] = []

    def visit(steps: tuple[Step, ...], prefix: str) -> None:
        for step in steps:
            path = f"{prefix}{step.id}"
            items.append(("step", path))
            if step.on_error == "continue":
                items.append(("on_error", path))
            if isinstance(step, BranchStep):
                for case in step.cases:
                    items.append(("branch", f"{path} -> {case.name}"))
                    visit(case.steps, f"{path}.{case.name}.")
                items.append(("branch", f"{path} -> else"))
                visit(step.otherwise, f"{path}.else.")
            elif isinstance(step, LoopStep):
                visit(step.steps, f"{path}[].")
            else:
                assert isinstance(step, ActionStep)

    visit(flow.steps, "")
    return items


def hits(flow: Flow, results: Iterable[ExecutionResult]) -> set[Item]:
    """The items the executions reached."""
    continuing = {what for kind, what in universe(flow) if kind == "on_error"}
    found: set[Item] = set()
    for result in results:
        for record in result.steps:
            path = static_path(record.path)
            if record.status in ("completed", "failed"):
                found.add(("step", path))
            if record.status == "failed" and path in continuing:
                found.add(("on_error", path))
            if record.kind == "branch" and record.status == "completed":
                output = record.output if isinstance(record.output, dict) else {}
                found.add(("branch", f"{path} -> {output.get('branch', 'else')}"))
    return found


@define
class FlowCoverage:
    """One flow's items and how often the suite reached each."""

    flow: str
    items: list[Item]
    counts: dict[Item, int] = field(factory=dict)

    def add(self, reached: Iterable[Item]) -> None:
        """Count one case's reached items."""
        for item in reached:
            self.counts[item] = self.counts.get(item, 0) + 1

    def covered(self, kind: str | None = None) -> tuple[int, int]:
        """(reached, total) items, of one kind or all."""
        chosen = [i for i in self.items if kind is None or i[0] == kind]
        return sum(1 for i in chosen if self.counts.get(i)), len(chosen)

    @property
    def missing(self) -> list[Item]:
        """The items no case reached."""
        return [i for i in self.items if not self.counts.get(i)]

    def percent(self) -> float:
        """Reached over total items, as a percentage (100 for a flow with none)."""
        done, total = self.covered()
        return 100.0 if total == 0 else 100.0 * done / total


@define
class Coverage:
    """A suite's coverage, flow by flow (by flow file)."""

    flows: dict[str, FlowCoverage] = field(factory=dict)

    def add(self, flow_path: str, flow: Flow, reached: Iterable[Item]) -> None:
        """Count what one case reached in ``flow``."""
        entry = self.flows.get(flow_path)
        if entry is None:
            entry = self.flows[flow_path] = FlowCoverage(flow_path, universe(flow))
        entry.add(reached)

    def percent(self) -> float:
        """Every flow's reached items over all their items."""
        done = sum(f.covered()[0] for f in self.flows.values())
        total = sum(f.covered()[1] for f in self.flows.values())
        return 100.0 if total == 0 else 100.0 * done / total

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (``--cov-report json``)."""
        flows = {}
        for path, entry in sorted(self.flows.items()):
            flows[path] = {
                "percent": round(entry.percent(), 2),
                **{
                    kind: {
                        what: entry.counts.get((k, what), 0) for k, what in entry.items if k == kind
                    }
                    for kind in KINDS
                },
                "missing": [f"{kind}: {what}" for kind, what in entry.missing],
            }
        return {"percent": round(self.percent(), 2), "flows": flows}
