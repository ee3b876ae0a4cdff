"""Shares and single-use scheduling links against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import sharing
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, FatalApiError, InputValidationError, Runtime


def active_event_type(sandbox: Sandbox) -> Any:
    return next(
        et
        for et in sandbox.state.event_types.values()
        if et.active and sandbox.owner.uuid in et.host_uuids
    )


def event_type_uri(sandbox: Sandbox, uuid: str) -> str:
    return f"{sandbox.config.base_url}/event_types/{uuid}"


@pytest.mark.asyncio
async def test_create_share_sends_only_what_was_set(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    et = active_event_type(sandbox)
    out = await runtime.invoke_action(
        "calendly.createShare",
        {
            "connection": connection,
            "eventType": f"https://api.calendly.com/event_types/{et.uuid}",  # live URI accepted
            "name": "Intro (shared)",
            "duration": "45",
            "periodType": "fixed",
            "startDate": "2030-01-02",
            "endDate": "2030-01-09",
            "locationConfigurations": '[{"kind": "physical", "location": "123 Abc St."}]',
            "availabilityRule": {
                "rules": [
                    {
                        "type": "wday",
                        "wday": "friday",
                        "intervals": [{"from": "07:00", "to": "11:00"}],
                    }
                ],
                "timezone": "America/New_York",
            },
        },
    )
    check_output(sharing.CREATE_SHARE, out)
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("POST", "/shares")
    assert call["json"] == {
        "event_type": event_type_uri(sandbox, et.uuid),
        "name": "Intro (shared)",
        "duration": 45,
        "period_type": "fixed",
        "start_date": "2030-01-02",
        "end_date": "2030-01-09",
        "hide_location": False,
        "location_configurations": [{"kind": "physical", "location": "123 Abc St."}],
        "availability_rule": {
            "rules": [
                {"type": "wday", "wday": "friday", "intervals": [{"from": "07:00", "to": "11:00"}]}
            ],
            "timezone": "America/New_York",
        },
    }
    resource = out["data"]["resource"]
    assert resource["share_override"]["duration"] == 45
    assert resource["scheduling_links"][0]["owner"] == event_type_uri(sandbox, et.uuid)
    assert resource["scheduling_links"][0]["owner_type"] == "EventType"


@pytest.mark.asyncio
async def test_create_share_minimal(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    et = active_event_type(sandbox)
    out = await runtime.invoke_action(
        "calendly.createShare", {"connection": connection, "eventType": et.uuid}
    )
    check_output(sharing.CREATE_SHARE, out)
    (call,) = api_calls(sandbox)
    assert call["json"] == {"event_type": event_type_uri(sandbox, et.uuid), "hide_location": False}
    assert out["data"]["resource"]["share_override"]["name"] == et.name


@pytest.mark.asyncio
async def test_create_share_fixed_period_without_dates_is_refused_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await runtime.invoke_action(
            "calendly.createShare",
            {
                "connection": connection,
                "eventType": active_event_type(sandbox).uuid,
                "periodType": "fixed",
            },
        )
    assert [p.path for p in info.value.problems] == ["$.endDate", "$.startDate"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_create_share_unknown_event_type_is_404(
    runtime: Runtime, connection: ConnectionHandle
) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.createShare", {"connection": connection, "eventType": "UNKNOWN"}
        )
    assert info.value.status == 404


@pytest.mark.asyncio
async def test_create_share_checks_inputs_first(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await runtime.invoke_action(
            "calendly.createShare",
            {
                "connection": connection,
                "eventType": "x",
                "duration": "sixty",
                "startDate": "02/01/2030",
                "periodType": "sometimes",
            },
        )
    assert {p.path for p in info.value.problems} == {"$.duration", "$.startDate", "$.periodType"}
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_single_use_link(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    et = active_event_type(sandbox)
    out = await runtime.invoke_action(
        "calendly.createSingleUseSchedulingLink",
        {
            "connection": connection,
            "maxEventCount": "1",
            "owner": et.uuid,
            "ownerType": "EventType",
        },
    )
    check_output(sharing.CREATE_SCHEDULING_LINK, out)
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("POST", "/scheduling_links")
    assert call["json"] == {
        "max_event_count": 1,
        "owner": event_type_uri(sandbox, et.uuid),
        "owner_type": "EventType",
    }
    assert out["data"]["resource"]["owner"] == event_type_uri(sandbox, et.uuid)
    assert out["data"]["resource"]["booking_url"].startswith(sandbox.config.base_url)


@pytest.mark.asyncio
async def test_single_use_link_refuses_more_than_one_event_before_sending(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError):
        await runtime.invoke_action(
            "calendly.createSingleUseSchedulingLink",
            {
                "connection": connection,
                "maxEventCount": "2",
                "owner": active_event_type(sandbox).uuid,
                "ownerType": "EventType",
            },
        )
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_single_use_link_for_another_organizations_event_type_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    foreign = [
        et for et in sandbox.state.event_types.values() if et.org_uuid != sandbox.organization.uuid
    ]
    if not foreign:
        pytest.skip("the seed has no second organization")
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.createSingleUseSchedulingLink",
            {
                "connection": connection,
                "maxEventCount": 1,
                "owner": foreign[0].uuid,
                "ownerType": "EventType",
            },
        )
    assert info.value.status == 403
