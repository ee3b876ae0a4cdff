"""``relay new component`` and ``relay new flow``: start a component's plugin package, or a
flow with a trigger's required inputs in place."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runtime.cli.common import err, handle_errors
from runtime.cli.state import new_registry
from runtime.errors import ConfigurationError
from runtime.scaffold import check_name, trigger_flow, write_component


@click.group("new")
def new_group() -> None:
    """Start a component's plugin package or a flow from a template."""


@new_group.command("component")
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False),
    help="Where to write the package (default: ./NAME).",
)
@click.option("--force", is_flag=True, help="Write over the files of an existing folder.")
@handle_errors
def new_component_command(name: str, directory: str | None, force: bool) -> None:
    """Write a component plugin package NAME: one action, an API-key connection, a data
    source, offline tests and a README.

    ``pip install -e NAME && pytest NAME`` then passes, and ``relay components`` lists it.
    """
    installed = {r.component.key for r in new_registry()}
    try:
        check_name(name, installed)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    target = Path(directory) if directory else Path(name)
    written = write_component(target, name, force=force)
    for path in written:
        click.echo(str(path))
    err.print(
        f"wrote the component {name!r} in {target}: pip install -e {target} && pytest {target}",
        markup=False,
    )


@new_group.command("flow")
@click.option(
    "--trigger",
    "trigger_ref",
    required=True,
    metavar="COMPONENT.TRIGGER",
    help="The component trigger that starts the flow.",
)
@click.option("--name", help="The flow's name (default: from the trigger's label).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the flow to this file instead of standard output.",
)
@click.option("--force", is_flag=True, help="Write over an existing --output file.")
@handle_errors
def new_flow_command(trigger_ref: str, name: str | None, output: str | None, force: bool) -> None:
    """Write a flow started by COMPONENT.TRIGGER with the trigger's required inputs in place.

    A connection and any value relay cannot choose become config variables; a choice takes
    the first choice, an input with a default its default; optional inputs are listed in
    comments.
    """
    text = trigger_flow(new_registry(), trigger_ref, name=name)
    if output is None:
        sys.stdout.write(text)
        return
    target = Path(output)
    if target.exists() and not force:
        raise click.BadParameter(
            f"{output} already exists (give --force to write over it)", param_hint="--output"
        )
    if not target.parent.is_dir():
        raise click.BadParameter(f"no directory {str(target.parent)!r}", param_hint="--output")
    target.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}: relay validate {output}", markup=False)
