"""``relay executions``, ``relay execution`` and ``relay replay``: what ran, by whole id or a
unique prefix of one; the same execution document ``relay run --json`` prints."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.cli.common import (
    emit_json,
    err,
    handle_errors,
    open_configured_store,
    out,
    run_async,
    service,
    when,
)
from runtime.cli.values import finite, rows_text
from runtime.durations import parse_duration
from runtime.errors import ConfigurationError
from runtime.events import EventFeed
from runtime.management.bulk import BULK_MAX, BulkFilter, bulk_replay
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
@click.option(
    "--follow",
    is_flag=True,
    help="Print execution events as they happen (from now) until Ctrl-C.",
)
@handle_errors
def executions_command(
    instance: str | None, status: str | None, limit: int, as_json: bool, follow: bool
) -> None:
    """List recent executions, newest first (whole ids).

    ``--follow`` prints what happens to executions (of ``--instance``) as it happens, until
    Ctrl-C."""
    if follow:
        if status is not None:
            raise ConfigurationError("--follow shows every status: leave out --status")
        follow_events(instance, as_json)
        return

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
@click.argument("execution_id", required=False)
@click.option("--from-step", help="Reuse the recorded outputs of the top-level steps before it.")
@click.option(
    "--flow-version",
    type=click.Choice(["original", "current"]),
    default="original",
    show_default=True,
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Run it here and wait.")
@click.option("--failed", is_flag=True, help="Replay the failed executions of --instance.")
@click.option(
    "--status",
    type=click.Choice(["completed", "failed", "canceled"]),
    help="Replay the executions of --instance with this status.",
)
@click.option("--instance", help="The instance whose executions to replay.")
@click.option("--since", help="Recorded after: ISO 8601 (UTC when no offset) or an age (1h, 7d).")
@click.option("--until", help="Recorded before: ISO 8601 or an age.")
@click.option("--error", "error_text", help="Only those whose error message holds this text.")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, BULK_MAX), help="At most."
)
@click.option("--dry-run", is_flag=True, help="Count and list what would be replayed.")
@handle_errors
def replay_command(
    execution_id: str | None,
    from_step: str | None,
    flow_version: str,
    wait: bool,
    failed: bool,
    status: str | None,
    instance: str | None,
    since: str | None,
    until: str | None,
    error_text: str | None,
    limit: int,
    dry_run: bool,
) -> None:
    """Run a recorded execution (ID or a unique prefix) again with the same trigger payload.

    Without an ID, replay every execution of an instance a filter selects (``--failed
    --instance X --since T``; ``--dry-run`` counts and lists them first).

    Exits 1 when a replay ran and did not complete.
    """
    filtered = failed or status or instance or since or until or error_text or dry_run
    if execution_id is not None and filtered:
        raise ConfigurationError(
            "give an execution ID or a filter (--failed/--status, --instance, --since, "
            "--until, --error, --dry-run), not both"
        )
    if execution_id is None:
        if not filtered:
            raise ConfigurationError(
                "give an execution ID, or a filter: relay replay --failed --instance NAME "
                "[--since T] [--dry-run]"
            )
        if failed and status not in (None, "failed"):
            raise ConfigurationError("--failed is --status failed: give one of them")
        if instance is None:
            raise ConfigurationError("--instance: a bulk replay needs the instance to replay")
        where = BulkFilter(
            instance=instance,
            status=status or "failed",
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            error=error_text,
            limit=limit,
        )
        _bulk(where, from_step, flow_version, wait, dry_run)
        return

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


def _moment(given: str | None, option: str) -> float | None:
    """``--since``/``--until`` as UNIX seconds: an ISO 8601 time (UTC when it has no offset)
    or an age (``1h``: an hour ago)."""
    if given is None:
        return None
    try:
        return time.time() - parse_duration(given)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise ConfigurationError(
            f"{option}={given!r} is neither an ISO 8601 time (2025-01-31T09:00) nor an age (1h, 7d)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _bulk(
    where: BulkFilter, from_step: str | None, flow_version: str, wait: bool, dry: bool
) -> None:
    async def main() -> tuple[Any, list[tuple[str, str | None]]]:
        async with service() as relay:
            if await relay.store.get_instance(where.instance) is None:
                raise ConfigurationError(f"--instance: no instance named {where.instance!r}")
            outcome = await bulk_replay(
                relay, where, from_step=from_step, flow_version=flow_version, dry_run=dry
            )
            ran = []
            for new_id, _original in outcome.replays:
                ran.append((new_id, await relay.execute(new_id, "cli") if wait else None))
            return outcome, ran

    outcome, ran = run_async(main())
    more = " (more match: narrow --since/--until or raise --limit)" if outcome.more else ""
    if dry:
        out.print(f"would replay {len(outcome.chosen)} executions{more}", markup=False)
        for chosen in outcome.chosen:
            out.print(chosen, markup=False)
        return
    for original, reason in outcome.refused:
        err.print(f"not replayed {original}: {reason}", markup=False)
    for (new_id, original), (_, status) in zip(outcome.replays, ran, strict=True):
        shown = f": {status}" if status else " recorded"
        out.print(f"replay {new_id} of {original}{shown}", markup=False)
    out.print(f"replayed {len(outcome.replays)} executions{more}", markup=False)
    if outcome.refused or (wait and any(s not in ("completed", "waiting") for _, s in ran)):
        sys.exit(1)


def follow_events(instance: str | None, as_json: bool) -> None:
    """Print the local store's execution events as they happen, until Ctrl-C (exit 0)."""

    async def main() -> None:
        async with open_configured_store() as store:
            if instance is not None and await store.get_instance(instance) is None:
                raise ConfigurationError(f"--instance: no instance named {instance!r}")
            feed = EventFeed(store, instance=instance)
            err.print("following execution events (Ctrl-C to stop)", markup=False)
            async for batch in feed.batches():
                for event, _cursor in batch:
                    if as_json:  # one line each (click flushes each: a pipe sees it at once)
                        click.echo(json.dumps(event.as_dict(), separators=(",", ":")))
                        continue
                    step = f" {event.path} {event.step_status}" if event.kind == "step" else ""
                    click.echo(
                        f"{when(event.at)}  {event.execution_id}  {event.instance or '-'}  "
                        f"{event.kind} {event.status}{step}"
                    )

    try:
        run_async(main())
    except KeyboardInterrupt:
        return
