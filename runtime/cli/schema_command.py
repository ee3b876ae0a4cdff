"""``relay schema``: the JSON Schema of flow files with the installed components in it, for
editors (a YAML language server completes and checks a flow with it)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runtime.cli.common import err, handle_errors
from runtime.cli.state import new_registry
from runtime.editor_schema import editor_schema


@click.command("schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the schema to this file instead of standard output.",
)
@handle_errors
def schema_command(output: str | None) -> None:
    """Print a JSON Schema for flow files made from the installed components (for editors).

    Each step's ``action:`` lists the installed actions and its ``inputs`` are checked
    against that action's own inputs, with their descriptions, defaults and choices.
    """
    text = json.dumps(editor_schema(new_registry()), indent=2, sort_keys=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    target = Path(output)
    if not target.parent.is_dir():
        raise click.BadParameter(f"no directory {str(target.parent)!r}", param_hint="--output")
    target.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}", markup=False)
