"""An instance's resolved config: its config scope and connection handles, and the trigger
inputs rendered from them."""

from __future__ import annotations

from typing import Any

from runtime.api import Runtime
from runtime.connections import ConnectionHandle
from runtime.expressions import render_value
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
    scope, handles = resolved
    raw = flow.trigger.inputs or {}
    rendered: dict[str, Any] = render_value(
        raw, {"config": scope, "trigger": {}, "steps": {}, "state": {}}
    )
    for key, value in list(rendered.items()):
        if isinstance(value, dict) and "$connection" in value:
            rendered[key] = handles[value["$connection"]]
    return rendered
