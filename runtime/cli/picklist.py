"""``relay picklist COMPONENT.KEY``: run a data source with inputs from a config file (a
connection's fields, or a stored connection by ``{use: NAME}``) and typed ``--input`` values."""

from __future__ import annotations

import contextlib
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.api import Runtime
from runtime.cli import (
    cli,
    emit_json,
    handle_errors,
    new_runtime,
    out,
    read_data_file,
    run_async,
    store_for,
    uses_stored_connection,
    values_from,
)
from runtime.cli.values import convert_input
from runtime.errors import ConfigurationError


@cli.command("picklist")
@click.argument("ref")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Input values (YAML/JSON)."
)
@click.option("--input", "pairs", multiple=True, metavar="KEY=VALUE", help="An input value.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def picklist_command(
    ref: str, config_path: str | None, pairs: tuple[str, ...], as_json: bool
) -> None:
    """Run the data source COMPONENT.KEY and list its {key, label} items.

    Connection inputs take a mapping of connection fields in the config file (``connection:``
    inside it picks the connection by key; the component's first is the default).
    """
    values: dict[str, Any] = dict(read_data_file(config_path, "config") or {})
    runtime = new_runtime()
    source = _data_source(runtime, ref)
    specs = {spec.key: spec for spec in source.inputs}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--input")
        values[key] = convert_input(specs.get(key), key, raw)
    with values_from(config_path):
        items = run_async(_picklist(runtime, ref, source, values, config_path or "the config"))
    if as_json:
        emit_json(items)
        return
    table = Table("key", "label")
    for column in table.columns:
        column.overflow = "fold"
    for item in items:
        table.add_row(escape(str(item.get("key"))), escape(str(item.get("label"))))
    out.print(table)


def _data_source(runtime: Runtime, ref: str) -> Any:
    """The data source ``ref`` names (``COMPONENT.KEY``), or an error listing the choices."""
    component, _, key = ref.partition(".")
    registered = runtime.registry.require(component)
    source = registered.component.data_source(key) if key else None
    if source is None:
        keys = ", ".join(f"{component}.{s.key}" for s in registered.component.data_sources)
        said = f"no data source {key!r}" if key else "a data source is COMPONENT.KEY"
        raise ConfigurationError(
            f"{ref}: {said}; {component}'s data sources: {keys or 'none'}"
        )
    return source


async def _picklist(
    runtime: Runtime, ref: str, source: Any, values: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    component = ref.partition(".")[0]
    registered = runtime.registry.require(component)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if uses_stored_connection(values):
                await stack.enter_async_context(store_for(runtime))
            for spec in source.inputs:
                raw = values.get(spec.key)
                if spec.type != "connection" or not isinstance(raw, dict):
                    continue
                fields = dict(raw)
                if "use" in fields:
                    values[spec.key] = await _stored_connection(runtime, component, fields, where)
                    continue
                chosen = str(fields.pop("connection", registered.component.connections[0].key))
                values[spec.key] = await runtime.open_connection(
                    spec.key, component, chosen, fields
                )
            return await runtime.picklist(ref, values)
    finally:
        await runtime.aclose()


async def _stored_connection(
    runtime: Runtime, component: str, fields: dict[str, Any], where: str
) -> Any:
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
