"""The life of a deployed instance after its deploy: redeploy in place, pause and resume.

A redeploy checks everything it can before it changes anything: the new flow loads (every
problem as ``FILE:LINE:COL``, as ``relay validate`` prints them) and its config resolves. Only
then does it run the trigger's deploy step, and only when what that step is given (the kind,
the trigger and its rendered inputs) changed; otherwise the deploy state is kept. The new
flow, config and deploy state become the instance's next flow version in one store
transaction: name, webhook URL, state, poll cursor and pause status stay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from attrs import evolve, frozen

from runtime.connections import ConnectionHandle
from runtime.errors import FlowError, NotFound, RelayError
from runtime.instance_config import trigger_inputs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.flows import Flow
    from runtime.service import Service
    from runtime.store import Instance

log = structlog.get_logger("relay.service")


@frozen
class Redeployed:
    """What a redeploy did: the instance as it now is, whether the trigger's deploy step ran
    again, and notes for the operator (never a secret)."""

    instance: Instance
    deployed: bool
    notes: tuple[str, ...] = ()


def load_new_flow(relay: Service, current: Instance, flow: str | Path) -> tuple[Flow, str]:
    """The flow a redeploy installs and the path it is known by: a ``Path`` is a flow file, a
    string is flow text (the API's case; its problems name the instance's flow path)."""
    if isinstance(flow, Path):
        return relay.runtime.load_flow(flow), str(flow)
    return relay.runtime.load_flow_text(flow, current.flow_path), current.flow_path


async def redeploy(
    relay: Service, name: str, flow: str | Path, config: Mapping[str, Any] | None = None
) -> Redeployed:
    """Install ``flow`` (see ``load_new_flow``) as the next flow version of instance ``name``,
    with ``config`` (default: the instance's). Nothing changes when the flow does not load,
    the config does not resolve or the deploy step fails."""
    current = await relay.store.get_instance(name)
    if current is None:
        raise NotFound("instance", name)
    new_flow, flow_path = load_new_flow(relay, current, flow)
    values = dict(current.config if config is None else config)
    resolved = await relay.runtime.resolve_config(new_flow, values, key_prefix=f"instance:{name}:")
    trigger = new_flow.trigger
    initial = trigger.initial_deploy_state(new_flow, values, relay.runtime.redactor) or {}
    candidate = evolve(
        current,
        flow_name=new_flow.name,
        flow_path=flow_path,
        flow_text=new_flow.text,
        config=values,
        deploy_state={**current.deploy_state, **initial},
    )
    old_flow = _old_flow(relay, current)
    changed = old_flow is None or await _deploy_inputs(relay, current, old_flow) != _fingerprint(
        new_flow, trigger_inputs(new_flow, resolved)
    )
    deploy_state = candidate.deploy_state
    if changed:
        state = await trigger.deploy(relay, candidate, new_flow)
        if state is not None:
            deploy_state = dict(state)
    try:
        instance = await relay.store.redeploy_instance(
            name,
            replaces=current.flow_version,
            flow_name=new_flow.name,
            flow_path=flow_path,
            flow_text=new_flow.text,
            config=values,
            deploy_state=deploy_state,
        )
    finally:
        relay.forget(name)
    notes = await _retire(relay, current, old_flow, new_flow) if changed else ()
    log.info(
        "redeployed",
        instance=name,
        flow=new_flow.name,
        version=instance.flow_version,
        deployed=changed,
    )
    return Redeployed(instance, changed, notes)


def _old_flow(relay: Service, current: Instance) -> Flow | None:
    """The instance's flow as it runs now (``None`` when it no longer loads: then the new
    flow's deploy step runs, as for a trigger whose inputs changed)."""
    try:
        return relay.flow_of(current)
    except FlowError:
        return None


async def _deploy_inputs(relay: Service, current: Instance, flow: Flow) -> str | None:
    """The fingerprint of what the running flow's deploy step was given (``None`` when its
    config no longer resolves)."""
    try:
        return _fingerprint(flow, await relay.trigger_inputs(current, flow))
    except RelayError:
        return None


def _fingerprint(flow: Flow, inputs: Mapping[str, Any]) -> str:
    """What a trigger's deploy step depends on, as comparable text: its kind and trigger (the
    parsed trigger itself for kinds without inputs) and its rendered inputs, a connection by
    what identifies it and its field values."""

    def plain(value: Any) -> Any:
        if isinstance(value, ConnectionHandle):
            return {
                "$connection": [value.component, value.declaration.key, value.store_key],
                "fields": dict(value.fields),
            }
        return repr(value)

    trigger = flow.trigger
    described = {"kind": trigger.kind, "trigger": repr(trigger) if not inputs else None}
    described["ref"] = getattr(trigger, "ref", None)
    return json.dumps([described, inputs], sort_keys=True, default=plain)


async def _retire(
    relay: Service, old: Instance, old_flow: Flow | None, new_flow: Flow
) -> tuple[str, ...]:
    """Undo the old trigger's deploy when the new flow has another trigger: the same trigger's
    deploy step replaces what it set up before (Calendly reuses or replaces the subscription
    of the unchanged webhook URL), a different one cannot know of it."""
    if old_flow is None or getattr(old_flow.trigger, "ref", None) == getattr(
        new_flow.trigger, "ref", None
    ):
        return ()
    try:
        await old_flow.trigger.undeploy(relay, old, old_flow)
    except RelayError as exc:
        message = relay.runtime.redactor.text(str(exc))
        log.warning("the old trigger's undeploy step failed", instance=old.name, error=message)
        return (f"the old trigger's undeploy step failed (undo it by hand): {message}",)
    return ()


async def pause(relay: Service, name: str) -> bool:
    """Pause instance ``name`` (``False``: it was paused already)."""
    paused = await relay.store.pause_instance(name)
    relay.forget(name)
    log.info("paused", instance=name, changed=paused)
    return paused


async def resume(relay: Service, name: str) -> list[str]:
    """Resume instance ``name``; returns the executions it held, now pending, in the order
    their deliveries were recorded (the caller hands them to its executor)."""
    released = await relay.store.resume_instance(name)
    relay.forget(name)
    log.info("resumed", instance=name, released=len(released))
    return released
