"""The component polling trigger kind: a component's ``Trigger(kind="polling")``, asked every
``poll_interval`` seconds for what changed since the instance's cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from attrs import frozen

from runtime.trigger_kinds.component import ComponentTrigger, kept_header_problems

if TYPE_CHECKING:
    from collections.abc import Iterator

    from runtime.declarations import Trigger
    from runtime.flows.model import Flow
    from runtime.store.records import Instance
    from runtime.trigger_kinds.base import TriggerHost

#: A poll interval for a trigger that names no declaration (its flow does not load).
_UNDECLARED_INTERVAL = 300.0


@frozen
class ComponentPollingTrigger(ComponentTrigger):
    """Each poll with new items records one execution with ``{items, count}``."""

    declared_kind: ClassVar[str] = "polling"

    #: The declaration's ``poll_interval``.
    every: float = _UNDECLARED_INTERVAL

    @classmethod
    def declaration_problems(cls, where: str, declared: Trigger) -> Iterator[str]:
        """A polling trigger needs ``poll``, keeps no headers and declares no identity (its
        items are deduplicated through its cursor)."""
        if not callable(declared.poll):
            yield f"{where}: a polling trigger needs poll"
        yield from kept_header_problems(where, declared, keeps_headers=False)
        if declared.dedupe_key:
            yield f"{where}: dedupe_key: only a webhook trigger dedupes deliveries"

    @classmethod
    def from_declaration(
        cls, component: str, trigger: str, inputs: dict[str, Any], declared: Trigger | None
    ) -> Self:
        """Keeps the declaration's ``poll_interval``."""
        every = declared.poll_interval if declared is not None else _UNDECLARED_INTERVAL
        return cls(component=component, trigger=trigger, inputs=inputs, every=every)

    def interval(self) -> float:
        """The declaration's ``poll_interval``."""
        return self.every

    async def fire(self, host: TriggerHost, instance: Instance, flow: Flow) -> str | None:
        """Poll since the stored cursor, record the new items (if any), then store the new
        cursor: a crash between the two re-polls the same items (at least once)."""
        store = host.store
        cursor = await store.get_cursor(instance.name)
        result = await host.runtime.poll(self.ref, await self.params(host, instance, flow), cursor)
        execution_id = None
        if result.items:
            payload = {"items": [dict(item) for item in result.items], "count": len(result.items)}
            execution_id = await store.create_execution(
                instance.name, instance.flow_text, instance.flow_version, payload
            )
        await store.set_cursor(instance.name, result.cursor)
        return execution_id
