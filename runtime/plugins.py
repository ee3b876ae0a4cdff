"""Building the plugin manager: entry points plus explicit plugins, checked strictly."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from runtime import hookspecs
from runtime.errors import PluginError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.declarations import Component
    from runtime.registry import Registry

ENTRY_POINT_GROUP = "relay.components"


def make_plugin_manager(
    plugins: Iterable[object] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A new plugin manager with relay's hooks, the installed plugins and ``plugins``.

    Raises ``PluginError`` naming the plugin when one fails to import or implements a hook
    that does not exist (a misspelling).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not crash relay
                raise PluginError(ep.name, f"failed to import {ep.value}: {exc}") from exc
            if pm.is_registered(module):
                continue
            _register(pm, module, ep.name)
    for plugin in plugins:
        _register(pm, plugin, _plugin_name(plugin))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) if exc.plugin is not None else "?"
        raise PluginError(name or "?", str(exc)) from exc
    return pm


def _plugin_name(plugin: object) -> str:
    return str(getattr(plugin, "__name__", None) or type(plugin).__name__)


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise PluginError(name, str(exc)) from exc


def load_components(pm: pluggy.PluginManager) -> Registry:
    """Call every plugin's ``register_components`` and return the checked registry."""
    from runtime.registry import Registry  # jsonschema: only once components load

    registry = Registry()
    for impl in pm.hook.register_components.get_hookimpls():
        name = impl.plugin_name

        def register(component: Component, _plugin: str = name) -> None:
            registry.add(component, plugin=_plugin)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(name, f"register_components failed: {exc}") from exc
    return registry


def in_process_hosts(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Every plugin's in-process hosts, merged."""
    hosts: dict[str, Any] = {}
    for offered in pm.hook.in_process_hosts():
        if offered:
            hosts.update(offered)
    return hosts
