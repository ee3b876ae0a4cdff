"""Running a data source for a picker: its connection inputs opened from their fields or from a
stored connection (``{use: NAME}``), then the data source's ``{key, label}`` options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.api import ConnectionSource, Runtime
    from runtime.connections import ConnectionHandle, TokenStore
    from runtime.declarations import DataSource


def data_source(runtime: Runtime, ref: str) -> DataSource:
    """The data source ``ref`` names (``COMPONENT.KEY``), or an error listing the choices."""
    component, _, key = ref.partition(".")
    registered = runtime.registry.require(component)
    source = registered.component.data_source(key) if key else None
    if source is None:
        keys = ", ".join(f"{component}.{s.key}" for s in registered.component.data_sources)
        said = f"no data source {key!r}" if key else "a data source is COMPONENT.KEY"
        raise ConfigurationError(f"{ref}: {said}; {component}'s data sources: {keys or 'none'}")
    return source


async def picklist_options(
    runtime: Runtime,
    ref: str,
    values: Mapping[str, Any],
    *,
    connection_source: ConnectionSource | None = None,
    token_store: TokenStore | None = None,
    where: str = "the inputs",
) -> list[dict[str, Any]]:
    """Run the data source ``ref`` with ``values`` and return its ``[{key, label}, ...]``.

    A connection input given as a mapping is opened here: ``{use: NAME}`` is the stored
    connection ``NAME`` from ``connection_source`` (its token from ``token_store``); any other
    mapping holds the connection's fields, with ``connection:`` picking which of the
    component's connections (its first by default). ``where`` names the values in errors (a
    file, say).
    """
    bound = (
        runtime.using(connection_source=connection_source, token_store=token_store)
        if connection_source is not None or token_store is not None
        else runtime
    )
    try:
        source = data_source(bound, ref)
        component = ref.partition(".")[0]
        declared = bound.registry.require(component).component
        inputs = dict(values)
        for spec in source.inputs:
            raw = inputs.get(spec.key)
            if spec.type != "connection" or not isinstance(raw, Mapping):
                continue
            fields = dict(raw)
            if "use" in fields:
                inputs[spec.key] = await _stored_connection(bound, component, fields, where)
                continue
            chosen = str(fields.pop("connection", declared.connections[0].key))
            inputs[spec.key] = await bound.open_connection(spec.key, component, chosen, fields)
        return await bound.picklist(ref, inputs)
    finally:
        if bound is not runtime:
            await bound.aclose()


async def _stored_connection(
    runtime: Runtime, component: str, fields: dict[str, Any], where: str
) -> ConnectionHandle:
    name = str(fields["use"])
    source = runtime.connection_source
    found = await source.get_connection(name) if source is not None else None
    if found is None:
        raise ConfigurationError(
            f"{where}: no stored connection {name!r} (`relay connections` lists them; "
            "`relay connect` makes one)"
        )
    if found[0] != component:
        raise ConfigurationError(
            f"{where}: connection {name!r} is a {found[0]}.{found[1]}, not a {component} one"
        )
    return await runtime.open_connection(
        name, component, found[1], found[2], store_key=f"connection:{name}"
    )
