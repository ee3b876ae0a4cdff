"""Scheduled events and invitees against the sandbox, with pagination and fault injection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from calendly_support import api_calls, check_output, open_sandbox_connection

from components.calendly.actions import scheduled_events as events
from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import (
    ConnectionHandle,
    FatalApiError,
    ManualClock,
    RetriableApiError,
    Runtime,
)

SANDBOX_HOST = "calendly.test"


@asynccontextmanager
async def big_sandbox(n_events: int) -> AsyncIterator[tuple[Sandbox, Runtime, ConnectionHandle]]:
    """A sandbox with ``n_events`` events (the shared fixture has 40), runtime and connection."""
    sandbox = Sandbox(SandboxConfig(seed=7, events=n_events, base_url=f"http://{SANDBOX_HOST}"))
    runtime = Runtime(hosts={SANDBOX_HOST: sandbox.app}, clock=ManualClock(now=time.time()))
    try:
        connection = await open_sandbox_connection(runtime, sandbox)
        yield sandbox, runtime, connection
    finally:
        await runtime.aclose()


def org_events(sandbox: Sandbox) -> list[Any]:
    return [e for e in sandbox.state.events.values() if e.org_uuid == sandbox.organization.uuid]


def future_event(sandbox: Sandbox) -> Any:
    now = time.time()
    return next(
        e for e in org_events(sandbox) if e.status == "active" and e.start > now and e.invitee_uuids
    )


@pytest.mark.asyncio
async def test_list_events_reads_every_page_100_at_a_time() -> None:
    """count=100, so 250 events take 3 requests, not 13."""
    async with big_sandbox(250) as (sandbox, runtime, connection):
        out = await runtime.invoke_action("calendly.listEvents", {"connection": connection})
        check_output(events.LIST_EVENTS, out)
        assert len(out["data"]) == len(org_events(sandbox)) > 200
        assert len({e["uri"] for e in out["data"]}) == len(out["data"])
        pages = api_calls(sandbox, "/scheduled_events")
        assert len(pages) == 3
        assert all(p["query"]["count"] == "100" for p in pages)
        assert all(p["query"]["organization"] == sandbox.org_uri() for p in pages)
        assert "page_token" not in pages[0]["query"]
        assert all(p["query"]["page_token"] for p in pages[1:])


@pytest.mark.asyncio
async def test_list_events_limit_stops_early() -> None:
    async with big_sandbox(250) as (sandbox, runtime, connection):
        out = await runtime.invoke_action(
            "calendly.listEvents", {"connection": connection, "limit": 150}
        )
        assert len(out["data"]) == 150
        assert len(api_calls(sandbox, "/scheduled_events")) == 2


@pytest.mark.asyncio
async def test_list_events_filters(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    owner = sandbox.owner
    out = await runtime.invoke_action(
        "calendly.listEvents",
        {
            "connection": connection,
            "organization": sandbox.organization.uuid,
            "user": f"https://api.calendly.com/users/{owner.uuid}",
            "status": "active",
            "minStartTime": "2000-01-01T00:00:00.000000Z",
            "maxStartTime": "2100-01-01T00:00:00.000000Z",
            "sort": "start_time:desc",
        },
    )
    (call,) = api_calls(sandbox)
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "user": sandbox.user_uri(owner),
        "status": "active",
        "min_start_time": "2000-01-01T00:00:00.000000Z",
        "max_start_time": "2100-01-01T00:00:00.000000Z",
        "sort": "start_time:desc",
        "count": "100",
    }
    expected = [
        e for e in org_events(sandbox) if e.status == "active" and owner.uuid in e.host_uuids
    ]
    assert len(out["data"]) == len(expected)
    starts = [e["start_time"] for e in out["data"]]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.asyncio
async def test_list_events_by_invitee_email(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    booked = sandbox.book(email="someone.special@example.org")
    out = await runtime.invoke_action(
        "calendly.listEvents",
        {"connection": connection, "inviteeEmail": "someone.special@example.org"},
    )
    assert [e["uri"] for e in out["data"]] == [booked["event"]]
    assert api_calls(sandbox, "/scheduled_events")[0]["query"]["invitee_email"] == (
        "someone.special@example.org"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("as_uri", [False, True])
async def test_get_event(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, as_uri: bool
) -> None:
    ev = future_event(sandbox)
    ref = f"https://api.calendly.com/scheduled_events/{ev.uuid}" if as_uri else ev.uuid
    out = await runtime.invoke_action("calendly.getEvent", {"connection": connection, "uuid": ref})
    check_output(events.GET_EVENT, out)
    assert out["data"]["resource"]["uri"].endswith(ev.uuid)
    assert [r["path"] for r in api_calls(sandbox)] == [f"/scheduled_events/{ev.uuid}"]


@pytest.mark.asyncio
async def test_cancel_event_with_reason(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    ev = future_event(sandbox)
    out = await runtime.invoke_action(
        "calendly.cancelEvent",
        {
            "connection": connection,
            "uuid": sandbox.render.event_uri(ev.uuid),
            "reason": "Double booked",
        },
    )
    check_output(events.CANCEL_EVENT, out)
    assert out["data"]["resource"]["reason"] == "Double booked"
    assert out["data"]["resource"]["canceler_type"] == "host"
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"], call["json"]) == (
        "POST",
        f"/scheduled_events/{ev.uuid}/cancellation",
        {"reason": "Double booked"},
    )
    assert sandbox.state.events[ev.uuid].status == "canceled"


@pytest.mark.asyncio
async def test_cancel_event_without_reason_sends_no_reason(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    ev = future_event(sandbox)
    await runtime.invoke_action("calendly.cancelEvent", {"connection": connection, "uuid": ev.uuid})
    (call,) = api_calls(sandbox)
    assert call["json"] in (None, {})


@pytest.mark.asyncio
async def test_cancelling_a_past_event_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    past = next(e for e in org_events(sandbox) if e.status == "active" and e.end < time.time())
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.cancelEvent", {"connection": connection, "uuid": past.uuid}
        )
    assert caught.value.status == 403


@pytest.mark.asyncio
async def test_list_and_get_invitees(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    ev = future_event(sandbox)
    out = await runtime.invoke_action(
        "calendly.listEventInvitees",
        {
            "connection": connection,
            "uuid": sandbox.render.event_uri(ev.uuid),
            "status": "active",
            "sort": "created_at:asc",
        },
    )
    check_output(events.LIST_INVITEES, out)
    assert out["data"]
    (call,) = api_calls(sandbox)
    assert call["path"] == f"/scheduled_events/{ev.uuid}/invitees"
    assert call["query"] == {"status": "active", "sort": "created_at:asc", "count": "100"}
    invitee_uri = out["data"][0]["uri"]
    got = await runtime.invoke_action(
        "calendly.getEventInvitee",
        {"connection": connection, "eventUuid": ev.uuid, "inviteeUuid": invitee_uri},
    )
    check_output(events.GET_INVITEE, got)
    assert got["data"]["resource"]["uri"] == invitee_uri
    assert api_calls(sandbox)[-1]["path"] == (
        f"/scheduled_events/{ev.uuid}/invitees/{invitee_uri.rsplit('/', 1)[1]}"
    )


@pytest.mark.asyncio
async def test_rate_limited_requests_wait_then_succeed(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    expected = await runtime.invoke_action("calendly.listEvents", {"connection": connection})
    before = runtime.clock.time()
    sandbox.set_faults(error_rate_429=0.5, seed=3)
    out = await runtime.invoke_action("calendly.listEvents", {"connection": connection})
    assert out == expected
    sandbox.set_faults()
    # the X-RateLimit-Reset wait happened (on the manual clock, so instantly)
    assert runtime.clock.time() > before
    assert len(api_calls(sandbox)) > 4  # 2 x (users/me + scheduled_events) plus retries


@pytest.mark.asyncio
async def test_server_errors_are_retried_then_reported(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    ev = future_event(sandbox)
    sandbox.set_faults(error_rate_5xx=1.0)
    with pytest.raises(RetriableApiError) as caught:
        await runtime.invoke_action(
            "calendly.getEvent", {"connection": connection, "uuid": ev.uuid}
        )
    assert caught.value.status == 500
    assert len(api_calls(sandbox)) == 4  # first try + 3 retries
    sandbox.set_faults(error_rate_5xx=0.5, seed=1)
    out = await runtime.invoke_action(
        "calendly.getEvent", {"connection": connection, "uuid": ev.uuid}
    )
    assert out["data"]["resource"]["uri"].endswith(ev.uuid)


@pytest.mark.asyncio
async def test_cancellation_is_not_retried_on_500(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """A POST is not idempotent: one attempt, then the error."""
    ev = future_event(sandbox)
    sandbox.set_faults(error_rate_5xx=1.0)
    with pytest.raises(RetriableApiError):
        await runtime.invoke_action(
            "calendly.cancelEvent", {"connection": connection, "uuid": ev.uuid}
        )
    assert len(api_calls(sandbox)) == 1
