"""``relay connections``: the stored connections on the local store, their status, a test
call, deletion and reconnection (never their secrets). The same layer as the API's
``/connections`` (``runtime.management.connection_ops``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from runtime.cli.common import emit_json, err, handle_errors, out, run_async, service, when
from runtime.cli.values import rows_text
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.service import Service

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _on_store(work: Callable[[Service], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with service() as relay:
            return await work(relay)

    return run_async(main())


def _print_list(rows: list[dict[str, Any]]) -> None:
    for line in rows_text(
        ("name", "component", "key", "kind", "status", "expires", "refreshed", "used by"),
        (
            (
                r["name"],
                r["component"],
                r["key"],
                r["kind"],
                r["status"],
                when(r["token_expires_at"]),
                when(r["last_refresh"]),
                ", ".join(r["used_by"]) or "-",
            )
            for r in rows
        ),
    ):
        out.print(line, markup=False)


@click.group("connections", invoke_without_command=True)
@JSON
@click.pass_context
@handle_errors
def connections_group(ctx: click.Context, as_json: bool) -> None:
    """Stored connections (alone: ``list``): name, component, connection key, kind, status
    (connected, expiring, reconnect_needed), token expiry, last refresh, when saved, and the
    instances that use them (never a field or token)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command, as_json=as_json)


@connections_group.command("list")
@JSON
@handle_errors
def list_command(as_json: bool) -> None:
    """List the stored connections with their status."""
    from runtime.management.connection_ops import connection_views

    rows = _on_store(connection_views)
    if as_json:
        emit_json(rows)
    else:
        _print_list(rows)


@connections_group.command("show")
@click.argument("name")
@JSON
@handle_errors
def show_command(name: str, as_json: bool) -> None:
    """Show the stored connection NAME and why it needs attention, if it does."""
    from runtime.management.connection_ops import connection_view

    row = _on_store(lambda relay: connection_view(relay, name))
    if as_json:
        emit_json(row)
        return
    for label, value in (
        ("name", row["name"]),
        ("component", row["component"]),
        ("key", row["key"]),
        ("kind", row["kind"]),
        ("status", row["status"]),
        ("reason", row["reason"] or "-"),
        ("token expires", when(row["token_expires_at"])),
        ("last refresh", when(row["last_refresh"])),
        ("saved", when(row["saved_at"])),
        ("used by", ", ".join(row["used_by"]) or "-"),
    ):
        out.print(f"{label + ':':<15}{value}", markup=False)


@connections_group.command("test")
@click.argument("name")
@JSON
@handle_errors
def test_command(name: str, as_json: bool) -> None:
    """Make a cheap authenticated call with NAME (Calendly: GET /users/me); exit 1 when it
    fails, with what the API answered."""
    from runtime.management.connection_ops import try_connection

    outcome = _on_store(lambda relay: try_connection(relay, name))
    if as_json:
        emit_json(outcome)
    elif outcome["error"] is None:
        out.print(f"connection {name}: ok", markup=False)
    else:
        error = outcome["error"]
        status = f"{error['status']} " if error["status"] else ""
        err.print(
            f"error: connection {name}: {status}{error['title']}: {error['message']}",
            markup=False,
        )
    if outcome["error"] is not None:
        raise SystemExit(1)


@connections_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even while instances use it.")
@JSON
@handle_errors
def delete_command(name: str, force: bool, as_json: bool) -> None:
    """Delete the stored connection NAME and its token (refused while an instance uses it)."""
    from runtime.management.connection_ops import delete_connection

    users = _on_store(lambda relay: delete_connection(relay, name, force=force))
    if as_json:
        emit_json({"name": name, "used_by": users})
        return
    out.print(f"deleted connection {name}", markup=False)
    if users:
        out.print(f"still named by instance(s): {', '.join(users)}", markup=False)


@connections_group.command("reconnect")
@click.argument("name")
@click.option(
    "--timeout", default=300.0, show_default=True, help="Seconds to wait for the browser."
)
@JSON
@handle_errors
def reconnect_command(name: str, timeout: float, as_json: bool) -> None:
    """Authorize the stored connection NAME again (OAuth code flow with state and PKCE, as
    ``relay connect``) with the fields it was stored with; the new token replaces the old.
    Against the sandbox no browser is needed; otherwise open the printed URL and approve
    (the browser comes back to relay's local callback port)."""
    from runtime.cli.ops import _browser_consent
    from runtime.management.connection_ops import connection_view, open_stored

    async def work(relay: Service) -> dict[str, Any]:
        handle = await open_stored(relay, name)
        if handle.declaration.kind != "oauth2":
            raise ConfigurationError(
                f"connection {name!r} is an API key, not OAuth: store a new key with "
                "`relay connect` instead"
            )
        consent = None if handle.endpoints.headless_consent else _browser_consent(timeout)
        await relay.runtime.authorize(handle, consent)
        return await connection_view(relay, name)

    row = _on_store(work)
    if as_json:
        emit_json(row)
    else:
        out.print(f"reconnected {name} ({row['component']}.{row['key']})", markup=False)
