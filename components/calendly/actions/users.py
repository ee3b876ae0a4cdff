"""Placeholder until this area lands."""

from runtime import Action

ACTIONS: tuple[Action, ...] = ()
