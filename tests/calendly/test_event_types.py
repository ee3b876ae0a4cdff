"""Event types against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions.event_types import GET_EVENT_TYPE, LIST_USER_EVENT_TYPES
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, FatalApiError, Runtime


def org_event_types(sandbox: Sandbox) -> list[Any]:
    return [
        e for e in sandbox.state.event_types.values() if e.org_uuid == sandbox.organization.uuid
    ]


@pytest.mark.asyncio
async def test_unset_booleans_are_not_sent(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Unset active/adminManaged are left out, so every type is listed."""
    out = await runtime.invoke_action("calendly.listUserEventTypes", {"connection": connection})
    check_output(LIST_USER_EVENT_TYPES, out)
    calls = api_calls(sandbox)
    assert [r["path"] for r in calls] == ["/users/me", "/event_types"]
    assert calls[1]["query"] == {
        "organization": sandbox.org_uri(),
        "sort": "name:asc",
        "count": "100",
    }
    assert {e["active"] for e in out["data"]} == {True, False}
    assert len(out["data"]) == len(org_event_types(sandbox))
    names = [e["name"].lower() for e in out["data"]]
    assert names == sorted(names)


@pytest.mark.asyncio
async def test_explicit_false_is_sent(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listUserEventTypes",
        {
            "connection": connection,
            "active": False,
            "adminManaged": True,
            "organization": sandbox.organization.uuid,
        },
    )
    (call,) = api_calls(sandbox)
    assert call["query"]["active"] == "false"
    assert call["query"]["admin_managed"] == "true"
    expected = [e for e in org_event_types(sandbox) if not e.active and e.admin_managed]
    assert [e["name"] for e in out["data"]] == [e.name for e in expected]


@pytest.mark.asyncio
async def test_user_and_schedule_filters_become_uris(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    owner = sandbox.owner
    schedule = next(
        s for s in sandbox.state.schedules.values() if s.user_uuid == owner.uuid and s.default
    )
    out = await runtime.invoke_action(
        "calendly.listUserEventTypes",
        {
            "connection": connection,
            "user": owner.uuid,
            "userAvailabilitySchedule": f"https://api.calendly.com/user_availability_schedules/"
            f"{schedule.uuid}",
            "sort": "name:desc",
            "limit": 2,
        },
    )
    (call,) = api_calls(sandbox)
    assert call["query"] == {
        "user": sandbox.user_uri(owner),
        "user_availability_schedule": f"{sandbox.config.base_url}/user_availability_schedules/"
        f"{schedule.uuid}",
        "sort": "name:desc",
        "count": "2",
    }
    assert len(out["data"]) == 2
    assert out["data"][0]["name"] >= out["data"][1]["name"]


@pytest.mark.asyncio
@pytest.mark.parametrize("as_uri", [False, True])
async def test_get_event_type(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, as_uri: bool
) -> None:
    et = org_event_types(sandbox)[0]
    ref = f"https://api.calendly.com/event_types/{et.uuid}" if as_uri else et.uuid
    out = await runtime.invoke_action(
        "calendly.getEventType", {"connection": connection, "uuid": ref}
    )
    check_output(GET_EVENT_TYPE, out)
    assert out["data"]["resource"]["name"] == et.name
    assert [r["path"] for r in api_calls(sandbox)] == [f"/event_types/{et.uuid}"]


@pytest.mark.asyncio
async def test_unknown_event_type_is_404(runtime: Runtime, connection: ConnectionHandle) -> None:
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.getEventType", {"connection": connection, "uuid": "UNKNOWN000000000"}
        )
    assert caught.value.status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("source", [False, True])
async def test_a_schedule_alone_is_paired_with_its_owner_not_the_organization(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, source: bool
) -> None:
    """Calendly filters by ``user_availability_schedule`` together with ``user``: given only a
    schedule, its owner is the user (never the organization, which Calendly does not pair)."""
    member = next(u for u in sandbox.state.users.values() if u.uuid != sandbox.owner.uuid)
    schedule = next(s for s in sandbox.state.schedules.values() if s.user_uuid == member.uuid)
    inputs = {"connection": connection, "userAvailabilitySchedule": schedule.uuid}
    if source:
        items = await runtime.picklist("calendly.eventTypes", inputs)
        got = {i["key"] for i in items}
    else:
        out = await runtime.invoke_action("calendly.listUserEventTypes", inputs)
        got = {e["uri"].rsplit("/", 1)[1] for e in out["data"]}
    (call,) = api_calls(sandbox, "/event_types")
    assert call["query"]["user"] == sandbox.user_uri(member)
    assert "organization" not in call["query"]
    assert call["query"]["user_availability_schedule"].endswith(f"/{schedule.uuid}")
    assert got == {
        e.uuid
        for e in sandbox.state.event_types.values()
        if e.schedule_uuid == schedule.uuid and member.uuid in e.host_uuids
    }
