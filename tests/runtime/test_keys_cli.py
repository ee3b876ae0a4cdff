"""``relay keys``: fingerprints only, and a rotation after which the old key can be dropped
with every secret (connections, tokens, instance configs, deploy state) still readable."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from relay_backends import store_url
from relay_keys import fresh_key

from runtime.cli import cli
from runtime.oauth import Token
from runtime.store import DecryptionError, Keyring, open_store
from runtime.store.crypto import ENV_KEYS, fingerprint

FLOW = "name: F\ntrigger: {webhook: {}}\nsteps: []\n"
SECRETS = ("client-secret-5d2e9a6b", "signing-key-c0ffee42", "access-1f8b", "refresh-77ae", "pw-9")


async def _put(url: str | None, home: Path) -> None:
    store = await open_store(url, data_dir=home)
    try:
        await store.create_instance("acme", "F", "f.yaml", FLOW, {"s": SECRETS[0]}, "hook")
        await store.set_deploy_state("acme", {"signing_key": SECRETS[1]})
        await store.tokens.save("connection:cal", Token(SECRETS[2], SECRETS[3], 1e9))
        await store.save_connection("cal", "calendly", "oauth", {"clientSecret": SECRETS[4]})
    finally:
        await store.close()


async def _read(url: str | None, home: Path) -> tuple[object, ...]:
    store = await open_store(url, data_dir=home)
    try:
        instance = await store.get_instance("acme")
        token = await store.tokens.load("connection:cal")
        connection = await store.get_connection("cal")
        assert instance is not None and token is not None and connection is not None
        return (
            instance.config["s"],
            instance.deploy_state["signing_key"],
            token.access_token,
            token.refresh_token,
            connection[2]["clientSecret"],
        )
    finally:
        await store.close()


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path))
    monkeypatch.delenv(ENV_KEYS, raising=False)
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    return tmp_path


def test_rotation_with_the_key_file_lets_the_old_key_go(home: Path) -> None:
    asyncio.run(_put(None, home))
    old = Keyring.load(home).keys
    listed = json.loads(invoke("keys", "list", "--json"))
    assert [k["fingerprint"] for k in listed["keys"]] == [fingerprint(old[0])]
    assert listed["keys"][0]["secrets"] == 5 and listed["unreadable"] == 0

    said = invoke("keys", "rotate")
    # an instance (two columns), its first flow version, a token, a connection
    assert "re-encrypted 4 row(s)" in said
    new = Keyring.load(home).keys
    assert len(new) == 2 and new[1] == old[0]
    listed = json.loads(invoke("keys", "list", "--json"))
    assert [k["secrets"] for k in listed["keys"]] == [5, 0]
    shown = said + invoke("keys", "list")
    assert fingerprint(new[0]) in shown and not any(k in shown for k in (*new, *old))

    # drop the old key from the file: every secret still decrypts with the new one alone
    (home / "secret.key").write_text(new[0] + "\n")
    assert asyncio.run(_read(None, home)) == SECRETS
    # and the old key alone no longer opens the store
    (home / "secret.key").write_text(old[0] + "\n")
    with pytest.raises(DecryptionError):
        asyncio.run(_read(None, home))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    with store_url(request.param, home, sqlite="sqlite") as url:
        yield url


def test_rotation_with_keys_from_the_environment(
    database_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = fresh_key(), fresh_key()
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    monkeypatch.setenv(ENV_KEYS, old)
    asyncio.run(_put(database_url, home))
    monkeypatch.setenv(ENV_KEYS, f"{new},{old}")  # the operator puts the new key first
    said = invoke("keys", "rotate")
    assert "re-encrypted 4 row(s)" in said and fingerprint(new) in said
    assert not (home / "secret.key").exists()
    monkeypatch.setenv(ENV_KEYS, new)  # the old key dropped
    assert asyncio.run(_read(database_url, home)) == SECRETS
    listed = json.loads(invoke("keys", "list", "--json"))
    assert listed["source"] == ENV_KEYS and listed["keys"][0]["secrets"] == 5
    assert new not in json.dumps(listed) and old not in os.environ[ENV_KEYS]
