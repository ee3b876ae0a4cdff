"""Calendly API v2 endpoints, one module per area; :func:`routes` gathers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    activity_log,
    availability,
    data_compliance,
    event_types,
    organizations,
    routing_forms,
    scheduled_events,
    sharing,
    users,
    webhooks,
)

if TYPE_CHECKING:
    from starlette.routing import Route


def routes() -> list[Route]:
    """Every API route the sandbox serves."""
    out: list[Route] = []
    for module in (
        users,
        organizations,
        event_types,
        scheduled_events,
        availability,
        webhooks,
        routing_forms,
        sharing,
        activity_log,
        data_compliance,
    ):
        out.extend(module.routes())
    return out
