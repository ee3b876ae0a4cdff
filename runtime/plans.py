"""Action plans: what the engine works out once per action step instead of on every run
(and how a run's inputs are recorded)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from attrs import frozen

from runtime.expressions import templates_in
from runtime.inputs import CONNECTION_MARKER, InputSchema

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.declarations import Action
    from runtime.flows.model import ActionStep
    from runtime.output_check import OutputSchema
    from runtime.redaction import Redactor
    from runtime.registry import Registry


@frozen
class ActionPlan:
    """What the engine works out once per action step instead of on every run of it."""

    action: Action
    schema: InputSchema
    #: ``component.action``, as records show it.
    ref: str
    #: No retries, no time limit and an ``async def`` action: awaited with nothing between.
    direct: bool
    #: The inputs read more than ``config`` (a step output, the trigger, the loop, state), so
    #: each run builds the full expression scope; otherwise one config-only scope serves.
    reads_run: bool
    #: Inputs recorded as ``[password]``.
    passwords: frozenset[str]
    #: An input's expression is budgeted (it iterates, say): rendered within the budget.
    budgeted: bool = False
    #: The inputs declared as connections: only their values are connection markers (in any
    #: other input, an object with a ``$connection`` key is data, e.g. from a payload).
    connections: frozenset[str] = frozenset()
    #: The action's compiled ``output_schema`` (``None``: it declares none), which the
    #: engine checks a sample of its outputs against.
    output: OutputSchema | None = None

    def recorded_inputs(self, rendered: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
        """A run's inputs as its record keeps them: passwords and connections named, not
        shown; every secret ``redactor`` knows scrubbed."""
        out: dict[str, Any] = {}
        for key, value in rendered.items():
            if key in self.passwords:
                out[key] = "[password]"
            elif type(value) is str:
                out[key] = redactor.text(value)
            elif key in self.connections and isinstance(value, dict):
                out[key] = f"[connection {value.get(CONNECTION_MARKER)}]"
            else:
                out[key] = redactor.value(value)
        return out


class ActionPlans:
    """Action plans by step, built on first use. Steps are keyed by identity (a flow's steps
    live as long as the flow); a bounded cache, so flows loaded and dropped are let go."""

    LIMIT = 4096

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._plans: dict[int, tuple[ActionStep, ActionPlan]] = {}

    def get(self, step: ActionStep) -> ActionPlan:
        """The plan of ``step``, built the first time it is asked for."""
        found = self._plans.get(id(step))
        if found is not None and found[0] is step:
            return found[1]
        plan = self._build(step)
        if len(self._plans) >= self.LIMIT:
            self._plans.clear()
        self._plans[id(step)] = (step, plan)
        return plan

    def _build(self, step: ActionStep) -> ActionPlan:
        action, schema = self._registry.action(step.component, step.action)
        return ActionPlan(
            action=action,
            schema=schema,
            ref=step.ref,
            direct=step.retry.attempts == 1
            and step.timeout is None
            and inspect.iscoroutinefunction(action.perform),
            reads_run=any(not t.config_only for t in templates_in(step.inputs)),
            passwords=frozenset(i.key for i in schema.inputs if i.type == "password"),
            budgeted=any(t.budgeted for t in templates_in(step.inputs)),
            connections=frozenset(i.key for i in schema.inputs if i.type == "connection"),
            output=self._registry.output_schema(step.component, step.action),
        )
