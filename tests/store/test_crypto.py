"""Secrets at rest: never in clear in the database, rotation, and the key file's rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from relay_backends import pg_rows
from relay_keys import fresh_key

from runtime.errors import ConfigurationError
from runtime.oauth import Token
from runtime.store import DecryptionError, Keyring, Store, open_store
from runtime.store.crypto import ENV_KEYS
from runtime.store.tables import metadata

from .conftest import FLOW

pytestmark = pytest.mark.asyncio

ACCESS = "access-token-1f8b3c9d"
REFRESH = "refresh-token-77ae01c4"
CLIENT_SECRET = "client-secret-5d2e9a6b"
SIGNING_KEY = "signing-key-c0ffee42"
SECRETS = (ACCESS, REFRESH, CLIENT_SECRET, SIGNING_KEY)


async def put_secrets(store: Store) -> None:
    config = {"calendly": {"clientId": "cid", "clientSecret": CLIENT_SECRET}, "org": "o"}
    await store.create_instance("acme", "F", "f.yaml", FLOW, config, "hook-token")
    await store.set_deploy_state("acme", {"subscription": "uri:1", "signing_key": SIGNING_KEY})
    await store.tokens.save("calendly:acme", Token(ACCESS, REFRESH, 1e9))


async def read_secrets(store: Store) -> tuple[object, ...]:
    instance = await store.get_instance("acme")
    assert instance is not None
    token = await store.tokens.load("calendly:acme")
    assert token is not None
    return (
        instance.config["calendly"]["clientSecret"],
        instance.deploy_state["signing_key"],
        token.access_token,
        token.refresh_token,
    )


def visible_secrets(backend: str, db_url: str, tmp_path: Path) -> list[str]:
    """Which secrets can be read from the database without relay (raw bytes / raw rows)."""
    if backend == "sqlite":
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))  # with -wal, -shm
    else:
        schema = db_url.rsplit("%3D", 1)[1]
        raw = b""
        for table in metadata.tables:
            for row in pg_rows(schema, f"SELECT * FROM {table}"):
                raw += b"|".join(
                    bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row
                )
    return [s for s in SECRETS if s.encode() in raw]


async def test_secrets_are_encrypted_at_rest(
    store: Store, backend: str, db_url: str, tmp_path: Path
) -> None:
    await put_secrets(store)
    assert await read_secrets(store) == (CLIENT_SECRET, SIGNING_KEY, ACCESS, REFRESH)
    assert visible_secrets(backend, db_url, tmp_path) == []
    await store.close()  # SQLite checkpoints the WAL into the main file on close
    assert visible_secrets(backend, db_url, tmp_path) == []


async def test_the_check_above_would_see_clear_text(
    store: Store, backend: str, db_url: str, tmp_path: Path
) -> None:
    """Control: the same secret stored unencrypted (as a cursor) is found by the check."""
    await store.set_cursor("acme", ACCESS)
    await store.close()
    assert visible_secrets(backend, db_url, tmp_path) == [ACCESS]


async def test_rotation_reencrypts_every_secret(db_url: str, tmp_path: Path) -> None:
    old_key = fresh_key()
    store = await open_store(db_url, data_dir=tmp_path, keyring=Keyring([old_key]))
    try:
        await put_secrets(store)
        await store.create_instance("beta", "F", "f.yaml", FLOW, {"x": 1}, "hook-beta")
        new_key = fresh_key()
        assert await store.rotate_keys(new_key) == 5  # two instances, their flow versions, a token
        assert store.keyring.keys == (new_key, old_key)
        assert await read_secrets(store) == (CLIENT_SECRET, SIGNING_KEY, ACCESS, REFRESH)
    finally:
        await store.close()

    # the old key alone no longer opens the store: refused at once, naming the database
    with pytest.raises(DecryptionError, match="cannot be decrypted with the configured keys"):
        await open_store(db_url, data_dir=tmp_path, keyring=Keyring([old_key]))

    fresh = await open_store(db_url, data_dir=tmp_path, keyring=Keyring([new_key]))
    try:
        assert await read_secrets(fresh) == (CLIENT_SECRET, SIGNING_KEY, ACCESS, REFRESH)
    finally:
        await fresh.close()


async def test_key_file_is_created_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEYS, raising=False)
    store = await open_store(data_dir=tmp_path / "home")
    try:
        key_file = tmp_path / "home" / "secret.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert store.url == f"sqlite+aiosqlite:///{tmp_path / 'home' / 'relay.db'}"
        await put_secrets(store)
        assert Keyring.load(tmp_path / "home").keys == store.keyring.keys
        assert store.keyring.keys[0] not in repr(store.keyring)

        # rotation rewrites the file first, still private; a neighbour picks the key up
        neighbour = await open_store(data_dir=tmp_path / "home")
        assert await store.rotate_keys() == 3  # an instance, its flow version, a token
        assert len(Keyring.load(tmp_path / "home").keys) == 2
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert await read_secrets(neighbour) == (CLIENT_SECRET, SIGNING_KEY, ACCESS, REFRESH)
        await neighbour.close()
    finally:
        await store.close()


async def test_a_readable_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEYS, raising=False)
    Keyring.load(tmp_path)
    key_file = tmp_path / "secret.key"
    os.chmod(key_file, 0o644)
    with pytest.raises(
        ConfigurationError, match=r"accessible by group or others \(mode 0644\).*chmod 600"
    ):
        await open_store(data_dir=tmp_path)
    os.chmod(key_file, 0o640)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        Keyring.load(tmp_path)


async def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = fresh_key(), fresh_key()
    monkeypatch.setenv(ENV_KEYS, f" {new} , {old} ")
    ring = Keyring.load(tmp_path)
    assert ring.keys == (new, old)
    assert not (tmp_path / "secret.key").exists()  # no key file when the environment has keys
    assert Keyring([old]).decrypt(Keyring([old]).encrypt(b"x")) == b"x"
    assert ring.decrypt(Keyring([old]).encrypt(b"old data")) == b"old data"
    with pytest.raises(ConfigurationError, match="pass the new key explicitly"):
        ring.add_key()
    monkeypatch.setenv(ENV_KEYS, "not-a-key")
    with pytest.raises(ConfigurationError, match="invalid secret key"):
        Keyring.load(tmp_path)
