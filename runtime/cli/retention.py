"""``relay prune``: delete the finished executions a retention policy no longer keeps."""

from __future__ import annotations

import time

import click

from runtime.cli.common import emit_json, handle_errors, out, run_async, service
from runtime.errors import ConfigurationError
from runtime.store.retention import Pruned, RetentionPolicy


@click.command("prune")
@click.option(
    "--policy",
    help="e.g. completed=30d,failed=90d,keep=10000 (default: RELAY_RETENTION).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def prune_command(policy: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete finished executions older than the retention policy (or beyond its count).

    Their step records and delivery bodies go with them; unfinished ones are never deleted.
    """
    from runtime.server.pruning import retention_from_env

    chosen = RetentionPolicy.parse(policy, "--policy") if policy else retention_from_env()
    if chosen is None or chosen.empty:
        raise ConfigurationError(
            "no retention policy: give --policy (e.g. completed=30d,failed=90d,keep=10000) "
            "or set RELAY_RETENTION"
        )

    async def main() -> Pruned:
        async with service() as relay:
            return await relay.store.prune(chosen, time.time(), dry_run=dry_run)

    pruned = run_async(main())
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "total": pruned.total,
                "by_age": pruned.by_age,
                "beyond_keep": pruned.beyond_keep,
            }
        )
        return
    parts = [f"{status}: {count}" for status, count in pruned.by_age.items()]
    if chosen.keep is not None:
        parts.append(f"beyond keep={chosen.keep}: {pruned.beyond_keep}")
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {pruned.total} executions ({', '.join(parts)})", markup=False)
