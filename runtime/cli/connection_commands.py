"""``relay connections``: list the stored connections, or delete one (never their secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from runtime.cli.common import emit_json, handle_errors, out, run_async, service, when
from runtime.cli.values import rows_text
from runtime.errors import ConfigurationError

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads only for the commands that use it
    from runtime.registry import Registry
    from runtime.store import Instance


def users_of(name: str, instances: list[Instance]) -> list[str]:
    """The instances whose config names the stored connection ``name`` (``{use: NAME}``)."""
    return [
        i.name
        for i in instances
        if any(isinstance(v, dict) and v.get("use") == name for v in i.config.values())
    ]


def _kind(registry: Registry, component: str, key: str) -> str:
    registered = registry.get(component)
    declared = registered.component.connection(key) if registered is not None else None
    return declared.kind if declared is not None else "unknown (component not installed)"


@click.group("connections", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def connections_group(ctx: click.Context, as_json: bool) -> None:
    """List stored connections: name, component, connection key, kind, when saved (stored or
    last replaced), and the instances that use them (never a field or token)."""
    if ctx.invoked_subcommand is not None:
        return

    async def main() -> list[dict[str, Any]]:
        async with service() as relay:
            instances = await relay.store.list_instances()
            return [
                {
                    "name": row["name"],
                    "component": row["component"],
                    "key": row["connection"],
                    "kind": _kind(relay.runtime.registry, row["component"], row["connection"]),
                    "saved_at": row["saved_at"],
                    "used_by": users_of(row["name"], instances),
                }
                for row in await relay.store.connection_rows()
            ]

    rows = run_async(main())
    if as_json:
        emit_json(rows)
        return
    for line in rows_text(
        ("name", "component", "key", "kind", "saved", "used by"),
        (
            (
                r["name"],
                r["component"],
                r["key"],
                r["kind"],
                when(r["saved_at"]),
                ", ".join(r["used_by"]) or "-",
            )
            for r in rows
        ),
    ):
        out.print(line, markup=False)


@connections_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even while instances use it.")
@handle_errors
def delete_command(name: str, force: bool) -> None:
    """Delete the stored connection NAME and its token (refused while an instance uses it)."""

    async def main() -> list[str]:
        async with service() as relay:
            names = {row["name"] for row in await relay.store.connection_rows()}
            if name not in names:
                raise ConfigurationError(f"no stored connection {name!r}")
            users = users_of(name, await relay.store.list_instances())
            if users and not force:
                raise ConfigurationError(
                    f"connection {name!r} is used by instance(s) {', '.join(users)}: undeploy "
                    "them first, or --force (their executions then fail until it is connected "
                    "again)"
                )
            await relay.store.delete_connection(name)
            return users

    users = run_async(main())
    out.print(f"deleted connection {name}", markup=False)
    if users:
        out.print(f"still named by instance(s): {', '.join(users)}", markup=False)
