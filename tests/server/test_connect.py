"""`relay connect`: the authorization-code flow (state + PKCE) stores an encrypted connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from relay_sandbox_process import loopback_sandbox

from runtime import open_store
from runtime.cli import cli


def test_connect_against_the_sandbox_stores_fields_and_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    config = tmp_path / "conn.yaml"
    with loopback_sandbox(tmp_path) as sandbox_url:  # an in-process sandbox is refused
        config.write_text(
            "clientId: sandbox-client-id\nclientSecret: sandbox-client-secret\nuseLiveServer: false\n"
            f"sandboxUrl: {sandbox_url}\n"
        )
        result = CliRunner().invoke(
            cli, ["connect", "calendly", "--config", str(config), "--name", "cal"]
        )
    assert result.exit_code == 0, result.output
    assert "connected cal (calendly.calendlyOauth2Connection, oauth2)" in result.output
    assert "sandbox-client-secret" not in result.output

    async def stored() -> tuple[object, object]:
        store = await open_store(None, data_dir=tmp_path)
        try:
            return await store.get_connection("cal"), await store.tokens.load("connection:cal")
        finally:
            await store.close()

    connection, token = asyncio.run(stored())
    assert connection == (
        "calendly",
        "calendlyOauth2Connection",
        {
            "clientId": "sandbox-client-id",
            "clientSecret": "sandbox-client-secret",
            "useLiveServer": False,
            "authorizeUrl": "https://auth.calendly.com/oauth/authorize",
            "scopes": "default",
            "tokenUrl": "https://auth.calendly.com/oauth/token",
            "sandboxUrl": sandbox_url,
        },
    )
    assert token is not None
    assert b"sandbox-client-secret" not in (tmp_path / "relay.db").read_bytes()


def test_connect_with_bad_fields_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path))
    config = tmp_path / "conn.yaml"
    config.write_text("clientId: 5\nuseLiveServer: maybe\n")
    result = CliRunner().invoke(cli, ["connect", "calendly", "--config", str(config)])
    assert result.exit_code == 1
    assert "$.calendly.clientSecret: is required" in result.output
    assert "Traceback" not in result.output
