"""Instances on both backends: create, look up, update, delete."""

from __future__ import annotations

import pytest

from runtime.errors import ConfigurationError, NotFound
from runtime.store import Store
from runtime.store.tables import instances

from .conftest import FLOW, make_instance

pytestmark = pytest.mark.asyncio

SECRET_CONFIG = {"organization": "org-1", "calendly": {"clientSecret": "cs-very-secret"}}


async def test_create_and_read_back(store: Store) -> None:
    created = await store.create_instance(
        "acme", "Booking follow-up", "flows/b.yaml", FLOW, SECRET_CONFIG, "tok-acme"
    )
    assert created.flow_version == 1
    assert created.deploy_state == {}
    for found in (await store.get_instance("acme"), await store.instance_by_token("tok-acme")):
        assert found == created
    assert created.config == SECRET_CONFIG
    assert created.created_at > 0
    assert "cs-very-secret" not in repr(created)
    assert "tok-acme" not in repr(created)


async def test_deploy_state_given_at_creation_is_stored_encrypted(store: Store) -> None:
    state = {"secret": "hook-secret-given-at-deploy"}
    created = await store.create_instance(
        "acme", "Booking follow-up", "flows/b.yaml", FLOW, {}, "tok-acme", deploy_state=state
    )
    assert created.deploy_state == state
    found = await store.instance_by_token("tok-acme")
    assert found is not None and found.deploy_state == state
    assert "hook-secret-given-at-deploy" not in repr(found)
    async with store.engine.connect() as conn:
        [row] = (await conn.execute(instances.select())).all()
    assert b"hook-secret-given-at-deploy" not in bytes(row._mapping["deploy_state"])


async def test_missing_instances(store: Store) -> None:
    assert await store.get_instance("nope") is None
    assert await store.instance_by_token("nope") is None
    assert await store.list_instances() == []
    await store.delete_instance("nope")  # deleting nothing is not an error


async def test_name_and_token_are_unique(store: Store) -> None:
    await make_instance(store, "acme", token="t1")
    with pytest.raises(ConfigurationError, match="already exists"):
        await make_instance(store, "acme", token="t2")
    with pytest.raises(ConfigurationError, match="already exists"):
        await make_instance(store, "other", token="t1")
    assert [i.name for i in await store.list_instances()] == ["acme"]


async def test_list_is_sorted_by_name(store: Store) -> None:
    for name in ("zeta", "alpha", "mid"):
        await make_instance(store, name)
    assert [i.name for i in await store.list_instances()] == ["alpha", "mid", "zeta"]


async def test_deploy_state_and_flow_updates(store: Store) -> None:
    await make_instance(store)
    await store.set_deploy_state("acme", {"subscription": "uri:1", "signing_key": "sk-1"})
    await store.update_instance_flow("acme", FLOW + "# v2\n", 2)
    instance = await store.get_instance("acme")
    assert instance is not None
    assert instance.deploy_state == {"subscription": "uri:1", "signing_key": "sk-1"}
    assert (instance.flow_text.endswith("# v2\n"), instance.flow_version) == (True, 2)
    assert instance.config == {"organization": "org-1"}


async def test_updating_a_missing_instance_is_an_error(store: Store) -> None:
    with pytest.raises(NotFound, match="no instance named 'ghost'"):
        await store.set_deploy_state("ghost", {})
    with pytest.raises(NotFound, match="no instance named 'ghost'"):
        await store.update_instance_flow("ghost", FLOW, 2)


async def test_delete_keeps_history_and_frees_the_name(store: Store) -> None:
    await make_instance(store)
    execution_id, _ = await store.record_delivery("acme", "d1", {}, b"{}", 1.0)
    await store.set_cursor("acme", {"after": 5})
    await store.save_state("acme", "Booking follow-up", {"a": 1}, {"b": 2}, {"c": 3})
    await store.delete_instance("acme")
    assert await store.get_instance("acme") is None
    assert await store.get_cursor("acme") is None
    state = await store.load_state("acme", "Booking follow-up")
    assert state == {"flow": {}, "cross_flow": {}, "integration": {"c": 3}}
    assert await store.get_execution(execution_id) is not None
    # redeployed under the same name, the same delivery id is new again
    await make_instance(store)
    assert (await store.record_delivery("acme", "d1", {}, b"{}", 2.0))[1] is True


@pytest.mark.asyncio
async def test_named_connections_round_trip_encrypted(store: Store) -> None:
    fields = {"clientId": "id", "clientSecret": "named-connection-secret-value"}
    await store.save_connection("crm", "calendly", "calendlyOauth2Connection", fields)
    assert await store.get_connection("crm") == ("calendly", "calendlyOauth2Connection", fields)
    await store.save_connection(
        "crm", "calendly", "calendlyOauth2Connection", {**fields, "clientId": "new"}
    )
    found = await store.get_connection("crm")
    assert found is not None
    assert found[2]["clientId"] == "new"
    assert await store.list_connections() == [("crm", "calendly", "calendlyOauth2Connection")]
    await store.delete_connection("crm")
    assert await store.get_connection("crm") is None
