"""Calendly triggers."""

from runtime import Trigger

TRIGGERS: tuple[Trigger, ...] = ()
