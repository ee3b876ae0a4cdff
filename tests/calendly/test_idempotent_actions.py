"""What a repeated step does to Calendly: which actions only read (each declaration against the
operations it sends), and the ``Idempotency-Key`` header on every request that changes
something.

The facts are kept in the repository (``data/action-requests.json``: the operations each action
sends), so an action added without the matching declaration fails here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from calendly_support import api_calls

from components.calendly.actions import ACTIONS
from components.calendly.actions.raw import READ_METHODS
from components.calendly.sandbox import Sandbox
from runtime import Action, ConnectionHandle, Runtime

DATA = Path(__file__).resolve().parent / "data"
FACTS = DATA / "action-requests.json"
SPEC = DATA / "openapi.json"
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
