"""The ``schedule:`` trigger kind: a flow fired every ``every`` seconds by the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from attrs import frozen

from runtime.durations import parse_duration
from runtime.trigger_kinds.base import FlowTrigger, TriggerHost, TriggerParsing

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.flows.model import Flow
    from runtime.store.records import Instance


@frozen
class ScheduleTrigger(FlowTrigger):
    """``trigger: {schedule: {every: 5m}}``: each firing records ``{scheduled_at: <time>}``."""

    kind: ClassVar[str] = "schedule"
    key: ClassVar[str] = "schedule"
    form: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["schedule"],
        "additionalProperties": False,
        "properties": {
            "schedule": {
                "type": "object",
                "required": ["every"],
                "additionalProperties": False,
                "properties": {"every": {"$ref": "#/$defs/duration"}},
            }
        },
    }

    #: Seconds between firings.
    every: float

    @classmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> ScheduleTrigger:
        """``every`` as seconds (the schema checked it is a duration)."""
        return cls(every=parse_duration(raw["schedule"]["every"]))

    def interval(self) -> float:
        """``every``."""
        return self.every

    async def fire(self, host: TriggerHost, instance: Instance, flow: Flow) -> str:
        """Record an execution whose payload says when it was scheduled."""
        payload: dict[str, Any] = {"scheduled_at": host.runtime.clock.time()}
        return await host.store.create_execution(
            instance.name, instance.flow_text, instance.flow_version, payload
        )
