"""Activity log and data-compliance deletions (Enterprise only) against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import compliance
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, FatalApiError, InputValidationError, Runtime


@pytest.mark.asyncio
async def test_activity_log_array_filters_are_sent_comma_separated(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    owner = sandbox.owner
    out = await runtime.invoke_action(
        "calendly.listActivityLogEntries",
        {
            "connection": connection,
            "organization": sandbox.org_uri(),
            "actionInput": ["Created", "Updated"],
            "namespace": ["EventType", "Webhook"],
            "actor": [owner.uuid, f"https://api.calendly.com/users/{owner.uuid}"],
            "sortList": ["namespace:asc", "occurred_at:desc"],
            "minOccurredAt": "2000-01-01T00:00:00Z",
            "searchTerm": "e",
        },
    )
    check_output(compliance.LIST_ACTIVITY, out)
    (call,) = api_calls(sandbox)
    assert call["path"] == "/activity_log_entries"
    owner_uri = sandbox.user_uri(owner)
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "action": "Created,Updated",
        "namespace": "EventType,Webhook",
        "actor": f"{owner_uri},{owner_uri}",
        "sort": "namespace:asc,occurred_at:desc",
        "min_occurred_at": "2000-01-01T00:00:00Z",
        "search_term": "e",
        "count": "1000",  # this endpoint's largest page (others stop at 100)
    }
    # one parameter each, never repeated (?action=Created&action=Updated)
    assert call["query_string"].count("action=") == 1
    assert out["data"], "the seed has matching entries"
    for entry in out["data"]:
        assert entry["namespace"] in ("EventType", "Webhook")
        assert entry["action"] in ("Created", "Updated")
        assert entry["actor"]["uri"] == owner_uri
    namespaces = [e["namespace"] for e in out["data"]]
    assert namespaces == sorted(namespaces)


@pytest.mark.asyncio
async def test_activity_log_unset_filters_are_not_sent(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listActivityLogEntries",
        {"connection": connection, "organization": sandbox.organization.uuid, "limit": 5},
    )
    check_output(compliance.LIST_ACTIVITY, out)
    assert len(out["data"]) == 5
    (call,) = api_calls(sandbox)
    assert call["query"] == {"organization": sandbox.org_uri(), "count": "5"}


@pytest.mark.asyncio
async def test_activity_log_needs_enterprise(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_plan("standard")
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.listActivityLogEntries",
            {"connection": connection, "organization": sandbox.org_uri()},
        )
    assert info.value.status == 403
    assert "Enterprise" in info.value.message


@pytest.mark.asyncio
async def test_activity_log_bad_sort_is_refused_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await runtime.invoke_action(
            "calendly.listActivityLogEntries",
            {
                "connection": connection,
                "organization": sandbox.org_uri(),
                "sortList": ["colour:asc"],
            },
        )
    assert [p.path for p in info.value.problems] == ["$.sortList[0]"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_activity_log_unknown_organization_is_404(
    runtime: Runtime, connection: ConnectionHandle
) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.listActivityLogEntries",
            {"connection": connection, "organization": "NOSUCHORG"},
        )
    assert info.value.status == 404


@pytest.mark.asyncio
async def test_activity_log_checks_inputs_first(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    bad_inputs: list[tuple[str, Any]] = [("minOccurredAt", "yesterday"), ("actor", ["not a user!"])]
    for key, value in bad_inputs:
        with pytest.raises(InputValidationError) as info:
            await runtime.invoke_action(
                "calendly.listActivityLogEntries",
                {"connection": connection, "organization": sandbox.org_uri(), key: value},
            )
        assert [p.path for p in info.value.problems] == [f"$.{key}"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_delete_invitee_data(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    invitee = next(
        i
        for i in sandbox.state.invitees.values()
        if sandbox.state.events[i.event_uuid].org_uuid == sandbox.organization.uuid
    )
    out = await runtime.invoke_action(
        "calendly.deleteInviteeData", {"connection": connection, "emails": [invitee.email]}
    )
    check_output(compliance.DELETE_INVITEE_DATA, out)
    assert out == {"data": {}}
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("POST", "/data_compliance/deletion/invitees")
    assert call["json"] == {"emails": [invitee.email]}
    assert invitee.uuid not in sandbox.state.invitees


@pytest.mark.asyncio
async def test_delete_invitee_data_checks_emails_first(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError):
        await runtime.invoke_action(
            "calendly.deleteInviteeData", {"connection": connection, "emails": ["not-an-email"]}
        )
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_delete_invitee_data_needs_enterprise(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_plan("free")
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.deleteInviteeData", {"connection": connection, "emails": ["a@example.org"]}
        )
    assert info.value.status == 403


@pytest.mark.asyncio
async def test_delete_scheduled_event_data(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    org = sandbox.organization.uuid
    before = {e.uuid for e in sandbox.state.events.values() if e.org_uuid == org}
    out = await runtime.invoke_action(
        "calendly.deleteScheduledEventData",
        {
            "connection": connection,
            "startTime": "2000-01-01T00:00:00Z",
            "endTime": "2100-01-01T00:00:00.000000Z",
        },
    )
    check_output(compliance.DELETE_EVENT_DATA, out)
    assert out == {"data": {}}
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("POST", "/data_compliance/deletion/events")
    assert call["json"] == {
        "start_time": "2000-01-01T00:00:00Z",
        "end_time": "2100-01-01T00:00:00.000000Z",
    }
    assert before and not before & set(sandbox.state.events)


@pytest.mark.asyncio
async def test_delete_scheduled_event_data_end_before_start_is_400(
    runtime: Runtime, connection: ConnectionHandle
) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.deleteScheduledEventData",
            {
                "connection": connection,
                "startTime": "2021-01-01T00:00:00Z",
                "endTime": "2020-01-01T00:00:00Z",
            },
        )
    assert info.value.status == 400
    assert info.value.details[0]["parameter"] == "end_time"
