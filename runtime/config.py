"""Resolving a flow's config: values checked against its declarations, connections opened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from runtime.connections import ConnectionHandle
from runtime.errors import InputValidationError, Problem
from runtime.inputs import CONNECTION_MARKER, json_path

if TYPE_CHECKING:
    from runtime.flows import Flow

_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
}


class ConnectionSource(Protocol):
    """Named, stored connections (``{use: NAME}`` in a flow's config)."""

    async def get_connection(self, name: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(component, connection key, fields)`` of the stored connection ``name``."""
        ...


#: ``open(name, component, key, values, store_key=...)``: a validated connection handle.
OpenConnection = Callable[..., Awaitable[ConnectionHandle]]


async def resolve_config(
    flow: Flow,
    values: Mapping[str, Any] | None,
    *,
    open_connection: OpenConnection,
    connection_source: ConnectionSource | None,
    key_prefix: str = "",
) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
    """Check config values against the flow's declarations; open its connections (named
    ones, ``{use: NAME}``, looked up in ``connection_source``)."""
    values = dict(values or {})
    problems: list[Problem] = []
    scope: dict[str, Any] = {}
    connections: dict[str, ConnectionHandle] = {}
    declared = {c.name for c in flow.config}
    for extra in sorted(set(values) - declared):
        problems.append(Problem("is not a config variable of this flow", json_path([extra])))
    for var in flow.config:
        value = values.get(var.name, var.default)
        if value is None:
            if var.required:
                problems.append(Problem("is required", json_path([var.name])))
            scope[var.name] = None
            continue
        if var.type == "connection":
            if not isinstance(value, dict | Mapping):  # (dict first: no ABC check)
                problems.append(
                    Problem("must be a mapping of connection fields", json_path([var.name]))
                )
                continue
            assert var.component and var.connection
            store_key = f"{key_prefix}{var.component}:{var.connection}:{var.name}"
            if "use" in value:
                used = str(value["use"])
                found = await _named(connection_source, used, var.component, var.connection)
                if isinstance(found, str):
                    problems.append(Problem(found, json_path([var.name])))
                    continue
                value, store_key = found, f"connection:{used}"
            try:
                connections[var.name] = await open_connection(
                    var.name, var.component, var.connection, value, store_key=store_key
                )
            except InputValidationError as exc:
                problems.extend(exc.problems)
            scope[var.name] = {CONNECTION_MARKER: var.name}
            continue
        expected = _CONFIG_TYPES.get(var.type)
        if expected is not None and (
            not isinstance(value, expected) or (var.type != "boolean" and isinstance(value, bool))
        ):
            problems.append(Problem(f"must be a {var.type}", json_path([var.name])))
        scope[var.name] = value
    if problems:
        raise InputValidationError(f"invalid config for flow {flow.name!r}", problems)
    return scope, connections


async def _named(
    source: ConnectionSource | None, name: str, component: str, key: str
) -> dict[str, Any] | str:
    """The stored fields of connection ``name``, or why they cannot be used."""
    found = await source.get_connection(name) if source else None
    if found is None:
        return f"no stored connection {name!r} (run `relay connect`)"
    if (found[0], found[1]) != (component, key):
        return f"connection {name!r} is a {found[0]}.{found[1]}, not {component}.{key}"
    return found[2]
