"""Where the store lives, and what happens when it is not where it was: relay refuses to start
empty beside data it expects, notices a database moved away while open, and names a corrupt or
failing database in one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from relay_keys import fresh_key
from sqlalchemy import event

from runtime.errors import ConfigurationError
from runtime.store import DecryptionError, StoreUnavailable, open_store
from runtime.store.crypto import ENV_KEYS
from runtime.store.db import default_data_dir
from runtime.store.values import dumps, loads

from .conftest import group_of, make_instance


@pytest.fixture(autouse=True)
def _keys_from_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEYS, raising=False)


async def _store_with_data(home: Path) -> None:
    store = await open_store(data_dir=home)
    try:
        await make_instance(store)
        await store.create_execution("acme", "flow", 1, {"n": 1})
    finally:
        await store.close()


def test_the_default_home_is_per_user_not_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RELAY_HOME", raising=False)
    assert default_data_dir() == Path(platformdirs.user_data_dir("relay"))
    assert default_data_dir().is_absolute()
    monkeypatch.setenv("RELAY_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path


@pytest.mark.asyncio
async def test_a_key_file_beside_a_missing_database_is_refused(tmp_path: Path) -> None:
    await _store_with_data(tmp_path)
    (tmp_path / "relay.db").rename(tmp_path.parent / f"{tmp_path.name}-moved.db")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"relay.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(ConfigurationError, match=r"key file .*secret.key exists but the database"):
        await open_store(data_dir=tmp_path)
    assert not (tmp_path / "relay.db").exists()  # nothing was made in its place


@pytest.mark.asyncio
async def test_a_key_file_beside_a_new_database_is_refused_every_time(tmp_path: Path) -> None:
    await _store_with_data(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"relay.db{suffix}").unlink(missing_ok=True)
    (tmp_path / "relay.db").touch()  # an empty file where the database was
    for _ in range(2):  # the refused attempt left no empty schema behind to start on next time
        with pytest.raises(ConfigurationError, match="is new: was RELAY_HOME moved"):
            await open_store(data_dir=tmp_path)


@pytest.mark.asyncio
async def test_encrypted_data_without_its_key_file_is_refused(tmp_path: Path) -> None:
    await _store_with_data(tmp_path)
    (tmp_path / "secret.key").unlink()
    with pytest.raises(ConfigurationError, match="holds encrypted secrets but the key file"):
        await open_store(data_dir=tmp_path)
    assert not (tmp_path / "secret.key").exists()  # no new key beside the old data


@pytest.mark.asyncio
async def test_a_key_file_is_made_with_a_new_store_only(tmp_path: Path) -> None:
    store = await open_store(data_dir=tmp_path)
    await store.close()
    assert (tmp_path / "secret.key").exists()
    # a store that holds no secret yet may get its key file again
    (tmp_path / "secret.key").unlink()
    store = await open_store(data_dir=tmp_path)
    await store.close()
    assert (tmp_path / "secret.key").exists()


@pytest.mark.asyncio
async def test_keys_that_cannot_decrypt_the_store_are_refused_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _store_with_data(tmp_path)
    monkeypatch.setenv(ENV_KEYS, fresh_key())
    with pytest.raises(DecryptionError) as caught:
        await open_store(data_dir=tmp_path)
    message = str(caught.value)
    assert "relay.db" in message and ENV_KEYS in message and "\n" not in message


@pytest.mark.asyncio
async def test_a_database_moved_away_while_open_is_noticed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = await open_store(data_dir=home)
    try:
        assert store.gone() is None
        home.rename(tmp_path / "elsewhere")
        reason = store.gone()
        assert reason is not None and "moved, deleted or replaced" in reason
        (tmp_path / "elsewhere").rename(home)
        assert store.gone() is None
    finally:
        await store.close()


def _corrupt(path: Path) -> None:
    """Garbage over the executions' leaf pages (found with SQLite's ``dbstat``): the schema
    still reads, the executions do not."""
    with sqlite3.connect(path) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            n
            for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'executions' AND pagetype = 'leaf'"
            )
        ]
    assert pages, "the executions table has no leaf pages to corrupt"
    with path.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(b"\xff" * size)


@pytest.mark.asyncio
async def test_a_corrupt_database_is_one_line_naming_the_file(tmp_path: Path) -> None:
    store = await open_store(data_dir=tmp_path)
    try:
        await make_instance(store)
        for n in range(200):
            await store.create_execution("acme", "flow" * 50, 1, {"n": n, "pad": "x" * 200})
    finally:
        await store.close()
    # fold the WAL in so the garbage lands on the data itself
    with sqlite3.connect(tmp_path / "relay.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _corrupt(tmp_path / "relay.db")
    store = await open_store(data_dir=tmp_path)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.check_integrity()
        assert str(tmp_path / "relay.db") in str(caught.value)
        assert "not a relay database or corrupt" in str(caught.value)
        with pytest.raises(StoreUnavailable, match="not a relay database or corrupt"):
            await store.list_executions(limit=1000)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_store_faults_are_one_line_relay_errors(tmp_path: Path) -> None:
    """A full or read-only disk, injected at the SQLite layer: both write paths (SQLAlchemy and
    group commit) raise ``StoreUnavailable`` naming the file."""
    store = await open_store(data_dir=tmp_path)
    await make_instance(store)

    def full(*_args: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    event.listen(store.engine.sync_engine, "before_cursor_execute", full)
    try:
        with pytest.raises(StoreUnavailable, match=r"relay.db: .*disk is full"):
            await store.list_instances()
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", full)
    group = group_of(store)
    assert group is not None

    def read_only(_conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    with pytest.raises(StoreUnavailable, match=r"relay.db: .*readonly"):
        await group.run(read_only)
    # a constraint violation stays what it is: callers handle those
    with pytest.raises(ConfigurationError, match="already exists"):
        await make_instance(store)
    await store.close()


@given(st.recursive(st.text(), lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids)))
def test_any_text_survives_a_column_as_valid_unicode(value: Any) -> None:
    text = dumps(value)
    assert text.isascii()
    back = loads(text)
    json.dumps(back, ensure_ascii=False).encode("utf-8")  # no lone surrogate is left

    def fixed(v: Any) -> Any:
        if isinstance(v, str):
            return v.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        if isinstance(v, list):
            return [fixed(x) for x in v]
        if isinstance(v, dict):
            return {fixed(k): fixed(x) for k, x in v.items()}
        return v

    assert back == fixed(value)


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    assert loads(dumps({"name": "\ud800", "ok": "\U0001f600"})) == {
        "name": "\ufffd",
        "ok": "\U0001f600",
    }
    assert loads(dumps(["a\\ud800"])) == ["a\\ud800"]  # an escaped backslash is just text
