"""Migrations: idempotent opening, and the Alembic head matches ``tables.metadata``."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from relay_backends import schema_url
from relay_backends import store_url as backend_url
from sqlalchemy import create_engine, inspect, text

from runtime.errors import ConfigurationError
from runtime.store import Keyring, open_store
from runtime.store.migrate import alembic_config, current_revision, head_revision
from runtime.store.tables import metadata

from .conftest import make_instance

pytestmark = pytest.mark.asyncio


async def test_opening_twice_is_idempotent(db_url: str, tmp_path: Path, keyring: Keyring) -> None:
    first = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    await make_instance(first)
    await first.close()
    second = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    try:
        assert await current_revision(second.engine) == head_revision() == "0012"
        assert [i.name for i in await second.list_instances()] == ["acme"]
    finally:
        await second.close()


async def test_head_matches_the_tables(db_url: str, tmp_path: Path, keyring: Keyring) -> None:
    store = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    try:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert diff == []
        assert tables == {*metadata.tables, "alembic_version"}
    finally:
        await store.close()


async def test_urls_without_a_driver_and_masked_passwords(pg_schema: str, tmp_path: Path) -> None:
    url = schema_url(pg_schema, driver="postgresql").replace("root@", "root:hunter2@")
    store = await open_store(url, data_dir=tmp_path, keyring=Keyring.generate())
    try:
        assert store.url.startswith("postgresql+psycopg://root:***@127.0.0.1")
        assert "hunter2" not in store.url and "hunter2" not in repr(store)
    finally:
        await store.close()


async def test_an_unreachable_database_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"cannot open the store at postgresql\+psycopg://root:\*\*\*@127.0.0.1:1/",
    ):
        await open_store(
            "postgresql://root:pw@127.0.0.1:1/test", data_dir=tmp_path, keyring=Keyring.generate()
        )


async def test_a_fresh_store_opens_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    """Two processes opening a new SQLite store at once: the second meets a rollback-journal
    database whose write lock the first holds. Switching to WAL then fails at once in SQLite
    (the busy handler is skipped); relay waits it out instead of failing to start."""
    other = sqlite3.connect(tmp_path / "relay.db", isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE first_opener (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO first_opener VALUES (1)")
    releases = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    releases.start()
    try:
        store = await open_store(None, data_dir=tmp_path, keyring=Keyring.generate())
        assert not releases.is_alive()  # it waited for the other writer, then opened
        assert await current_revision(store.engine) == head_revision()
        await store.close()
    finally:
        releases.join()
        other.close()


def older_sqlite(path: Path, revision: str, insert: str, params: dict[str, Any]) -> None:
    """A SQLite database at ``path`` migrated only up to ``revision``, with one ``insert``."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.execute(text(insert), params)
    engine.dispose()


async def test_an_older_store_gains_the_registered_webhook_url(
    tmp_path: Path, keyring: Keyring
) -> None:
    """A 0002 database with an instance upgrades in place: the instance stays, its
    registered URL is unknown (``None``) until recorded."""
    path = tmp_path / "relay.db"
    older_sqlite(
        path,
        "0002",
        "INSERT INTO instances (name, flow_name, flow_path, flow_text, flow_version,"
        " config, webhook_token, deploy_state, created_at)"
        " VALUES ('acme', 'F', 'f.yaml', 'x', 1, :config, 'tok', :state, 1.0)",
        {"config": keyring.encrypt_json({}), "state": keyring.encrypt_json({})},
    )
    store = await open_store(f"sqlite:///{path}", data_dir=tmp_path, keyring=keyring)
    try:
        assert await current_revision(store.engine) == head_revision()
        assert [i.name for i in await store.list_instances()] == ["acme"]
        assert await store.registered_webhook_urls() == {"acme": None}
        await store.record_webhook_url("acme", "http://a.test/webhooks/t")
        assert await store.registered_webhook_urls() == {"acme": "http://a.test/webhooks/t"}
    finally:
        await store.close()


async def test_an_older_store_keeps_a_replays_reused_outputs(
    tmp_path: Path, keyring: Keyring
) -> None:
    """A 0003 database's replay keeps the step outputs it reuses when the column is renamed."""
    path = tmp_path / "relay.db"
    older_sqlite(
        path,
        "0003",
        "INSERT INTO executions (id, instance, flow_text, flow_version, payload, status,"
        " created_at, attempts, reuse_outputs)"
        " VALUES ('e1', NULL, 'x', 1, 'null', 'queued', 1.0, 0, :reused)",
        {"reused": '{"a": {"ok": true}}'},
    )
    store = await open_store(f"sqlite:///{path}", data_dir=tmp_path, keyring=keyring)
    try:
        row = await store.get_execution("e1")
        assert row is not None and row.reused_outputs == {"a": {"ok": True}}
    finally:
        await store.close()


async def test_an_older_stores_deliveries_count_once_and_keep_their_keys(
    tmp_path: Path, keyring: Keyring
) -> None:
    """A 0007 database's deliveries upgrade with ``times_seen`` 1 and their keys: the same
    key again is a duplicate counted on the stored one."""
    path = tmp_path / "relay.db"
    older_sqlite(
        path,
        "0007",
        "INSERT INTO instances (name, flow_name, flow_path, flow_text, flow_version, config,"
        " webhook_token, deploy_state, created_at) VALUES ('acme', 'F', 'f.yaml', 'x', 1,"
        " :config, 'tok', :state, 1.0)",
        {"config": keyring.encrypt_json({}), "state": keyring.encrypt_json({})},
    )
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO deliveries (id, instance, dedupe_key, headers, body, received_at,"
                " execution_id) VALUES ('d1', 'acme', 'body:old', '{}', x'00', 5.0, 'e1')"
            )
        )
    engine.dispose()
    store = await open_store(f"sqlite:///{path}", data_dir=tmp_path, keyring=keyring)
    try:
        assert await current_revision(store.engine) == head_revision()
        again, new = await store.record_delivery("acme", "body:old", {}, b"\x00", 9.0)
        assert (again, new) == ("e1", False)
        [entry] = await store.page_deliveries("acme", None, 10)
        assert (entry.times_seen, entry.last_seen_at, entry.dedupe_key) == (2, 9.0, "body:old")
    finally:
        await store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_the_tallies_gain_their_hours_and_lose_them_again(
    backend: str, tmp_path: Path
) -> None:
    """A 0010 database's finished executions are counted into the sums by hour on the way up
    (the new triggers append the hour), and back into 0009's tallies on the way down."""
    insert = (
        "INSERT INTO executions (id, instance, flow_text, flow_version, payload, status,"
        " created_at, attempts) VALUES (:id, :instance, 'x', 1, 'null', :status, :at, 1)"
    )
    seeded = [
        ("e1", "acme", "completed", 7200.5),
        ("e2", "acme", "completed", 7300.0),
        ("e3", "acme", "failed", 10900.0),
        ("e4", "beta", "running", 7200.0),  # unfinished: never tallied
        ("e5", None, "completed", 7200.0),  # no instance: never tallied
    ]
    with backend_url(backend, tmp_path, sqlite="sqlite") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                command.upgrade(alembic_config(conn), "0010")
                for id_, instance, status, at in seeded:
                    conn.execute(
                        text(insert), {"id": id_, "instance": instance, "status": status, "at": at}
                    )
                command.upgrade(alembic_config(conn), "head")
                sums = "SELECT instance, status, hour, n FROM execution_tally_sums"
                assert sorted(conn.execute(text(sums)).all()) == [
                    ("acme", "completed", 2, 2),
                    ("acme", "failed", 3, 1),
                ]
                conn.execute(text("UPDATE executions SET status = 'failed' WHERE id = 'e2'"))
                tallies = "SELECT instance, status, hour, n FROM execution_tallies"
                assert sorted(conn.execute(text(tallies)).all()) == [
                    ("acme", "completed", 2, -1),
                    ("acme", "failed", 2, 1),
                ]
                command.downgrade(alembic_config(conn), "0010")
                old = "SELECT instance, status, n FROM execution_tallies"
                assert sorted(conn.execute(text(old)).all()) == [
                    ("acme", "completed", 1),
                    ("acme", "failed", 2),
                ]
                conn.execute(text("DELETE FROM executions WHERE id = 'e1'"))  # 0009's trigger
                assert ("acme", "completed", -1) in conn.execute(text(old)).all()
                command.upgrade(alembic_config(conn), "head")
                assert sorted(conn.execute(text(sums)).all()) == [
                    ("acme", "failed", 2, 1),
                    ("acme", "failed", 3, 1),
                ]
        finally:
            engine.dispose()
