"""The Calendly component, assembled from its parts."""

from __future__ import annotations

from components.calendly.actions import ACTIONS
from components.calendly.connection import CONNECTIONS
from components.calendly.data_sources import DATA_SOURCES
from components.calendly.triggers import TRIGGERS
from runtime import Component


def build_component() -> Component:
    """The Calendly component: its connections, triggers, data sources and actions."""
    return Component(
        key="calendly",
        label="Calendly",
        description=(
            "Calendly is an industry leading scheduling solution for businesses. Manage "
            "scheduled events, attendee availability, users and webhooks."
        ),
        version="0.1.0",
        connections=CONNECTIONS,
        actions=tuple(sorted(ACTIONS, key=lambda a: a.key)),
        triggers=TRIGGERS,
        data_sources=DATA_SOURCES,
    )
