"""The extension points of relay: every hook a plugin may implement.

A plugin is a module or object with functions decorated ``@runtime.hookimpl`` whose names match
the hooks below. Plugins are found through the ``relay.components`` entry-point group (built-in
components go through the same path). A misspelled hook name fails at load. An installed
plugin whose import, hook name or hook fails is left out, and reported naming it and the
cause (``runtime.plugins``); the other plugins keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from runtime.declarations import Component

if TYPE_CHECKING:
    import click

PROJECT = "relay"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The ``register`` callback passed to :func:`register_components`.
Register = Callable[[Component], None]


@hookspec
def register_components(register: Register) -> None:
    """Declare the plugin's components.

    Called once per plugin manager, when it is built. Call ``register(component)`` for each
    component; the declaration is checked at once (unique keys, valid input schemas, resolvable
    data-source references) and a bad one raises ``PluginError`` naming the plugin.
    Returns nothing.
    """


@hookspec
def in_process_hosts() -> Mapping[str, Any] | None:
    """Offer ASGI apps that answer for a host name without a network (e.g. a sandbox).

    Called once per ``Runtime``. Returns ``{host: asgi_app}``; requests relay makes to
    ``http(s)://host/...`` are served in-process by that app. Hosts given to ``Runtime(hosts=)``
    take precedence. Returns ``None`` when the plugin offers none.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``relay`` CLI (e.g. ``relay sandbox``).

    Called once when the CLI starts. ``cli`` is the root click group; add commands with
    ``cli.add_command(...)``. Returns nothing.
    """


@hookspec
def flow_test_sandboxes() -> Mapping[str, Callable[..., Any]] | None:
    """Offer fresh test sandboxes for flow tests (``relay test``), by component key.

    Called once per flow-test session. Returns ``{component: factory}``; ``factory(clock)``
    (``clock`` a ``ManualClock``: the sandbox reads its time from it) returns a new sandbox
    for one test case. The factory has ``scenario_schema`` (``{action: JSON Schema of its
    arguments}``); what it makes has ``hosts`` (``{host: asgi_app}`` it answers for),
    ``async act(action, arguments)`` (one scenario action; ``ValueError`` with a message when
    it cannot be done), ``async webhooks(url)`` (the signed deliveries sent to ``url`` so
    far, each a mapping of ``method``, ``url``, ``headers``, ``body`` bytes and
    ``received_at``) and ``facts()`` (what assertions may read as ``sandbox``). When two
    plugins offer one component, the first result wins (``tryfirst`` takes precedence).
    Returns ``None`` when the plugin offers none.
    """
