"""The component webhook trigger kind: a component's ``Trigger(kind="webhook")``, which shapes
each delivery, declares the headers a delivery keeps, and subscribes at deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from attrs import frozen

from runtime.dedupe import body_key, declared_key, expression_key, path_problem
from runtime.trigger_kinds.base import BASE_KEPT_HEADERS, DeliveryHost
from runtime.trigger_kinds.component import ComponentTrigger, kept_header_problems

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from runtime.declarations import Trigger, WebhookRequest
    from runtime.flows.model import Flow
    from runtime.store.records import Instance


@frozen
class ComponentWebhookTrigger(ComponentTrigger):
    """Deliveries go through the declaration's ``perform``; the payload is its event's payload
    plus ``branch``."""

    declared_kind: ClassVar[str] = "webhook"
    receives_webhooks: ClassVar[bool] = True

    #: The declaration's ``kept_headers``.
    declared_headers: tuple[str, ...] = ()
    #: The declaration's ``dedupe_key``: payload paths whose values identify a delivery.
    declared_identity: tuple[str, ...] = ()

    @classmethod
    def declaration_problems(cls, where: str, declared: Trigger) -> Iterator[str]:
        """A webhook trigger needs ``perform``; its ``kept_headers`` are header names, its
        ``dedupe_key`` dotted payload paths."""
        if not callable(declared.perform):
            yield f"{where}: a webhook trigger needs perform"
        yield from kept_header_problems(where, declared, keeps_headers=True)
        if not isinstance(declared.dedupe_key, tuple):
            yield f"{where}: dedupe_key must be a tuple of payload paths"
            return
        for path in declared.dedupe_key:
            problem = path_problem(path)
            if problem is not None:
                yield f"{where}: dedupe_key: {problem}"

    @classmethod
    def from_declaration(
        cls, component: str, trigger: str, inputs: dict[str, Any], declared: Trigger | None
    ) -> Self:
        """Keeps the declaration's ``kept_headers``."""
        headers = declared.kept_headers if declared is not None else ()
        identity = declared.dedupe_key if declared is not None else ()
        return cls(
            component=component,
            trigger=trigger,
            inputs=inputs,
            declared_headers=headers,
            declared_identity=identity,
        )

    def dedupe_key(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str | None:
        """The flow's ``dedupe:`` expression, else the fields the declaration names (when the
        payload has any), else the body's SHA-256: a sender that redelivers sends the same
        bytes, and two different events never do."""
        if self.dedupe is not None:
            return expression_key(self.dedupe, payload)
        if self.declared_identity:
            found = declared_key(self.declared_identity, payload)
            if found is not None:
                return found
        return body_key(request.body)

    def kept_headers(self) -> frozenset[str]:
        """relay's own headers and the ones the declaration names."""
        return BASE_KEPT_HEADERS.union(self.declared_headers)

    async def shape(
        self, host: DeliveryHost, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any] | None:
        """The declaration's event (``None``: an event the flow did not select)."""
        event = await host.runtime.webhook_event(
            self.ref,
            await self.params(host, instance, flow),
            request,
            deploy_state=instance.deploy_state,
        )
        if event is None:
            return None
        return {**dict(event.payload), "branch": event.branch}
