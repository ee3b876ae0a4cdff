"""``relay redeploy``, ``pause`` and ``resume``: an instance changed in place over the
configured store (``runtime.lifecycle`` does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runtime.cli.common import handle_errors, out, read_data_file, run_async, service, values_from


@click.command("redeploy")
@click.argument("name")
@click.argument("flow_path", metavar="FLOW", type=click.Path(dir_okay=False))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="New config (default: kept)."
)
@handle_errors
def redeploy_command(name: str, flow_path: str, config_path: str | None) -> None:
    """Install FLOW as the next flow version of instance NAME, in place (same webhook URL)."""
    config = None  # no --config: the instance keeps its own
    if config_path is not None:
        config = read_data_file(config_path, "config") or {}

    async def main() -> Any:
        async with service() as relay:
            done = await relay.redeploy(name, Path(flow_path), config)
            return done.instance.flow_version, done.deployed, done.notes

    with values_from(config_path):
        version, deployed, notes = run_async(main())
    ran = "ran again" if deployed else "not run (its inputs are unchanged)"
    out.print(f"redeployed {name}: flow version {version}; trigger deploy step {ran}", markup=False)
    for line in notes:
        out.print(line, markup=False)


@click.command("pause")
@click.argument("name")
@handle_errors
def pause_command(name: str) -> None:
    """Pause instance NAME: deliveries are recorded and held, schedules and polls stop."""

    async def main() -> bool:
        async with service() as relay:
            return await relay.pause(name)

    changed = run_async(main())
    out.print(f"paused {name}" if changed else f"{name} was paused already", markup=False)


@click.command("resume")
@click.argument("name")
@handle_errors
def resume_command(name: str) -> None:
    """Resume instance NAME; the deliveries it held run, in the order received."""

    async def main() -> int:
        async with service() as relay:
            return len(await relay.resume(name))

    held = run_async(main())
    out.print(f"resumed {name}; {held} held execution(s) released", markup=False)
    if held:
        out.print(
            "they run in a `relay serve` or `relay worker` process: a running one takes them "
            "over within its sweep, a starting one at once",
            markup=False,
        )
