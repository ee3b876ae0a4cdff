"""``relay deliveries NAME``: what an instance was sent, newest first, from the local store:
accepted deliveries (with their duplicates counted), and rejected or ignored ones counted by
reason and minute. The answer to "why did nothing run?"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runtime.cli.common import emit_json, handle_errors, open_configured_store, out, run_async, when
from runtime.cli.values import rows_text
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.store.deliveries import DeliveryEntry


@click.command("deliveries")
@click.argument("name")
@click.option(
    "--outcome",
    type=click.Choice(["accepted", "duplicate", "rejected", "ignored"]),
    help="duplicate: accepted deliveries that arrived more than once.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def deliveries_command(name: str, outcome: str | None, limit: int, as_json: bool) -> None:
    """List what instance NAME was sent, newest first: accepted, duplicate, rejected.

    An accepted delivery shows how often it arrived (``seen``: 2 and more, it has duplicates,
    which ran once) and its execution; rejected and ignored ones are counted by reason and
    minute, never with their bodies. A running server writes its counts about once a second.
    """

    async def main() -> list[DeliveryEntry]:
        async with open_configured_store() as store:
            if await store.get_instance(name) is None:
                raise ConfigurationError(f"no instance named {name!r}")
            found: list[DeliveryEntry] = await store.page_deliveries(
                name,
                outcome,  # type: ignore[arg-type]  # click's choices are the store's outcomes
                limit,
            )
            return found

    entries = run_async(main())
    if as_json:
        emit_json([e.as_dict() for e in entries])
        return
    lines = rows_text(
        ("received", "outcome", "seen", "last seen", "execution", "status", "key or reason"),
        (
            (
                when(e.received_at),
                e.outcome,
                str(e.times_seen),
                when(e.last_seen_at) if e.times_seen > 1 else "",
                e.execution_id or "",
                e.execution_status or (str(e.status) if e.status is not None else ""),
                (e.dedupe_key or "-") if e.outcome == "accepted" else (e.reason or ""),
            )
            for e in entries
        ),
    )
    for line in lines:
        out.print(line, markup=False)
