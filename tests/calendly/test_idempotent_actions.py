"""What a repeated step does to Calendly: which actions only read (each declaration against the
operations it sends), which repeat safely and how, which cannot, and the ``Idempotency-Key``
header on every request that changes something.

The facts are kept in the repository (``data/action-requests.json``: the operations each action
sends and what a repeat does), so an action added without the matching declaration fails here.
A repeat is what the engine does after a crash: the same step, the same inputs, the same key.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from calendly_support import api_calls, check_output
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.calendly.actions import ACTIONS
from components.calendly.actions.raw import READ_METHODS
from components.calendly.sandbox import Sandbox
from runtime import Action, ConnectionHandle, FatalApiError, Runtime, idempotency_key

DATA = Path(__file__).resolve().parent / "data"
FACTS = DATA / "action-requests.json"
SPEC = DATA / "openapi.json"
REPEATS = {"same result", "creates another", "as the request"}
RAW = "rawRequest"
HOOK_URL = "https://relay.example.com/webhooks/instance-1/flow-a"
#: How the sandbox records the header (Starlette lower-cases header names).
KEY_HEADER = "idempotency-key"


@functools.cache
def facts() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FACTS.read_text(encoding="utf-8"))
    return loaded


def by_key() -> dict[str, Action]:
    return {action.key: action for action in ACTIONS}


def methods(key: str) -> set[str]:
    return {request.split(" ", 1)[0] for request in facts()["actions"][key]["requests"]}


def test_every_action_has_facts_and_every_fact_an_action() -> None:
    assert sorted(facts()["actions"]) == sorted(by_key())


def test_the_facts_name_operations_calendly_has() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    operations = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    for key, fact in facts()["actions"].items():
        if key == RAW:
            continue
        assert set(fact["requests"]) <= operations, key


def test_the_safe_methods_are_the_raw_requests_reads() -> None:
    assert set(facts()["safeMethods"]) == READ_METHODS


@pytest.mark.parametrize("key", sorted(set(by_key()) - {RAW}))
def test_an_action_is_read_only_exactly_when_it_only_reads(key: str) -> None:
    action = by_key()[key]
    reads = methods(key) <= set(facts()["safeMethods"])
    assert action.read_only is reads
    assert action.changes({}) is not reads
    assert ("repeat" in facts()["actions"][key]) is not reads
    if not reads:
        assert facts()["actions"][key]["repeat"] in REPEATS


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_a_raw_request_changes_something_unless_its_method_only_reads(method: str) -> None:
    action = by_key()[RAW]
    choices = {
        choice.value for spec in action.inputs if spec.key == "method" for choice in spec.choices
    }
    assert method in choices
    assert action.changes({"method": method}) is (method not in facts()["safeMethods"])


# --- the Idempotency-Key header ---------------------------------------------------------------


def _future_event(sandbox: Sandbox) -> Any:
    now = sandbox.clock()
    return next(
        e
        for e in sandbox.state.events.values()
        if e.org_uuid == sandbox.organization.uuid and e.status == "active" and e.start > now
    )


def _event_type(sandbox: Sandbox) -> Any:
    return next(
        et
        for et in sandbox.state.event_types.values()
        if et.active and sandbox.owner.uuid in et.host_uuids
    )


def _write_calls(sandbox: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """One call of every action that changes something, in an order the sandbox accepts (the
    webhook made first is the one deleteInstancedWebhooks finds; event data goes last)."""
    org = sandbox.organization.uuid
    member = next(
        m for m in sandbox.state.memberships.values() if m.org_uuid == org and m.role == "user"
    )
    invitation = next(
        i for i in sandbox.state.invitations.values() if i.org_uuid == org and i.status == "pending"
    )
    seeded_hook = next(w for w in sandbox.state.webhooks.values() if w.org_uuid == org)
    invitee = next(
        i
        for i in sandbox.state.invitees.values()
        if sandbox.state.events[i.event_uuid].org_uuid == org
    )
    hook = {"organization": sandbox.org_uri(), "scope": "organization"}
    return [
        ("createWebhookSubscription", {**hook, "url": HOOK_URL, "event": ["invitee.created"]}),
        ("deleteInstancedWebhooks", {**hook, "webhookUrls": [HOOK_URL]}),
        ("deleteWebhookSubscription", {"webhookUuid": seeded_hook.uuid}),
        ("removeUserFromOrganization", {"uuid": member.uuid}),
        ("inviteUserToOrganization", {"uuid": org, "email": "key.check@example.com"}),
        ("revokeUserOrganizationInvitation", {"orgUuid": org, "uuid": invitation.uuid}),
        ("cancelEvent", {"uuid": _future_event(sandbox).uuid}),
        ("createShare", {"eventType": _event_type(sandbox).uuid}),
        (
            "createSingleUseSchedulingLink",
            {"owner": _event_type(sandbox).uuid, "maxEventCount": 1, "ownerType": "EventType"},
        ),
        (
            RAW,
            {
                "method": "POST",
                "url": f"/organizations/{org}/invitations",
                "data": {"email": "raw.key@example.com"},
            },
        ),
        ("deleteInviteeData", {"emails": [invitee.email]}),
        (
            "deleteScheduledEventData",
            {"startTime": "2000-01-01T00:00:00Z", "endTime": "2000-01-02T00:00:00Z"},
        ),
    ]


def test_the_header_test_calls_every_action_that_changes_something(sandbox: Sandbox) -> None:
    called = {key for key, inputs in _write_calls(sandbox) if by_key()[key].changes(inputs)}
    assert called == {key for key, action in by_key().items() if action.changes({"method": "POST"})}


@pytest.mark.asyncio
async def test_every_write_carries_the_steps_key_and_no_read_does(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    for n, (key, inputs) in enumerate(_write_calls(sandbox)):
        before = len(api_calls(sandbox))
        step_key = f"{n:032x}"
        await runtime.invoke_action(
            f"calendly.{key}", {"connection": connection, **inputs}, idempotency_key=step_key
        )
        calls = api_calls(sandbox)[before:]
        writes = [c for c in calls if c["method"] != "GET"]
        assert writes, key
        assert [c["headers"].get(KEY_HEADER) for c in writes] == [step_key] * len(writes), key
        assert all(KEY_HEADER not in c["headers"] for c in calls if c["method"] == "GET"), key


#: Reads, each with its inputs made from the sandbox.
READ_CALLS: list[tuple[str, Callable[[Sandbox], dict[str, Any]]]] = [
    ("listEvents", lambda sb: {}),
    ("getCurrentUser", lambda sb: {}),
    ("listOrganizationInvitations", lambda sb: {"uuid": sb.organization.uuid}),
    (RAW, lambda sb: {"method": "GET", "url": "/users/me"}),
    (RAW, lambda sb: {"method": "HEAD", "url": "/users/me", "responseType": "text"}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("key", "make"), READ_CALLS)
async def test_reads_send_no_key(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    key: str,
    make: Callable[[Sandbox], dict[str, Any]],
) -> None:
    await runtime.invoke_action(
        f"calendly.{key}", {"connection": connection, **make(sandbox)}, idempotency_key="k" * 32
    )
    calls = api_calls(sandbox)
    assert calls
    assert all(KEY_HEADER not in c["headers"] for c in calls)


@pytest.mark.asyncio
async def test_without_a_step_key_no_header_is_sent(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    await runtime.invoke_action(
        "calendly.inviteUserToOrganization",
        {
            "connection": connection,
            "uuid": sandbox.organization.uuid,
            "email": "no.key@example.com",
        },
    )
    (call,) = api_calls(sandbox)
    assert KEY_HEADER not in call["headers"]


@pytest.mark.asyncio
async def test_a_raw_request_keeps_the_users_own_key(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    await runtime.invoke_action(
        "calendly.rawRequest",
        {
            "connection": connection,
            "method": "POST",
            "url": f"/organizations/{sandbox.organization.uuid}/invitations",
            "data": {"email": "own.key@example.com"},
            "headers": [{"key": "idempotency-KEY", "value": "mine"}],
        },
        idempotency_key="s" * 32,
    )
    (call,) = api_calls(sandbox)
    assert call["headers"][KEY_HEADER] == "mine"


# --- repeats that succeed with the same result ------------------------------------------------


async def twice(
    runtime: Runtime, connection: ConnectionHandle, key: str, inputs: dict[str, Any]
) -> tuple[Any, Any]:
    """The step's action called as a first attempt and as its repeat (same inputs, same key)."""
    step_key = idempotency_key("execution-1", key)
    call = {"connection": connection, **inputs}
    first = await runtime.invoke_action(f"calendly.{key}", call, idempotency_key=step_key)
    again = await runtime.invoke_action(f"calendly.{key}", call, idempotency_key=step_key)
    return first, again


def keyed(sandbox: Sandbox, method: str = "POST") -> dict[str, int]:
    """How many ``method`` requests the sandbox received per idempotency key."""
    counts: dict[str, int] = {}
    for call in api_calls(sandbox, method=method):
        step_key = call["headers"].get(KEY_HEADER)
        if step_key:
            counts[step_key] = counts.get(step_key, 0) + 1
    return counts


@pytest.mark.asyncio
async def test_cancelling_a_canceled_event_returns_its_cancellation(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    event = _future_event(sandbox)
    first, again = await twice(
        runtime, connection, "cancelEvent", {"uuid": event.uuid, "reason": "Double booked"}
    )
    check_output(by_key()["cancelEvent"], first)
    check_output(by_key()["cancelEvent"], again)
    assert first["alreadyCanceled"] is False
    assert again["alreadyCanceled"] is True
    assert again["data"] == first["data"]
    assert first["data"]["resource"]["reason"] == "Double booked"
    assert sandbox.state.events[event.uuid].status == "canceled"
    # the repeat's POST was refused (403) and the event read: one cancellation, two attempts
    assert list(keyed(sandbox).values()) == [2]
    assert [c["method"] for c in api_calls(sandbox)] == ["POST", "POST", "GET"]


@pytest.mark.asyncio
async def test_an_event_canceled_by_its_invitee_counts_as_canceled(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Whoever canceled it, the step's goal holds: the cancellation is the event's own."""
    event = next(
        e
        for e in sandbox.state.events.values()
        if e.org_uuid == sandbox.organization.uuid
        and e.status == "active"
        and e.start > sandbox.clock()
        and len(e.invitee_uuids) == 1
    )
    sandbox.cancel(event.invitee_uuids[0], "Cannot make it")
    assert sandbox.state.events[event.uuid].status == "canceled"
    out = await runtime.invoke_action(
        "calendly.cancelEvent", {"connection": connection, "uuid": event.uuid}
    )
    assert out["alreadyCanceled"] is True
    assert out["data"]["resource"]["canceler_type"] == "invitee"
    assert out["data"]["resource"]["reason"] == "Cannot make it"


@pytest.mark.asyncio
async def test_cancelling_an_active_past_event_still_fails(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    past = next(
        e
        for e in sandbox.state.events.values()
        if e.org_uuid == sandbox.organization.uuid
        and e.status == "active"
        and e.end < sandbox.clock()
    )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.cancelEvent", {"connection": connection, "uuid": past.uuid}
        )
    assert caught.value.status == 403
    assert caught.value.message == "Event in the past"


_LOCAL_PART = st.from_regex(r"\A[a-z][a-z0-9]{0,11}\Z")
_invites = itertools.count()


@pytest.mark.asyncio
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(local=_LOCAL_PART, mask=st.integers(min_value=0, max_value=2**24))
async def test_inviting_an_invited_email_returns_the_pending_invitation(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, local: str, mask: int
) -> None:
    """Also when the repeat spells the address in other letter cases."""
    email = f"{local}.{next(_invites)}@example.com"
    respelled = "".join(c.upper() if mask >> n & 1 else c for n, c in enumerate(email))
    org = sandbox.organization.uuid
    first = await runtime.invoke_action(
        "calendly.inviteUserToOrganization", {"connection": connection, "uuid": org, "email": email}
    )
    again = await runtime.invoke_action(
        "calendly.inviteUserToOrganization",
        {"connection": connection, "uuid": org, "email": respelled},
    )
    check_output(by_key()["inviteUserToOrganization"], again)
    assert (first["alreadyInvited"], again["alreadyInvited"]) == (False, True)
    assert again["data"]["resource"]["uri"] == first["data"]["resource"]["uri"]
    assert again["data"]["resource"]["status"] == "pending"
    made = [i for i in sandbox.state.invitations.values() if i.email.lower() == email.lower()]
    assert len(made) == 1


@pytest.mark.asyncio
async def test_a_repeated_invitation_sends_one_invitation(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    first, again = await twice(
        runtime,
        connection,
        "inviteUserToOrganization",
        {"uuid": sandbox.organization.uuid, "email": "repeat.hire@example.com"},
    )
    assert again["data"] == first["data"]
    assert list(keyed(sandbox).values()) == [2]
    lookup = api_calls(sandbox, method="GET")[-1]
    assert lookup["query"]["email"] == "repeat.hire@example.com"
    assert lookup["query"]["status"] == "pending"


_HOOK_EVENTS = st.lists(
    st.sampled_from(
        ["invitee.created", "invitee.canceled", "invitee_no_show.created", "event_type.updated"]
    ),
    min_size=1,
    unique=True,
)
_hooks = itertools.count()


@pytest.mark.asyncio
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=_HOOK_EVENTS, data=st.data())
async def test_creating_an_existing_subscription_returns_it(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    events: list[str],
    data: st.DataObject,
) -> None:
    """The same subscription whatever the order of the events (or a repeated one)."""
    url = f"{HOOK_URL}-{next(_hooks)}"
    again_events = [*data.draw(st.permutations(events)), events[0]]
    inputs = {"connection": connection, "url": url, "scope": "organization"}
    first = await runtime.invoke_action(
        "calendly.createWebhookSubscription",
        {**inputs, "organization": sandbox.org_uri(), "event": events},
    )
    again = await runtime.invoke_action(
        "calendly.createWebhookSubscription",
        {**inputs, "organization": sandbox.organization.uuid, "event": again_events},
    )
    check_output(by_key()["createWebhookSubscription"], again)
    assert (first["alreadyExisted"], again["alreadyExisted"]) == (False, True)
    assert again["data"]["resource"]["uri"] == first["data"]["resource"]["uri"]
    assert len([h for h in sandbox.state.webhooks.values() if h.url == url]) == 1


@pytest.mark.asyncio
async def test_a_repeated_subscription_for_a_user_is_the_same_one(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    first, again = await twice(
        runtime,
        connection,
        "createWebhookSubscription",
        {
            "url": HOOK_URL,
            "event": ["invitee.created"],
            "organization": sandbox.org_uri(),
            "scope": "user",
            "user": sandbox.owner.uuid,
            "signingKey": "s3cret",
        },
    )
    assert again["data"] == first["data"]
    assert again["alreadyExisted"] is True
    assert list(keyed(sandbox).values()) == [2]


@pytest.mark.asyncio
async def test_the_same_url_in_the_other_scope_is_still_409(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Another owner's subscription is not this step's result."""
    hook = {"url": HOOK_URL, "event": ["invitee.created"], "organization": sandbox.org_uri()}
    await runtime.invoke_action(
        "calendly.createWebhookSubscription",
        {"connection": connection, **hook, "scope": "organization"},
    )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.createWebhookSubscription",
            {"connection": connection, **hook, "scope": "user", "user": sandbox.owner.uuid},
        )
    assert caught.value.status == 409


@pytest.mark.asyncio
async def test_removing_a_removed_member_succeeds(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    member = next(
        m
        for m in sandbox.state.memberships.values()
        if m.org_uuid == sandbox.organization.uuid and m.role == "user"
    )
    first, again = await twice(
        runtime, connection, "removeUserFromOrganization", {"uuid": member.uuid}
    )
    assert first == again == {"data": None}
    assert member.uuid not in sandbox.state.memberships
    assert keyed(sandbox, "DELETE") == {
        idempotency_key("execution-1", "removeUserFromOrganization"): 2
    }


@pytest.mark.asyncio
async def test_revoking_a_revoked_invitation_succeeds(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    org = sandbox.organization.uuid
    invitation = next(
        i for i in sandbox.state.invitations.values() if i.org_uuid == org and i.status == "pending"
    )
    first, again = await twice(
        runtime,
        connection,
        "revokeUserOrganizationInvitation",
        {"orgUuid": org, "uuid": invitation.uuid},
    )
    assert first == again == {"data": None}
    assert invitation.uuid not in sandbox.state.invitations


@pytest.mark.asyncio
async def test_revoking_an_accepted_invitation_still_fails(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    org = sandbox.organization.uuid
    accepted = next(
        i
        for i in sandbox.state.invitations.values()
        if i.org_uuid == org and i.status == "accepted"
    )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.revokeUserOrganizationInvitation",
            {"connection": connection, "orgUuid": org, "uuid": accepted.uuid},
        )
    assert caught.value.status == 400


@pytest.mark.asyncio
async def test_repeated_data_deletion_requests_succeed(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Asking again to delete data that is gone is accepted as the first request was."""
    org = sandbox.organization.uuid
    invitee = next(
        i
        for i in sandbox.state.invitees.values()
        if sandbox.state.events[i.event_uuid].org_uuid == org
    )
    first, again = await twice(
        runtime, connection, "deleteInviteeData", {"emails": [invitee.email]}
    )
    assert first == again == {"data": {}}
    window = {"startTime": "2000-01-01T00:00:00Z", "endTime": "2100-01-01T00:00:00Z"}
    first, again = await twice(runtime, connection, "deleteScheduledEventData", window)
    assert first == again == {"data": {}}
    assert not [e for e in sandbox.state.events.values() if e.org_uuid == org]


# --- repeats that cannot be made safe ---------------------------------------------------------


def unrepeatable() -> list[str]:
    return sorted(k for k, f in facts()["actions"].items() if f.get("repeat") == "creates another")


def test_the_unrepeatable_actions_are_the_two_calendly_cannot_find_again() -> None:
    assert unrepeatable() == ["createShare", "createSingleUseSchedulingLink"]


@pytest.mark.parametrize("key", sorted(by_key()))
def test_a_description_warns_exactly_when_a_repeat_creates_another(key: str) -> None:
    description = by_key()[key].description
    warns = "creates a second one" in description and "idempotent: false" in description
    assert warns is (key in unrepeatable())


@pytest.mark.asyncio
async def test_a_repeated_share_or_link_is_a_second_one(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """What the descriptions warn of, as it happens (the key cannot help: Calendly ignores
    it)."""
    event_type = _event_type(sandbox).uuid
    shares, links = len(sandbox.state.shares), len(sandbox.state.scheduling_links)
    share, share_again = await twice(runtime, connection, "createShare", {"eventType": event_type})
    link, link_again = await twice(
        runtime,
        connection,
        "createSingleUseSchedulingLink",
        {"owner": event_type, "maxEventCount": 1, "ownerType": "EventType"},
    )
    assert len(sandbox.state.shares) == shares + 2
    assert len(sandbox.state.scheduling_links) == links + 2
    assert link["data"] != link_again["data"]
    assert share["data"] != share_again["data"]
    assert sorted(keyed(sandbox).values()) == [2, 2]
