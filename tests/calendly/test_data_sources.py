"""Data sources against the sandbox: UUID-only keys that the actions they feed accept."""

from __future__ import annotations

import time
from typing import Any

import pytest
from calendly_support import api_calls, check_output, open_sandbox_connection

from components.calendly.actions.event_types import GET_EVENT_TYPE
from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ConnectionHandle, ManualClock, Runtime

SANDBOX_HOST = "calendly.test"


def assert_uuid_keys(items: list[dict[str, Any]]) -> None:
    """Keys are bare UUIDs, never URIs; every item has a label."""
    assert items
    for item in items:
        assert set(item) == {"key", "label"}
        assert "/" not in item["key"] and ":" not in item["key"]
        assert item["label"]


@pytest.mark.asyncio
async def test_events_read_every_page() -> None:
    sandbox = Sandbox(SandboxConfig(seed=7, events=250, base_url=f"http://{SANDBOX_HOST}"))
    runtime = Runtime(hosts={SANDBOX_HOST: sandbox.app}, clock=ManualClock(now=time.time()))
    try:
        connection = await open_sandbox_connection(runtime, sandbox)
        items = await runtime.picklist("calendly.events", {"connection": connection})
    finally:
        await runtime.aclose()
    assert_uuid_keys(items)
    expected = {
        e.uuid for e in sandbox.state.events.values() if e.org_uuid == sandbox.organization.uuid
    }
    assert {i["key"] for i in items} == expected
    pages = api_calls(sandbox, "/scheduled_events")
    assert len(pages) == 3
    assert {p["query"]["count"] for p in pages} == {"100"}


@pytest.mark.asyncio
async def test_event_keys_feed_get_event(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    items = await runtime.picklist(
        "calendly.events",
        {"connection": connection, "status": "canceled", "user": sandbox.owner.uuid},
    )
    assert_uuid_keys(items)
    assert all(i["label"].endswith("(canceled)") for i in items)
    out = await runtime.invoke_action(
        "calendly.getEvent", {"connection": connection, "uuid": items[0]["key"]}
    )
    assert out["data"]["resource"]["status"] == "canceled"


@pytest.mark.asyncio
async def test_event_types_list_all_and_feed_get_event_type(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    items = await runtime.picklist("calendly.eventTypes", {"connection": connection})
    assert_uuid_keys(items)
    org_types = [
        e for e in sandbox.state.event_types.values() if e.org_uuid == sandbox.organization.uuid
    ]
    assert {i["key"] for i in items} == {e.uuid for e in org_types}
    assert any(i["label"].endswith("(inactive)") for i in items)
    query = api_calls(sandbox, "/event_types")[0]["query"]
    assert "active" not in query and "admin_managed" not in query  # unset booleans are not filters
    out = await runtime.invoke_action(
        "calendly.getEventType", {"connection": connection, "uuid": items[0]["key"]}
    )
    check_output(GET_EVENT_TYPE, out)


@pytest.mark.asyncio
async def test_membership_keys_are_membership_uuids(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Keys name memberships (not users), so removal works with them."""
    items = await runtime.picklist("calendly.organizationMemberships", {"connection": connection})
    assert_uuid_keys(items)
    memberships = {
        m.uuid: m
        for m in sandbox.state.memberships.values()
        if m.org_uuid == sandbox.organization.uuid
    }
    assert {i["key"] for i in items} == set(memberships)
    target = next(i for i in items if memberships[i["key"]].role == "user")
    assert "<" in target["label"] and "(user)" in target["label"]
    await runtime.invoke_action(
        "calendly.removeUserFromOrganization", {"connection": connection, "uuid": target["key"]}
    )
    assert target["key"] not in sandbox.state.memberships


@pytest.mark.asyncio
async def test_routing_forms(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    items = await runtime.picklist(
        "calendly.routingForms",
        {"connection": connection, "organization": sandbox.org_uri(), "sort": "created_at:desc"},
    )
    assert_uuid_keys(items)
    forms = {
        f.uuid: f.name
        for f in sandbox.state.routing_forms.values()
        if f.org_uuid == sandbox.organization.uuid
    }
    assert {i["key"]: i["label"] for i in items} == forms
    (call,) = api_calls(sandbox)
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "sort": "created_at:desc",
        "count": "100",
    }


@pytest.mark.asyncio
async def test_organizations_feed_invitation_actions(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    items = await runtime.picklist("calendly.organizations", {"connection": connection})
    assert_uuid_keys(items)
    assert items[0]["key"] == sandbox.organization.uuid
    assert "(owner)" in items[0]["label"]
    out = await runtime.invoke_action(
        "calendly.listOrganizationInvitations", {"connection": connection, "uuid": items[0]["key"]}
    )
    assert out["data"]


@pytest.mark.asyncio
async def test_event_invitees_feed_get_event_invitee(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    booked = sandbox.book(email="picked@example.org", name="Pia Picked")
    items = await runtime.picklist(
        "calendly.selectEventInvitee", {"connection": connection, "eventUuid": booked["event"]}
    )
    assert_uuid_keys(items)
    assert items == [
        {"key": booked["uri"].rsplit("/", 1)[1], "label": "Pia Picked <picked@example.org>"}
    ]
    event_uuid = booked["event"].rsplit("/", 1)[1]
    assert api_calls(sandbox)[0]["path"] == f"/scheduled_events/{event_uuid}/invitees"
    out = await runtime.invoke_action(
        "calendly.getEventInvitee",
        {"connection": connection, "eventUuid": event_uuid, "inviteeUuid": items[0]["key"]},
    )
    assert out["data"]["resource"]["email"] == "picked@example.org"
