"""``relay picklist COMPONENT.KEY``: run a data source with inputs from a config file (a
connection's fields, or a stored connection by ``{use: NAME}``) and typed ``--input`` values."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.cli.common import (
    emit_json,
    handle_errors,
    open_configured_store,
    out,
    read_data_file,
    run_async,
    uses_stored_connection,
    values_from,
)
from runtime.cli.state import new_runtime
from runtime.cli.values import convert_input
from runtime.picklists import data_source, picklist_options


@click.command("picklist")
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
    specs = {spec.key: spec for spec in data_source(runtime, ref).inputs}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--input")
        values[key] = convert_input(specs.get(key), key, raw)
    where = config_path or "the config"

    async def main() -> list[dict[str, Any]]:
        try:
            if uses_stored_connection(values):
                async with open_configured_store() as store:
                    return await picklist_options(
                        runtime,
                        ref,
                        values,
                        connection_source=store,
                        token_store=store.tokens,
                        where=where,
                    )
            return await picklist_options(runtime, ref, values, where=where)
        finally:
            await runtime.aclose()

    with values_from(config_path):
        items = run_async(main())
    if as_json:
        emit_json(items)
        return
    table = Table("key", "label")
    for column in table.columns:
        column.overflow = "fold"
    for item in items:
        table.add_row(escape(str(item.get("key"))), escape(str(item.get("label"))))
    out.print(table)
