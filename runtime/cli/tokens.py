"""``relay tokens``: the management API's tokens. ``create`` prints a new token once (only its
hash is stored); ``list`` never shows one; ``revoke`` ends one by name or id."""

from __future__ import annotations

from typing import Any

import click

from runtime.cli.common import (
    emit_json,
    err,
    handle_errors,
    open_configured_store,
    out,
    run_async,
    when,
)
from runtime.cli.values import rows_text

#: The scopes, smallest first (``runtime.store.api_tokens.SCOPES``; repeated here so that
#: ``relay tokens --help`` does not load the store).
SCOPES = ("read", "operate", "admin")


@click.group("tokens")
def tokens_group() -> None:
    """Management API tokens: create (shown once), list, revoke."""


@tokens_group.command("create")
@click.option("--name", required=True, help="What the token is for (e.g. ci).")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default="read",
    show_default=True,
    help="read sees; operate also cancels and replays; admin also manages.",
)
@handle_errors
def create_command(name: str, scope: str) -> None:
    """Create a token and print it: this is the only time it is shown."""

    async def main() -> str:
        async with open_configured_store() as store:
            _record, secret = await store.create_api_token(name, scope)
            return secret

    secret = run_async(main())
    click.echo(secret)
    err.print(
        f"token {name!r} ({scope}): shown once, store it now (send it as "
        "'Authorization: Bearer <token>')",
        markup=False,
    )


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def list_command(as_json: bool) -> None:
    """Every token's id, name, scope and use (never the token itself)."""

    async def main() -> list[dict[str, Any]]:
        async with open_configured_store() as store:
            return [t.as_dict() for t in await store.list_api_tokens()]

    rows = run_async(main())
    if as_json:
        emit_json(rows)
        return
    for line in rows_text(
        ("id", "name", "scope", "created", "last used", "revoked"),
        (
            (
                r["id"],
                r["name"],
                r["scope"],
                when(r["created_at"]),
                when(r["last_used_at"]) if r["last_used_at"] else "-",
                when(r["revoked_at"]) if r["revoked_at"] else "-",
            )
            for r in rows
        ),
    ):
        out.print(line, markup=False)


@tokens_group.command("revoke")
@click.argument("name_or_id")
@handle_errors
def revoke_command(name_or_id: str) -> None:
    """Revoke the token NAME_OR_ID: requests with it get 401 from now on."""

    async def main() -> Any:
        async with open_configured_store() as store:
            return await store.revoke_api_token(name_or_id)

    revoked = run_async(main())
    out.print(f"revoked token {revoked.name} ({revoked.id})", markup=False)
