"""Calling one part of a component directly: an action, a data source, a trigger's hooks.

What ``Runtime.invoke_action``, ``picklist`` and the trigger methods do, outside any flow:
inputs are validated against the part's schema (connection handles passed through), and the
function is called with a context from ``context(step=..., **extra)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

from runtime.calls import call_function
from runtime.connections import ConnectionHandle
from runtime.context import Context, State
from runtime.errors import ConfigurationError
from runtime.inputs import CONNECTION_MARKER

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from runtime.declarations import TriggerEvent, WebhookRequest
    from runtime.registry import Registry


@frozen
class Invoker:
    """Calls the parts of ``registry``'s components, each with a context from ``context``."""

    registry: Registry
    context: Callable[..., Context]

    def _prepare(
        self, kind: str, ref: str, inputs: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        component, _, key = ref.partition(".")
        if not key:
            raise ConfigurationError(f"expected COMPONENT.KEY, got {ref!r}")
        registered = self.registry.require(component)
        finder = {
            "action": registered.component.action,
            "data_source": registered.component.data_source,
            "trigger": registered.component.trigger,
        }[kind]
        item = finder(key)
        if item is None:
            raise ConfigurationError(
                f"component {component!r} has no {kind.replace('_', ' ')} {key!r}"
            )
        schema = registered.schema(kind, key)
        handles = {k: v for k, v in inputs.items() if isinstance(v, ConnectionHandle)}
        plain = {k: v for k, v in inputs.items() if k not in handles}
        markers = {k: {CONNECTION_MARKER: v.name} for k, v in handles.items()}
        params = schema.validate({**plain, **markers})
        params.update(handles)
        return item, params

    async def action(self, ref: str, inputs: Mapping[str, Any], **context: Any) -> Any:
        """Validate ``inputs`` and call one action (``component.key``)."""
        action, params = self._prepare("action", ref, inputs)
        return await call_function(action.perform, self.context(step=ref, **context), params)

    async def picklist(self, ref: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a data source; returns ``[{"key", "label"}, ...]``."""
        source, params = self._prepare("data_source", ref, inputs)
        items: list[dict[str, Any]] = await call_function(
            source.perform, self.context(step=ref), params
        )
        return items

    async def deploy_trigger(
        self, ref: str, inputs: Mapping[str, Any], *, webhook_url: str
    ) -> dict[str, Any]:
        """Run a trigger's ``on_deploy``; what it returned (kept as the deploy state)."""
        trigger, params = self._prepare("trigger", ref, inputs)
        if trigger.on_deploy is None:
            return {}
        ctx = self.context(step=ref, webhook_url=webhook_url)
        state: dict[str, Any] = await call_function(trigger.on_deploy, ctx, params) or {}
        return state

    async def undeploy_trigger(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        webhook_url: str,
        deploy_state: Mapping[str, Any],
    ) -> None:
        """Run a trigger's ``on_undeploy`` with the state its deploy left."""
        trigger, params = self._prepare("trigger", ref, inputs)
        if trigger.on_undeploy is None:
            return
        ctx = self.context(step=ref, webhook_url=webhook_url, deploy_state=dict(deploy_state))
        await call_function(trigger.on_undeploy, ctx, params)

    async def webhook_event(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        request: WebhookRequest,
        *,
        deploy_state: Mapping[str, Any] | None = None,
    ) -> TriggerEvent | None:
        """Verify and shape one delivery; raises ``WebhookRejected`` when it fails checks."""
        trigger, params = self._prepare("trigger", ref, inputs)
        ctx = self.context(step=ref, webhook_url=request.url, deploy_state=dict(deploy_state or {}))
        event: TriggerEvent | None = await call_function(trigger.perform, ctx, request, params)
        return event

    async def poll(
        self, ref: str, inputs: Mapping[str, Any], cursor: Any, *, state: State | None = None
    ) -> Any:
        """One poll of a polling trigger from ``cursor``."""
        trigger, params = self._prepare("trigger", ref, inputs)
        ctx = self.context(step=ref, state=state or State())
        return await call_function(trigger.poll, ctx, params, cursor)
