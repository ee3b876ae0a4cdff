"""``relay tokens`` (create shows the token once, list never, revoke by name or id) on a real
store, and the failed-attempt counter on a clock the test moves."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime.cli import CliState, cli
from runtime.management.auth import FailedAttempts
from runtime.store import open_store
from runtime.store.api_tokens import PREFIX, token_hash


def relay(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, list(args), obj=CliState())
    return result.exit_code, result.stdout, result.stderr


def test_tokens_are_shown_once_stored_hashed_and_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    code, out, err = relay(
        home, monkeypatch, "tokens", "create", "--name", "ci", "--scope", "operate"
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith(PREFIX) and len(token) > 40
    assert "shown once" in err

    code, listed, _ = relay(home, monkeypatch, "tokens", "list", "--json")
    assert code == 0
    [row] = json.loads(listed)
    assert row["name"] == "ci" and row["scope"] == "operate" and row["revoked_at"] is None
    code, table, _ = relay(home, monkeypatch, "tokens", "list")
    assert code == 0 and "ci" in table
    assert token not in listed + table

    # the database holds the hash, never the token
    database = (home / "relay.db").read_bytes()
    assert token.encode() not in database
    assert token_hash(token).encode() in database

    code, _out, err = relay(home, monkeypatch, "tokens", "create", "--name", "ci")
    assert code == 1 and "revoke it first" in err

    code, out, _ = relay(home, monkeypatch, "tokens", "revoke", "ci")
    assert code == 0 and row["id"] in out

    async def still_valid() -> object:
        store = await open_store(None, data_dir=home)
        try:
            return await store.api_token_for(token)
        finally:
            await store.close()

    assert asyncio.run(still_valid()) is None
    code, _out, err = relay(home, monkeypatch, "tokens", "revoke", row["id"])
    assert code == 1 and "no API token" in err
    code, _out, err = relay(
        home, monkeypatch, "tokens", "create", "--name", "ci", "--scope", "root"
    )
    assert code != 0 and "--scope" in err


def test_failed_attempts_are_forgotten_after_the_window() -> None:
    now = [1000.0]
    attempts = FailedAttempts(allowed=3, window=60, monotonic=lambda: now[0])
    for _ in range(3):
        assert attempts.retry_after("10.0.0.1") is None
        attempts.failed("10.0.0.1")
        now[0] += 10
    assert attempts.retry_after("10.0.0.1") == 30  # the first failure ages out at 1060
    assert attempts.retry_after("10.0.0.2") is None  # per address
    now[0] = 1060.0
    assert attempts.retry_after("10.0.0.1") is None
    now[0] = 1200.0
    assert attempts.retry_after("10.0.0.1") is None
