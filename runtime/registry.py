"""The registry of loaded components: every declaration checked once, schemas compiled once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from attrs import frozen
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from runtime.declarations import (
    INPUT_TYPES,
    Action,
    Component,
    Connection,
    DataSource,
    Input,
    Trigger,
)
from runtime.errors import ConfigurationError, PluginError
from runtime.inputs import InputSchema, input_schema
from runtime.output_check import OutputSchema
from runtime.schema_messages import describe, key_path
from runtime.trigger_kinds import TriggerKinds, builtin_kinds

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from runtime.plugins import BrokenPlugin

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: An HTTP header's name (RFC 9110's token).
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: What a query parameter's name may be: printable, and nothing URL syntax gives a meaning.
_QUERY_NAME = re.compile(r"^[A-Za-z0-9._~-]+$")


@frozen
class Registered:
    """A component with the plugin that registered it and its compiled input schemas."""

    component: Component
    plugin: str
    schemas: dict[str, InputSchema]

    def schema(self, kind: str, key: str) -> InputSchema:
        """The compiled input schema of this component's ``kind`` (action, trigger...) ``key``."""
        return self.schemas[f"{kind}:{key}"]


class Registry:
    """Components by key. ``add`` checks a declaration and fails naming the plugin.

    ``trigger_kinds`` are the kinds of ``trigger:`` flows loaded against this registry may
    have (the built-in ones unless given); a component's trigger declaration is checked by the
    kind that runs it.
    """

    def __init__(self, trigger_kinds: TriggerKinds | None = None) -> None:
        self.trigger_kinds: TriggerKinds = trigger_kinds or builtin_kinds()
        self._components: dict[str, Registered] = {}
        self._actions: dict[tuple[str, str], tuple[Action, InputSchema]] = {}
        self._outputs: dict[tuple[str, str], OutputSchema | None] = {}
        #: Installed plugins left out because they failed to load, by plugin name.
        self.broken: dict[str, BrokenPlugin] = {}

    def __iter__(self) -> Iterator[Registered]:
        return iter(sorted(self._components.values(), key=lambda r: r.component.key))

    def __len__(self) -> int:
        return len(self._components)

    def get(self, key: str) -> Registered | None:
        """The component ``key``, or ``None``."""
        return self._components.get(key)

    def require(self, key: str) -> Registered:
        """The component ``key``; unknown, a ``ConfigurationError`` naming those installed
        (or, for a component whose plugin was left out, why)."""
        found = self._components.get(key)
        if found is None:
            why = self.unavailable(key)
            if why is not None:
                raise ConfigurationError(f"component {key!r} is unavailable: {why}")
            known = ", ".join(sorted(self._components)) or "none"
            raise ConfigurationError(f"unknown component {key!r} (installed: {known})")
        return found

    def unavailable(self, key: str) -> str | None:
        """Why the component ``key`` is missing, when a plugin that failed to load was to
        provide it (by the components it registered, else by its name); else ``None``."""
        if key in self._components:
            return None
        for broken in self.broken.values():
            if key in broken.components:
                return str(broken)
        named = self.broken.get(key)
        return str(named) if named is not None else None

    def unknown_component(self, key: str, hint: str = "") -> str:
        """The problem a flow naming the missing component ``key`` reports."""
        why = self.unavailable(key)
        if why is not None:
            return f"component {key!r} is unavailable: {why}"
        return f"unknown component {key!r}{hint}"

    def add_broken(self, broken: BrokenPlugin) -> None:
        """Remember an installed plugin that was left out (see ``unavailable``)."""
        self.broken[broken.name] = broken

    def remove_plugin(self, plugin: str) -> None:
        """Drop every component ``plugin`` registered (it failed partway)."""
        for key in [k for k, r in self._components.items() if r.plugin == plugin]:
            del self._components[key]
        self._actions = {k: v for k, v in self._actions.items() if k[0] in self._components}
        self._outputs = {k: v for k, v in self._outputs.items() if k[0] in self._components}

    def action(self, component: str, key: str) -> tuple[Action, InputSchema]:
        """An action and its compiled input schema (looked up once, then from a dict: the
        engine asks for every step)."""
        found = self._actions.get((component, key))
        if found is None:
            registered = self.require(component)
            action = registered.component.action(key)
            if action is None:
                raise ConfigurationError(f"component {component!r} has no action {key!r}")
            found = self._actions[(component, key)] = (action, registered.schema("action", key))
        return found

    def output_schema(self, component: str, key: str) -> OutputSchema | None:
        """The compiled ``output_schema`` of an action (compiled on first use, then kept), or
        ``None`` when it declares none."""
        both = (component, key)
        if both not in self._outputs:
            action, _ = self.action(component, key)
            declared = action.output_schema
            self._outputs[both] = (
                OutputSchema(f"{component}.{key}", declared) if declared is not None else None
            )
        return self._outputs[both]

    def add(self, component: Component, *, plugin: str) -> None:
        """Check ``component`` and add it; its problems are one ``PluginError`` for ``plugin``."""
        problems = list(_check_component(component, self.trigger_kinds))
        if component.key in self._components:
            other = self._components[component.key].plugin
            problems.append(f"component key {component.key!r} is already registered by {other!r}")
        if problems:
            raise PluginError(plugin, "; ".join(problems))
        schemas: dict[str, InputSchema] = {}
        for kind, items in _parts(component):
            for item in items:
                owner = f"{component.key}.{item.key}"
                schemas[f"{kind}:{item.key}"] = InputSchema(owner, item.inputs)
        self._components[component.key] = Registered(component, plugin, schemas)


def _parts(component: Component) -> list[tuple[str, Iterable[Any]]]:
    return [
        ("connection", component.connections),
        ("action", component.actions),
        ("trigger", component.triggers),
        ("data_source", component.data_sources),
    ]


def _check_component(component: Component, kinds: TriggerKinds) -> Iterator[str]:
    if not _KEY.match(component.key):
        yield f"component key {component.key!r} is not a valid key"
    data_sources = {d.key for d in component.data_sources}
    for kind, items in _parts(component):
        seen: set[str] = set()
        for item in items:
            where = f"{kind} {item.key!r}"
            if not _KEY.match(item.key):
                yield f"{where}: key is not valid"
            if item.key in seen:
                yield f"duplicate {kind} key {item.key!r}"
            seen.add(item.key)
            yield from _check_inputs(where, item.inputs, data_sources, bool(component.connections))
            if isinstance(item, Connection):
                yield from _check_connection(where, item)
            if isinstance(item, Action | DataSource) and not callable(item.perform):
                yield f"{where}: perform is not callable"
            if isinstance(item, Trigger):
                runs_it = kinds.for_declaration(item.kind)
                if runs_it is None:
                    yield f"{where}: no trigger kind runs a {item.kind!r} trigger"
                else:
                    yield from runs_it.declaration_problems(where, item)


def _check_connection(where: str, connection: Connection) -> Iterator[str]:
    if connection.kind not in ("oauth2", "api_key"):
        yield f"{where}: kind must be 'oauth2' or 'api_key', not {connection.kind!r}"
        return
    if connection.endpoints is not None and not callable(connection.endpoints):
        yield f"{where}: endpoints is not callable"
    if connection.kind == "oauth2":
        if connection.endpoints is None:
            yield f"{where}: an oauth2 connection needs endpoints (a function of its fields)"
        return
    if connection.endpoints is None and not connection.api_base_url:
        yield f"{where}: an api_key connection needs api_base_url (or endpoints)"
    key_input = next((i for i in connection.inputs if i.key == connection.token_input), None)
    if key_input is None:
        yield f"{where}: token_input {connection.token_input!r} is not one of its inputs"
    elif key_input.type != "password":
        yield f"{where}: input {key_input.key!r} holds the key: declare it type='password'"
    if connection.api_key_query is not None:
        if not _QUERY_NAME.match(connection.api_key_query):
            yield f"{where}: api_key_query {connection.api_key_query!r} is not a usable name"
    elif not _HEADER.match(connection.api_key_header):
        yield f"{where}: api_key_header {connection.api_key_header!r} is not a header name"
    prefix = connection.api_key_prefix
    if prefix is not None and any(c in prefix for c in "\r\n\0"):
        yield f"{where}: api_key_prefix may not hold a line break"


def _check_inputs(
    where: str, inputs: Iterable[Input], data_sources: set[str], has_connections: bool
) -> Iterator[str]:
    seen: set[str] = set()
    for spec in inputs:
        if spec.key in seen:
            yield f"{where}: duplicate input key {spec.key!r}"
        seen.add(spec.key)
        if spec.type not in INPUT_TYPES:
            yield f"{where}: input {spec.key!r} has unknown type {spec.type!r}"
            continue
        if spec.data_source is not None and spec.data_source not in data_sources:
            yield f"{where}: input {spec.key!r} names unknown data source {spec.data_source!r}"
        if spec.type == "connection" and not has_connections:
            yield f"{where}: input {spec.key!r} is a connection but the component declares none"
        if not spec.schema and all(isinstance(c.value, str) for c in spec.choices):
            # the rest of an input's schema is generated by relay from its type: only the
            # author's extra keywords can make it invalid (and checking costs ~1 ms an input)
            continue
        try:
            Draft202012Validator.check_schema(input_schema(spec))
        except SchemaError as exc:
            at = key_path(exc.absolute_path) or "(the whole schema)"
            yield f"{where}: input {spec.key!r} has an invalid schema: {at}: {describe(exc)}"
