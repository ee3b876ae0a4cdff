"""Trigger kinds: one class per kind of ``trigger:`` a flow may have, and the built-in set.

A kind (a ``FlowTrigger`` subclass) owns its parsing, the shaping of its deliveries, its timer
and its deploy and undeploy steps. A registry's kinds are ``Registry.trigger_kinds``; a new
kind is one class in its own module plus ``registry.trigger_kinds.add(TheKind)``.
"""

from __future__ import annotations

from runtime.trigger_kinds.base import (
    BASE_KEPT_HEADERS,
    DeliveryHost,
    FlowTrigger,
    TriggerHost,
    TriggerParsing,
    TriggerRuntime,
    TriggerStore,
)
from runtime.trigger_kinds.component import ComponentTrigger
from runtime.trigger_kinds.component_polling import ComponentPollingTrigger
from runtime.trigger_kinds.component_webhook import ComponentWebhookTrigger
from runtime.trigger_kinds.kinds import TriggerKinds
from runtime.trigger_kinds.manual import ManualTrigger
from runtime.trigger_kinds.schedule import ScheduleTrigger
from runtime.trigger_kinds.webhook import WebhookTrigger

#: The built-in kinds in the order their forms are listed; the first component kind also
#: reports a ``component:`` trigger that names no declared trigger.
BUILTIN_KINDS: tuple[type[FlowTrigger], ...] = (
    ComponentWebhookTrigger,
    ComponentPollingTrigger,
    WebhookTrigger,
    ScheduleTrigger,
    ManualTrigger,
)


def builtin_kinds() -> TriggerKinds:
    """A fresh set of the built-in kinds (a flow without ``trigger:`` is manual)."""
    return TriggerKinds(BUILTIN_KINDS, default=ManualTrigger)


__all__ = [
    "BASE_KEPT_HEADERS",
    "BUILTIN_KINDS",
    "ComponentPollingTrigger",
    "ComponentTrigger",
    "ComponentWebhookTrigger",
    "DeliveryHost",
    "FlowTrigger",
    "ManualTrigger",
    "ScheduleTrigger",
    "TriggerHost",
    "TriggerKinds",
    "TriggerParsing",
    "TriggerRuntime",
    "TriggerStore",
    "WebhookTrigger",
    "builtin_kinds",
]
