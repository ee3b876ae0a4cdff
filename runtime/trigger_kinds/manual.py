"""The ``manual:`` trigger kind: a flow run only when asked (``relay run``, ``start_manual``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from attrs import frozen

from runtime.trigger_kinds.base import FlowTrigger, TriggerParsing

if TYPE_CHECKING:
    from collections.abc import Mapping


@frozen
class ManualTrigger(FlowTrigger):
    """``trigger: {manual: {}}``, and the trigger of a flow that declares none."""

    kind: ClassVar[str] = "manual"
    key: ClassVar[str] = "manual"
    form: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["manual"],
        "additionalProperties": False,
        "properties": {"manual": {"type": "object"}},
    }

    @classmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> ManualTrigger:
        """Nothing to parse: ``manual:`` takes no settings."""
        return cls()
