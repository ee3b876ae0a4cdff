"""pollChangesTrigger: bounded polls that report each new or updated event once.

The ``env`` fixture (``calendly_trigger_env``) shares one ManualClock between relay and the
sandbox, so "changed since" means the same on both sides.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from calendly_trigger_env import BASE, POLL, Env

from components.calendly import triggers
from runtime import PollResult


async def poll(env: Env, cursor: Any, **extra: Any) -> PollResult:
    result: PollResult = await env.runtime.poll(
        POLL, {"connection": env.connection, **extra}, cursor
    )
    json.dumps(result.cursor)  # the cursor must persist as JSON
    return result


def changes(result: PollResult) -> list[tuple[str, str]]:
    return [(item["change"], item["event"]["uri"]) for item in result.items]


@pytest.mark.asyncio
async def test_first_poll_starts_from_now_without_reading_history(env: Env) -> None:
    result = await poll(env, None)
    assert result.items == ()
    assert env.api_calls() == []
    assert result.cursor["since"].endswith("Z")


@pytest.mark.asyncio
async def test_new_then_updated_then_nothing(env: Env) -> None:
    cursor = (await poll(env, None)).cursor
    env.clock.advance(10)
    booked = env.sandbox.book()
    env.clock.advance(10)
    first = await poll(env, cursor)
    assert changes(first) == [("created", booked["event"])]
    assert first.items[0]["event"]["status"] == "active"

    env.clock.advance(300)
    quiet = await poll(env, first.cursor)
    assert quiet.items == ()  # nothing changed: no flow run

    env.clock.advance(10)
    env.sandbox.cancel(booked["uri"], "Conflict")
    env.clock.advance(10)
    second = await poll(env, quiet.cursor)
    assert changes(second) == [("updated", booked["event"])]
    assert second.items[0]["event"]["status"] == "canceled"
    assert (await poll(env, second.cursor)).items == ()


@pytest.mark.asyncio
async def test_changes_in_the_same_second_as_a_poll_are_reported_once(env: Env) -> None:
    cursor = (await poll(env, None)).cursor
    booked = env.sandbox.book()  # same clock instant as the first poll
    result = await poll(env, cursor)
    assert changes(result) == [("created", booked["event"])]
    env.clock.advance(1)
    assert (await poll(env, result.cursor)).items == ()


@pytest.mark.asyncio
async def test_polls_only_read_events_that_can_have_changed(env: Env) -> None:
    """A poll asks only for events that can have changed, not the organization's history."""
    started = env.clock.time()
    cursor = (await poll(env, None)).cursor
    env.clock.advance(600)
    cursor = (await poll(env, cursor)).cursor
    env.clock.advance(600)
    await poll(env, cursor)
    calls = env.api_calls("GET", "/scheduled_events")
    # never before the trigger started; then from the last poll (less the skew overlap)
    assert [c["query"]["min_start_time"] for c in calls] == [
        triggers._iso(started),
        triggers._iso(started + 600 - triggers.OVERLAP),
    ]
    assert all(c["query"]["count"] == "100" for c in calls)
    assert all(c["query"]["sort"] == "start_time:asc" for c in calls)
    since = started
    owner = env.sandbox.owner.uuid
    mine = [e for e in env.sandbox.state.events.values() if owner in e.host_uuids]
    skipped = [e for e in mine if e.start < since - triggers.OVERLAP]
    assert len(skipped) >= len(mine) // 3, "most history is never re-read"


@pytest.mark.asyncio
async def test_the_connected_user_is_looked_up_once(env: Env) -> None:
    cursor = (await poll(env, None)).cursor
    for _ in range(3):
        env.clock.advance(60)
        cursor = (await poll(env, cursor)).cursor
    assert len(env.api_calls("GET", "/users/me")) == 1
    events_calls = env.api_calls("GET", "/scheduled_events")
    assert {c["query"]["user"] for c in events_calls} == {env.sandbox.user_uri(env.sandbox.owner)}


@pytest.mark.asyncio
async def test_organization_scope(env: Env) -> None:
    cursor = (await poll(env, None, organization=env.sandbox.organization.uuid)).cursor
    env.clock.advance(5)
    booked = env.sandbox.book()
    env.clock.advance(5)
    result = await poll(env, cursor, organization=env.sandbox.organization.uuid)
    assert changes(result) == [("created", booked["event"])]
    (call,) = env.api_calls("GET", "/scheduled_events")
    assert call["query"]["organization"] == env.sandbox.org_uri()
    assert "user" not in call["query"]


@pytest.mark.asyncio
async def test_show_toggles(env: Env) -> None:
    cursor = (await poll(env, None)).cursor
    env.clock.advance(5)
    booked = env.sandbox.book()
    env.clock.advance(5)
    assert (await poll(env, cursor, showNewEvents=False)).items == ()
    after_new = await poll(env, cursor)
    env.clock.advance(5)
    env.sandbox.cancel(booked["uri"])
    env.clock.advance(5)
    assert (await poll(env, after_new.cursor, showUpdatedEvents=False)).items == ()
    assert changes(await poll(env, after_new.cursor, showNewEvents=False)) == [
        ("updated", booked["event"])
    ]


@pytest.mark.asyncio
async def test_look_back_date_backfills_once(env: Env) -> None:
    now = env.clock.time()
    look_back = now - 40 * 86400
    result = await poll(env, None, lookBackDate=triggers._iso(look_back)[:10])
    day_start = triggers._epoch(triggers._iso(look_back)[:10])
    owner = env.sandbox.owner.uuid
    expected = {
        f"{BASE}/scheduled_events/{e.uuid}"
        for e in env.sandbox.state.events.values()
        if owner in e.host_uuids and day_start <= e.updated_at <= now and e.start >= day_start
    }
    assert expected, "the seed has recent changes"
    assert {uri for _, uri in changes(result)} == expected
    assert {change for change, _ in changes(result)} <= {"created", "updated"}
    env.clock.advance(60)
    assert (await poll(env, result.cursor, lookBackDate="2000-01-01")).items == ()


@pytest.mark.asyncio
async def test_reschedule_reports_the_old_event_updated_and_the_new_one_created(env: Env) -> None:
    env.clock.advance(5)
    booked = env.sandbox.book()
    env.clock.advance(5)
    cursor = (await poll(env, None)).cursor
    env.clock.advance(5)
    moved = env.sandbox.reschedule(booked["uri"])
    env.clock.advance(5)
    result = await poll(env, cursor)
    assert sorted(changes(result)) == sorted(
        [("updated", booked["event"]), ("created", moved["event"])]
    )


def test_poll_trigger_declaration() -> None:
    trigger = triggers.POLL_CHANGES_TRIGGER
    assert (trigger.key, trigger.label, trigger.kind) == (
        "pollChangesTrigger",
        "New and Updated Events",
        "polling",
    )
    assert [i.key for i in trigger.inputs] == [
        "connection",
        "organization",
        "user",
        "showNewEvents",
        "showUpdatedEvents",
        "lookBackDate",
    ]
