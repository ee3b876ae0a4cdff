"""Building the plugin manager: entry points plus explicit plugins, checked strictly.

An installed plugin (an entry point) that fails (it does not import, implements a hook that
does not exist, or its ``register_components`` raises or registers a bad declaration) is left
out and remembered as a ``BrokenPlugin``, naming it and the cause: the other plugins keep
working, and a flow that uses its component is told why it is not there. A plugin given
explicitly (``plugins=``) is the caller's own: its failure is a ``PluginError``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy
from attrs import frozen

from runtime import hookspecs
from runtime.errors import PluginError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.declarations import Component
    from runtime.registry import Registry

ENTRY_POINT_GROUP = "relay.components"

__all__ = [
    "ENTRY_POINT_GROUP",
    "BrokenPlugin",
    "RelayPluginManager",
    "in_process_hosts",
    "load_components",
    "make_plugin_manager",
    "register_commands",
    "settle",
]


@frozen
class BrokenPlugin:
    """An installed plugin relay left out: its entry point's ``name``, why (``cause``), and the
    keys of the components it registered before it failed (when it got that far)."""

    name: str
    cause: str
    components: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"plugin {self.name!r} was left out: {self.cause}"


class RelayPluginManager(pluggy.PluginManager):
    """relay's plugin manager: which plugins came from entry points, and which were left out."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        #: Installed plugins left out, in the order found (each reported once by the CLI).
        self.broken: list[BrokenPlugin] = []
        #: The names of the plugins registered from entry points (left out when they fail).
        self.installed: set[str] = set()

    def leave_out(self, name: str, cause: str) -> None:
        """Unregister the installed plugin ``name`` (if registered) and remember why."""
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin)
        self.installed.discard(name)
        if all(b.name != name for b in self.broken):
            self.broken.append(BrokenPlugin(name, cause))


def make_plugin_manager(
    plugins: Iterable[object] = (), *, load_entry_points: bool = True
) -> RelayPluginManager:
    """A new plugin manager with relay's hooks, the installed plugins and ``plugins``.

    An installed plugin that fails to import, to register, or implements a hook that does not
    exist (a misspelling) is left out and listed in ``broken``; one of ``plugins`` that does
    raises ``PluginError`` naming it.
    """
    pm = RelayPluginManager()
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not crash relay
                pm.leave_out(ep.name, f"failed to import {ep.value}: {_cause(exc)}")
                continue
            if pm.is_registered(module):
                continue
            try:
                _register(pm, module, ep.name)
            except PluginError as exc:
                pm.leave_out(ep.name, exc.reason)
                continue
            pm.installed.add(ep.name)
    for plugin in plugins:
        _register(pm, plugin, _plugin_name(plugin))
    _check_pending(pm)
    return pm


def _check_pending(pm: RelayPluginManager) -> None:
    # pluggy stops at the first misspelled hook: leave that plugin out if installed, and look
    # again, until every remaining hook has a spec
    while True:
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = (pm.get_name(exc.plugin) if exc.plugin is not None else None) or "?"
            if name not in pm.installed:
                raise PluginError(name, str(exc)) from exc
            pm.leave_out(name, str(exc))
            continue
        return


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _plugin_name(plugin: object) -> str:
    return str(getattr(plugin, "__name__", None) or type(plugin).__name__)


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise PluginError(name, str(exc)) from exc


def _installed(pm: pluggy.PluginManager) -> set[str]:
    return pm.installed if isinstance(pm, RelayPluginManager) else set()


def load_components(pm: pluggy.PluginManager) -> Registry:
    """Call every plugin's ``register_components`` and return the checked registry.

    An installed plugin whose registration fails is left out (``Registry.broken`` says why,
    with those left out while loading); an explicit plugin's failure raises ``PluginError``.
    """
    from runtime.registry import Registry  # jsonschema: only once components load

    registry = Registry()
    installed = _installed(pm)
    for broken in getattr(pm, "broken", ()):
        registry.add_broken(broken)
    for impl in pm.hook.register_components.get_hookimpls():
        name = impl.plugin_name
        keys: list[str] = []

        def register(component: Component, _plugin: str = name, _keys: list[str] = keys) -> None:
            _keys.append(str(getattr(component, "key", "")))
            registry.add(component, plugin=_plugin)

        try:
            impl.function(register=register)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, PluginError)
                else PluginError(name, f"register_components failed: {_cause(exc)}")
            )
            if name not in installed:
                if error is exc:
                    raise
                raise error from exc
            # what it registered before failing stays out too: the plugin is one unit
            registry.remove_plugin(name)
            registry.add_broken(BrokenPlugin(name, error.reason, tuple(k for k in keys if k)))
            if isinstance(pm, RelayPluginManager):
                pm.leave_out(name, error.reason)
    return registry


def in_process_hosts(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Every plugin's in-process hosts, merged (an installed plugin whose hook raises is
    left out of them, and listed as broken)."""
    hosts: dict[str, Any] = {}
    installed = _installed(pm)
    for impl in reversed(pm.hook.in_process_hosts.get_hookimpls()):
        try:
            offered: Any = impl.function()
        except Exception as exc:
            if impl.plugin_name not in installed or not isinstance(pm, RelayPluginManager):
                raise
            pm.leave_out(impl.plugin_name, f"in_process_hosts failed: {_cause(exc)}")
            continue
        if offered:
            hosts.update(offered)
    return hosts


def settle(pm: pluggy.PluginManager, registry: Registry) -> None:
    """Take out of ``registry`` the components of plugins left out after it was loaded (a
    later hook of theirs raised), so what is listed as broken is never half there."""
    for broken in getattr(pm, "broken", ()):
        if broken.name not in registry.broken:
            registry.remove_plugin(broken.name)
            registry.add_broken(broken)


def register_commands(pm: pluggy.PluginManager, cli: Any) -> None:
    """Every plugin's ``register_commands(cli)`` (an installed plugin whose hook raises is
    left out, and listed as broken)."""
    installed = _installed(pm)
    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        try:
            impl.function(cli=cli)
        except Exception as exc:
            if impl.plugin_name not in installed or not isinstance(pm, RelayPluginManager):
                raise
            pm.leave_out(impl.plugin_name, f"register_commands failed: {_cause(exc)}")
