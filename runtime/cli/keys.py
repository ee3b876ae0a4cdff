"""``relay keys``: the keys that encrypt secrets at rest (listed by fingerprint, rotated).

Keys themselves are never printed: a fingerprint names each one. ``rotate`` re-encrypts every
encrypted column (connections, tokens, instance configs, deploy state: whatever
``runtime.store.tables`` marks encrypted) under the newest key in one transaction; with the key
file it first adds a new key (written to the file before any row changes), with
``RELAY_SECRET_KEYS`` the new key is the one the operator put first there.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from runtime.cli.common import emit_json, handle_errors, open_configured_store, out, run_async


@click.group("keys")
def keys_group() -> None:
    """The keys that encrypt stored secrets: list them, rotate them."""


async def _usage() -> dict[str, Any]:
    from runtime.store.crypto import ENV_KEYS

    async with open_configured_store() as store:
        counts, unreadable = await store.key_usage()
        ring = store.keyring
        source = str(ring.path) if ring.path is not None else ENV_KEYS
        return {
            "source": source,
            "keys": [
                {"fingerprint": fp, "newest": n == 0, "secrets": counts[n]}
                for n, fp in enumerate(ring.fingerprints)
            ],
            "unreadable": unreadable,
        }


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def list_command(as_json: bool) -> None:
    """Each key's fingerprint, newest first, with how many stored secrets it decrypts
    (a key that decrypts none, other than the newest, can be removed)."""
    data = run_async(_usage())
    if as_json:
        emit_json(data)
        return
    table = Table("fingerprint", "used for", "secrets", title=f"keys from {data['source']}")
    for key in data["keys"]:
        table.add_row(
            key["fingerprint"], "new writes" if key["newest"] else "reading", str(key["secrets"])
        )
    out.print(table)


@keys_group.command("rotate")
@handle_errors
def rotate_command() -> None:
    """Re-encrypt every stored secret under the newest key, in one transaction.

    With the key file, a new key is generated and put first in the file. With
    RELAY_SECRET_KEYS, put the new key first there before running this. Restart every other
    relay process before removing an old key: until then they encrypt under the keys they
    started with."""

    async def main() -> tuple[int, str, list[str]]:
        async with open_configured_store() as store:
            from_file = store.keyring.path is not None
            rows = await store.rotate_keys(add=from_file)
            fingerprints = list(store.keyring.fingerprints)
            return rows, fingerprints[0], fingerprints[1:]

    rows, newest, older = run_async(main())
    out.print(f"re-encrypted {rows} row(s) under key {newest}", markup=False)
    if older:
        out.print(
            f"older keys ({', '.join(older)}) are no longer needed by stored secrets; remove them "
            "once every relay process has restarted",
            markup=False,
        )
