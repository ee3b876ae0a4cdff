"""Flow versions, pause and resume on both backends and both write paths: versions kept with
their encrypted config, a redeploy that lost a race refused, deliveries to a paused instance
held (never claimable), resume releasing each once in the order recorded, even while
deliveries keep arriving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import ConfigurationError, NotFound
from runtime.store import Keyring, Store, open_store

from .conftest import FLOW, group_of, make_instance

FLOW_V2 = FLOW.replace("steps: []", "steps: []\n# two")


@pytest_asyncio.fixture(params=["grouped", "sqlalchemy"])
async def write_path(
    request: pytest.FixtureRequest, backend: str, db_url: str, tmp_path: Path, keyring: Keyring
) -> AsyncIterator[Store]:
    """The store, recording deliveries through group commit (SQLite's default) or through
    SQLAlchemy (as on PostgreSQL): both must hold a paused instance's deliveries."""
    grouped = request.param == "grouped"
    if not grouped and backend != "sqlite":
        pytest.skip("this backend has one write path")
    store = await open_store(db_url, data_dir=tmp_path, keyring=keyring, group_commit=grouped)
    assert (group_of(store) is not None) == (grouped and backend == "sqlite")
    yield store
    await store.close()


async def deliver(store: Store, n: int, instance: str = "acme") -> str:
    execution_id, new = await store.record_delivery(
        instance, f"key-{n}", {}, str(n).encode(), float(n), {"n": n}
    )
    assert new
    return execution_id


@pytest.mark.asyncio
async def test_every_deploy_and_redeploy_is_a_version(store: Store) -> None:
    await make_instance(store)
    [first] = await store.list_flow_versions("acme")
    assert (first.version, first.flow_text, first.config) == (1, FLOW, {"organization": "org-1"})
    again = await store.redeploy_instance(
        "acme",
        replaces=1,
        flow_name="Renamed",
        flow_path="flows/renamed.yaml",
        flow_text=FLOW_V2,
        config={"organization": "org-2", "secret": "s3cret"},
        deploy_state={"subscription": "sub-2"},
    )
    assert (again.flow_version, again.flow_name, again.flow_text) == (2, "Renamed", FLOW_V2)
    assert again.deploy_state == {"subscription": "sub-2"}
    assert again.webhook_token == "hook-acme" and again.status == "running"
    assert await store.get_instance("acme") == again
    versions = await store.list_flow_versions("acme")
    assert [(v.version, v.flow_text) for v in versions] == [(1, FLOW), (2, FLOW_V2)]
    assert versions[1].config == {"organization": "org-2", "secret": "s3cret"}
    assert "s3cret" not in repr(versions[1])
    assert await store.get_flow_version("acme", 2) == versions[1]
    assert await store.get_flow_version("acme", 3) is None
    # a new execution takes the new version, in its own transaction
    row = await store.get_execution(await deliver(store, 1))
    assert row is not None and (row.flow_version, row.flow_text) == (2, FLOW_V2)


@pytest.mark.asyncio
async def test_a_redeploy_that_lost_a_race_changes_nothing(store: Store) -> None:
    await make_instance(store)
    kwargs = {
        "flow_name": "F",
        "flow_path": "f.yaml",
        "flow_text": FLOW_V2,
        "config": {},
        "deploy_state": {},
    }
    await store.redeploy_instance("acme", replaces=1, **kwargs)  # type: ignore[arg-type]
    before = await store.get_instance("acme")
    with pytest.raises(ConfigurationError, match="redeployed meanwhile"):
        await store.redeploy_instance("acme", replaces=1, **kwargs)  # type: ignore[arg-type]
    assert await store.get_instance("acme") == before
    assert len(await store.list_flow_versions("acme")) == 2
    with pytest.raises(NotFound, match="no instance named 'ghost'"):
        await store.redeploy_instance("ghost", replaces=1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_undeploy_forgets_the_versions(store: Store) -> None:
    await make_instance(store)
    await store.delete_instance("acme")
    assert await store.list_flow_versions("acme") == []
    await make_instance(store)  # the name starts again at version 1
    assert [v.version for v in await store.list_flow_versions("acme")] == [1]


@pytest.mark.asyncio
async def test_a_paused_instance_holds_its_deliveries_until_resumed(write_path: Store) -> None:
    store = write_path
    await make_instance(store)
    running = await deliver(store, 0)
    assert await store.pause_instance("acme") is True
    paused = await store.get_instance("acme")
    assert paused is not None and paused.paused and paused.paused_at is not None
    held = [await deliver(store, n) for n in range(1, 5)]
    rows = {r.id: r.status for r in await store.list_executions("acme", limit=10)}
    assert rows == {running: "pending", **dict.fromkeys(held, "held")}
    assert [r.id for r in await store.unfinished_executions()] == [running]
    assert await store.claim_execution(held[0], "w", 60) is None
    assert await store.claim_with_state(held[0], "w", 60) is None
    # a duplicate of a held delivery is the held one
    assert await store.record_delivery("acme", "key-1", {}, b"1", 1.0) == (held[0], False)
    # one held delivery can be canceled; the rest are released
    dropped = held.pop()
    assert await store.cancel_execution(dropped, lambda row: {"status": "canceled"}) == "canceled"
    assert await store.resume_instance("acme") == held
    assert (await store.get_instance("acme")).status == "running"  # type: ignore[union-attr]
    assert await store.resume_instance("acme") == []
    rows = {r.id: r.status for r in await store.list_executions("acme", limit=10)}
    assert rows == {running: "pending", dropped: "canceled", **dict.fromkeys(held, "pending")}
    assert await store.claim_execution(held[0], "w", 60) is not None


@pytest.mark.asyncio
async def test_pause_and_resume_name_an_unknown_instance(store: Store) -> None:
    for change in (store.pause_instance, store.resume_instance):
        with pytest.raises(NotFound, match="no instance named 'ghost'"):
            await change("ghost")


@pytest.mark.asyncio
async def test_no_delivery_stays_held_when_resume_races_with_deliveries(store: Store) -> None:
    """Deliveries recorded while a resume commits: each is released by that resume or sees
    the instance running, never left held behind it."""
    await make_instance(store)
    for round_ in range(3):
        await store.pause_instance("acme")
        base = round_ * 100
        ids, released = await asyncio.gather(
            asyncio.gather(*(deliver(store, base + n) for n in range(40))),
            store.resume_instance("acme"),
        )
        statuses = {r.id: r.status for r in await store.list_executions("acme", limit=1000)}
        assert {statuses[i] for i in ids} == {"pending"}
        assert set(released) <= set(ids)


@pytest.mark.asyncio
async def test_the_migration_keeps_older_instances_as_version_1(
    tmp_path: Path, keyring: Keyring
) -> None:
    from .test_migrations import older_sqlite

    path = tmp_path / "relay.db"
    older_sqlite(
        path,
        "0005",
        "INSERT INTO instances (name, flow_name, flow_path, flow_text, flow_version,"
        " config, webhook_token, deploy_state, created_at)"
        " VALUES ('acme', 'F', 'f.yaml', 'x', 3, :config, 'tok', :state, 1.0)",
        {"config": keyring.encrypt_json({"k": "v"}), "state": keyring.encrypt_json({})},
    )
    store = await open_store(f"sqlite:///{path}", data_dir=tmp_path, keyring=keyring)
    try:
        instance = await store.get_instance("acme")
        assert instance is not None and (instance.status, instance.paused_at) == ("running", None)
        [version] = await store.list_flow_versions("acme")
        assert (version.version, version.flow_text, version.config) == (3, "x", {"k": "v"})
        again = await store.redeploy_instance(
            "acme",
            replaces=3,
            flow_name="F",
            flow_path="f.yaml",
            flow_text="y",
            config={},
            deploy_state={},
        )
        assert again.flow_version == 4
    finally:
        await store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.text(max_size=40))
def test_any_instance_name_is_found_or_named_as_missing(name: str, tmp_path: Path) -> None:
    async def check() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'names.db'}", data_dir=tmp_path)
        try:
            if await store.get_instance("acme") is None:
                await make_instance(store)
            for change in (store.pause_instance, store.resume_instance):
                if name == "acme":
                    await change(name)
                else:
                    with pytest.raises(NotFound) as caught:
                        await change(name)
                    assert repr(name) in str(caught.value)
            found = await store.get_flow_version(name, 1)
            assert (found is not None) == (name == "acme")
        finally:
            await store.close()

    asyncio.run(check())
