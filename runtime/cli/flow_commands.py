"""``relay validate`` and ``relay run``: check flow files, or run one here and now and show
what each step did."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.cli.common import (
    emit_json,
    err,
    handle_errors,
    out,
    read_data_file,
    run_async,
    store_bound,
    uses_stored_connection,
    values_from,
)
from runtime.cli.state import new_registry, new_runtime
from runtime.errors import ConfigurationError, FlowError
from runtime.flows import load_flow_file


@click.command("validate")
@click.argument("flows", nargs=-1, required=True, type=click.Path())
@handle_errors
def validate_command(flows: tuple[str, ...]) -> None:
    """Check FLOW files without running them; every problem as FILE:LINE:COL: message.

    A directory stands for every *.yaml / *.yml file directly in it (not its subfolders, so
    ``flows/`` leaves the configs and payloads in ``flows/samples/`` out).
    """
    registry = new_registry()
    failed = 0
    for path in _flow_files(flows):
        try:
            flow = load_flow_file(path, registry)
        except FlowError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            continue
        out.print(f"{path}: ok ({flow.name!r}, {len(flow.walk())} steps)", markup=False)
    if failed:
        sys.exit(1)


def _flow_files(given: tuple[str, ...]) -> list[str]:
    files: list[str] = []
    for path in given:
        folder = Path(path)
        if not folder.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            raise ConfigurationError(f"{path}: no *.yaml or *.yml flow in this directory")
        files.extend(str(p) for p in found)
    return files


@click.command("run")
@click.argument("flow_path", metavar="FLOW", type=click.Path(dir_okay=False))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config values (YAML/JSON)."
)
@click.option(
    "--payload",
    "payload_path",
    type=click.Path(dir_okay=False),
    help="Trigger payload (YAML/JSON).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the execution result as JSON.")
@handle_errors
def run_command(
    flow_path: str, config_path: str | None, payload_path: str | None, as_json: bool
) -> None:
    """Run FLOW once, here and now, and show what each step did.

    A config that names a stored connection (``calendly: {use: NAME}``) uses the store, as
    ``relay deploy`` does. ``--json`` prints the same document as ``relay execution --json``.
    """
    from runtime.plain_webhooks import evaluate_secret
    from runtime.results import execution_document

    runtime = new_runtime()
    flow = runtime.load_flow(flow_path)
    config = read_data_file(config_path, "config") or {}
    payload = read_data_file(payload_path, "payload", mapping=False)
    evaluate_secret(flow, config)  # a plain webhook's secret: evaluated as deploy would

    async def main() -> Any:
        try:
            if uses_stored_connection(config):
                async with store_bound(runtime) as bound:
                    return await bound.run(flow, config=config, payload=payload)
            return await runtime.run(flow, config=config, payload=payload)
        finally:
            await runtime.aclose()

    with values_from(config_path):
        result = run_async(main())
    data = execution_document(result.as_dict(), payload=payload)
    if as_json:
        emit_json(data)
    else:
        render_result(data)
    if not result.ok:
        sys.exit(1)


def render_result(data: dict[str, Any]) -> None:
    """The execution document ``data`` as a table of its steps, and its error if any."""
    table = Table(
        "step", "action", "status", "attempts", "ms", title=f"{data['flow']}: {data['status']}"
    )
    for column in table.columns:
        column.overflow = "fold"
    for step in data["steps"]:
        style = {"completed": "green", "failed": "red", "skipped": "dim", "reused": "cyan"}[
            step["status"]
        ]
        table.add_row(
            escape(step["path"]),
            step["action"] or step["kind"],
            f"[{style}]{step['status']}[/{style}]",
            str(step["attempts"] or ""),
            f"{step['duration_ms']:.1f}",
        )
    out.print(table)
    if data["error"]:
        err.print(
            f"error in step {data['error'].get('step')}: {data['error']['message']}", markup=False
        )
