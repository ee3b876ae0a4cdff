"""Every Calendly action, gathered from one module per area."""

from components.calendly.actions import (
    availability,
    compliance,
    event_types,
    organizations,
    raw,
    routing_forms,
    scheduled_events,
    sharing,
    users,
    webhooks,
)
from runtime import Action

ACTIONS: tuple[Action, ...] = (
    *users.ACTIONS,
    *organizations.ACTIONS,
    *event_types.ACTIONS,
    *availability.ACTIONS,
    *scheduled_events.ACTIONS,
    *raw.ACTIONS,
    *webhooks.ACTIONS,
    *sharing.ACTIONS,
    *routing_forms.ACTIONS,
    *compliance.ACTIONS,
)
