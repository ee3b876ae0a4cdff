"""A trigger kind defined outside relay, as a plugin author would: ``interval:`` fires every
``seconds`` seconds, counting its firings in the payload, and arms itself at deploy.

It is the whole of the kind: one class; a registry learns it with one line,
``registry.trigger_kinds.add(IntervalTrigger)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from attrs import frozen

from runtime.flows import Flow
from runtime.store import Instance
from runtime.trigger_kinds import FlowTrigger, TriggerHost, TriggerParsing

#: Longer than a day is refused when the flow loads (a check beyond the schema's).
MAX_SECONDS = 86_400


@frozen
class IntervalTrigger(FlowTrigger):
    """``trigger: {interval: {seconds: 30}}``."""

    kind: ClassVar[str] = "interval"
    key: ClassVar[str] = "interval"
    form: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["interval"],
        "additionalProperties": False,
        "properties": {
            "interval": {
                "type": "object",
                "required": ["seconds"],
                "additionalProperties": False,
                "properties": {"seconds": {"type": "integer", "minimum": 1}},
            }
        },
    }
    #: The names of the instances whose undeploy step ran (the test reads it).
    undeployed: ClassVar[list[str]] = []

    seconds: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> IntervalTrigger:
        seconds = raw["interval"]["seconds"]
        if seconds > MAX_SECONDS:
            parsing.error(("trigger", "interval", "seconds"), f"at most {MAX_SECONDS} (a day)")
        return cls(seconds=seconds)

    def interval(self) -> float:
        return float(self.seconds)

    async def fire(self, host: TriggerHost, instance: Instance, flow: Flow) -> str:
        armed_at = instance.deploy_state["armed_at"]
        tick = round((host.runtime.clock.time() - armed_at) / self.seconds)
        return await host.store.create_execution(
            instance.name, instance.flow_text, instance.flow_version, {"tick": tick}
        )

    async def deploy(self, host: TriggerHost, instance: Instance, flow: Flow) -> dict[str, Any]:
        return {"armed_at": host.runtime.clock.time()}

    async def undeploy(self, host: TriggerHost, instance: Instance, flow: Flow) -> None:
        self.undeployed.append(instance.name)
