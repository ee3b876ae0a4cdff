"""An instance's resolved config: its config scope and connection handles, and the trigger
inputs rendered from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.connections import ConnectionHandle
from runtime.trigger_kinds import ComponentTrigger

if TYPE_CHECKING:
    from runtime.api import Runtime
    from runtime.flows import Flow
    from runtime.store import Instance

#: An instance's config scope and its connection handles, by connection name.
Resolved = tuple[dict[str, Any], dict[str, ConnectionHandle]]


async def resolve_instance_config(runtime: Runtime, instance: Instance, flow: Flow) -> Resolved:
    """The instance's config scope and connection handles (tokens from the runtime's store)."""
    return await runtime.resolve_config(
        flow, instance.config, key_prefix=f"instance:{instance.name}:"
    )


def trigger_inputs(flow: Flow, resolved: Resolved) -> dict[str, Any]:
    """The flow's trigger inputs rendered against a resolved config: ``$connection``
    references become the connection handles they name."""
    trigger = flow.trigger
    return trigger.render_inputs(resolved) if isinstance(trigger, ComponentTrigger) else {}
