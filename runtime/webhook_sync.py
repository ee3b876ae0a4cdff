"""Webhook URLs follow the server: an instance's public URL is derived from the configured
public URL when it is served, so when that changes the senders must be told. ``sync`` finds
the instances whose URL, as registered at deploy (or at the last sync), differs from where the
server now receives them, and for each runs its trigger's deploy step for the new URL (e.g. a
new Calendly webhook subscription), then its undeploy step for the old registration (the old
subscription is deleted, so the old URL gets no more deliveries), and records the new URL.

An instance whose deploy step fails keeps its old registration and URL (and is reported); one
whose old registration could not be removed is reported with what was left behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from attrs import evolve, frozen

from runtime.errors import NotFound, RelayError

if TYPE_CHECKING:
    from collections.abc import Collection

    from runtime.service import Service

log = structlog.get_logger("relay.service")


@frozen
class Moved:
    """One instance whose webhook URL moved: where senders posted, where they post now, and
    what sync did (``would`` on a dry run, ``re-registered``, ``recorded`` for a trigger with
    nothing remote to tell, ``failed``), with a note for the operator (never a secret)."""

    name: str
    old: str
    new: str
    outcome: str
    note: str = ""


async def moved(relay: Service, names: Collection[str] | None = None) -> list[Moved]:
    """The instances (of ``names``, if given) registered at another URL than they are
    served at now."""
    registered = await relay.store.registered_webhook_urls()
    instances = await relay.store.list_instances()
    if names is not None:
        known = {i.name for i in instances}
        for name in names:
            if name not in known:
                raise NotFound("instance", name)
        instances = [i for i in instances if i.name in names]
    found = []
    for instance in instances:
        old = registered.get(instance.name)
        if not relay.flow_of(instance).trigger.receives_webhooks:
            continue
        new = relay.webhook_url(instance)
        if old is not None and old != new:
            found.append(Moved(instance.name, old, new, "would"))
    return found


async def sync(
    relay: Service, names: Collection[str] | None = None, *, dry_run: bool = False
) -> list[Moved]:
    """Re-register every moved instance (see the module docstring); what was done to each."""
    found = await moved(relay, names)
    if dry_run:
        return found
    return [await _sync_one(relay, m) for m in found]


async def _sync_one(relay: Service, move: Moved) -> Moved:
    instance = await relay.store.get_instance(move.name)
    if instance is None:
        return evolve(move, outcome="failed", note="the instance was undeployed meanwhile")
    flow = relay.flow_of(instance)
    try:
        state = await flow.trigger.deploy(relay, instance, flow)
    except RelayError as exc:
        log.warning("webhook URL not re-registered", instance=move.name, error=str(exc))
        return evolve(move, outcome="failed", note=relay.runtime.redactor.text(str(exc)))
    note = ""
    if state is not None:
        try:  # the old registration (``instance`` still holds its deploy state)
            await flow.trigger.undeploy(relay, instance, flow)
        except RelayError as exc:
            note = f"the old registration was not removed: {relay.runtime.redactor.text(str(exc))}"
        await relay.store.set_deploy_state(move.name, dict(state))
    await relay.store.record_webhook_url(move.name, move.new)
    relay.forget(move.name)
    outcome = "re-registered" if state is not None else "recorded"
    log.info("webhook URL synced", instance=move.name, outcome=outcome)
    return evolve(move, outcome=outcome, note=note)
