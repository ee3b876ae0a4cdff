"""``relay executions``, ``relay execution`` and ``relay replay``: what ran, by whole id or a
unique prefix of one; the same execution document ``relay run --json`` prints."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.cli.common import emit_json, err, handle_errors, out, run_async, service, when
from runtime.cli.values import finite, rows_text
from runtime.errors import ConfigurationError
from runtime.results import execution_document
from runtime.running import progress

if TYPE_CHECKING:
    from runtime.service import Service


@click.command("executions")
@click.option("--instance")
@click.option(
    "--status",
    type=click.Choice(["pending", "held", "running", "waiting", "completed", "failed", "canceled"]),
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def executions_command(instance: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List recent executions, newest first (whole ids)."""

    async def main() -> list[Any]:
        async with service() as relay:
            rows = await relay.store.list_executions(instance=instance, status=status, limit=limit)
            unknown = instance is not None and not rows
            if unknown and await relay.store.get_instance(str(instance)) is None:
                raise ConfigurationError(f"--instance: no instance named {instance!r}")
            return rows

    rows = run_async(main())
    if as_json:
        emit_json([_row_summary(r) for r in rows])
        return
    lines = rows_text(
        ("id", "status", "created", "ms", "instance", "replay of", "wakes"),
        (
            (
                row.id,
                row.status,
                when(row.created_at),
                str(_row_summary(row)["duration_ms"] or "-"),
                row.instance or "-",
                row.replay_of or "",
                when(row.wake_at) if row.status == "waiting" and row.wake_at else "",
            )
            for row in rows
        ),
    )
    for line in lines:
        out.print(line, markup=False)


def _row_summary(row: Any) -> dict[str, Any]:
    result = row.result or {}
    return {
        "id": row.id,
        "instance": row.instance,
        "status": row.status,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "duration_ms": result.get("duration_ms"),
        "replay_of": row.replay_of,
        "error": result.get("error"),
        "wake_at": row.wake_at if row.status == "waiting" else None,
    }


async def find_execution(relay: Service, given: str) -> Any:
    """The execution whose id is ``given`` or starts with it (one line when none or several)."""
    row = await relay.store.get_execution(given)
    if row is not None:
        return row
    count, ids = await relay.store.executions_with_prefix(given.lower(), limit=1)
    if count == 0:
        raise ConfigurationError(f"no execution {given!r}")
    if count > 1:
        raise ConfigurationError(
            f"execution id {given!r} is ambiguous: {count} executions start with it "
            "(give more of the id)"
        )
    return await relay.store.get_execution(ids[0])


@click.command("execution")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def execution_command(execution_id: str, as_json: bool) -> None:
    """Show one execution (ID or a unique prefix): its step timeline with inputs and outputs.

    ``--json`` prints the same document as ``relay run --json``.
    """

    async def main() -> tuple[Any, list[dict[str, Any]]]:
        async with service() as relay:
            row = await find_execution(relay, execution_id)
            steps: list[dict[str, Any]] = []
            if row.result is None:  # not finished: the steps checkpointed so far
                steps = progress(await relay.store.load_checkpoints(row.id))
            return row, steps

    row, so_far = run_async(main())
    data = execution_document(
        row.result or {"steps": so_far},
        payload=row.payload,
        id=row.id,
        instance=row.instance,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        replay_of=row.replay_of,
    )
    if as_json:
        emit_json(data)
        return
    heading = f"{row.id}  {row.instance}  {row.status}"
    if row.status == "waiting" and row.wake_at:
        heading += f" until {when(row.wake_at)}"
    if row.cancel_requested and row.status == "running":
        heading += " (cancel requested)"
    out.print(heading, markup=False)
    table = Table("step", "action", "status", "attempts", "run", "ms", "inputs", "output / error")
    for column in table.columns:
        column.overflow = "fold"
    first_run = min((s["claim"] for s in data["steps"] if s.get("claim")), default=None)
    for step in data["steps"]:
        detail = step.get("error") or step.get("output")
        table.add_row(
            escape(step["path"]),
            step.get("action") or step["kind"],
            step["status"],
            str(step.get("attempts") or ""),
            _run_of(step.get("claim"), first_run),
            f"{step.get('duration_ms', 0):.1f}",
            _short(step.get("inputs")),
            _short(detail),
        )
    out.print(table)
    error = data["error"]
    if error:
        out.print(f"error: {error.get('message')}", markup=False)


def _run_of(claim: int | None, first: int | None) -> str:
    """Which claim of the execution ran the step; a later claim than the first is a resume
    (after a crash, a lost lease or a wait)."""
    if claim is None:
        return ""
    return f"{claim} resumed" if first is not None and claim > first else str(claim)


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = json.dumps(finite(value), default=str)
    return escape(text if len(text) <= width else text[: width - 1] + "…")


@click.command("cancel")
@click.argument("execution_id")
@handle_errors
def cancel_command(execution_id: str) -> None:
    """Cancel an execution (ID or a unique prefix): waiting or pending ones at once.

    A running one stops at its next step. Exits 1 when it had already finished.
    """

    async def main() -> tuple[str, str, str]:
        async with service() as relay:
            row = await find_execution(relay, execution_id)
            outcome = await relay.cancel(row.id)
            if outcome == "finished":
                row = await relay.store.get_execution(row.id)
            return row.id, outcome, row.status

    found, outcome, status = run_async(main())
    if outcome == "canceled":
        out.print(f"canceled {found}", markup=False)
    elif outcome == "requested":
        out.print(f"cancel requested: {found} stops at its next step", markup=False)
    else:
        err.print(f"execution {found} is already {status}: nothing to cancel", markup=False)
        sys.exit(1)


@click.command("replay")
@click.argument("execution_id")
@click.option("--from-step", help="Reuse the recorded outputs of the top-level steps before it.")
@click.option(
    "--flow-version",
    type=click.Choice(["original", "current"]),
    default="original",
    show_default=True,
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Run it here and wait.")
@handle_errors
def replay_command(execution_id: str, from_step: str | None, flow_version: str, wait: bool) -> None:
    """Run a recorded execution (ID or a unique prefix) again with the same trigger payload.

    Exits 1 when the replay ran and did not complete.
    """

    async def main() -> tuple[str, str | None, Any]:
        async with service() as relay:
            original = await find_execution(relay, execution_id)
            new_id = await relay.replay(original.id, from_step=from_step, flow_version=flow_version)
            status = await relay.execute(new_id, "cli") if wait else None
            row = await relay.store.get_execution(new_id) if wait else None
            return new_id, status, row

    new_id, status, row = run_async(main())
    out.print(f"replay {new_id}" + (f": {status}" if status else " recorded"), markup=False)
    if wait and status not in ("completed", "waiting"):
        error = ((row.result if row is not None else None) or {}).get("error") or {}
        if error:
            err.print(f"error in step {error.get('step')}: {error.get('message')}", markup=False)
        sys.exit(1)
