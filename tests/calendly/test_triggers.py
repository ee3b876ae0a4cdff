"""calendlyTrigger (subscriptions, signed deliveries) and pollChangesTrigger (bounded polls).

These tests share one ManualClock between relay and the sandbox, and route the sandbox's
webhook POSTs to an in-process receiver, so real signed deliveries reach the trigger.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
import structlog
from hypothesis import given
from hypothesis import strategies as st

from components.calendly import triggers
from components.calendly.sandbox import Sandbox, SandboxConfig
from components.calendly.signature import sign
from runtime import (
    ConnectionHandle,
    Context,
    FatalApiError,
    ManualClock,
    PollResult,
    Runtime,
    TriggerEvent,
    WebhookRejected,
    WebhookRequest,
)

HOST = "calendly.test"
BASE = f"http://{HOST}"
HOOK = "https://relay.example.com/hooks/instance-1/booking"
TRIGGER = "calendly.calendlyTrigger"
POLL = "calendly.pollChangesTrigger"
SIG = "Calendly-Webhook-Signature"


class Receiver:
    """An ASGI app standing in for relay's webhook endpoint: records each delivery raw."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.requests: list[WebhookRequest] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        url = f"{scope['scheme']}://{headers['host']}{scope['path']}"
        self.requests.append(
            WebhookRequest(
                method=scope["method"],
                url=url,
                headers=headers,
                body=body,
                received_at=self.clock.time(),
            )
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@attrs.define
class Env:
    sandbox: Sandbox
    runtime: Runtime
    clock: ManualClock
    connection: ConnectionHandle
    receiver: Receiver
    deploy_state: dict[str, Any] = attrs.field(factory=dict)

    def api_calls(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.sandbox.requests
            if not r["path"].startswith("/oauth")
            and (method is None or r["method"] == method)
            and (path is None or r["path"] == path)
        ]

    def inputs(self, **extra: Any) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "eventNamesInput": ["invitee.created", "invitee.canceled"],
            "organization": self.sandbox.org_uri(),
            "scope": "organization",
            **extra,
        }


def settle_seed(sandbox: Sandbox, now: float) -> None:
    """The seed stamps some future events as created in the future (a sandbox quirk): move
    those stamps into the past so only what a test does counts as a change."""
    for event in sandbox.state.events.values():
        event.created_at = min(event.created_at, now - 3600)
        event.updated_at = min(event.updated_at, now - 3600)


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock(now=float(int(time.time())))
    receiver = Receiver(clock)
    sandbox = Sandbox(
        SandboxConfig(seed=7, events=40, base_url=BASE),
        clock=clock.time,
        webhook_transport=httpx.ASGITransport(app=receiver),
        sleep=clock.sleep,
    )
    settle_seed(sandbox, clock.time())
    runtime = Runtime(hosts={HOST: sandbox.app}, clock=clock)
    client_id, secret = sandbox.register_client()
    connection = await runtime.open_connection(
        "calendly",
        "calendly",
        "calendlyOauth2Connection",
        {"clientId": client_id, "clientSecret": secret, "useLiveServer": False, "sandboxUrl": BASE},
    )
    yield Env(sandbox, runtime, clock, connection, receiver)
    await runtime.aclose()


async def deliveries(env: Env) -> list[TriggerEvent | None]:
    """Every delivery the sandbox sent so far, through the trigger."""
    await env.sandbox.drain_webhooks()
    return [
        await env.runtime.webhook_event(
            TRIGGER, env.inputs(), request, deploy_state=env.deploy_state
        )
        for request in env.receiver.requests
    ]


# --- deploy / undeploy ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_deploy_creates_a_subscription_with_a_signing_key(env: Env) -> None:
    state = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    assert state["reused"] is False
    key = state["signingKey"]
    assert isinstance(key, str) and len(key) >= 32
    (post,) = env.api_calls("POST")
    assert post["path"] == "/webhook_subscriptions"
    assert post["json"] == {
        "url": HOOK,
        "events": ["invitee.created", "invitee.canceled"],
        "organization": env.sandbox.org_uri(),
        "scope": "organization",
        "signing_key": key,
    }
    hook = env.sandbox.state.webhooks[state["subscription"].rsplit("/", 1)[1]]
    assert (hook.url, hook.signing_key, hook.state) == (HOOK, key, "active")


@pytest.mark.asyncio
async def test_redeploy_reuses_the_identical_subscription(env: Env) -> None:
    """A second deploy finds the subscription and reuses it (a second POST would get 409)."""
    first = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    second = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    assert second["reused"] is True
    assert second["subscription"] == first["subscription"]
    assert second["signingKey"] == first["signingKey"]  # deliveries still verify
    assert len(env.api_calls("POST")) == 1
    assert sum(h.url == HOOK for h in env.sandbox.state.webhooks.values()) == 1


@pytest.mark.asyncio
async def test_redeploy_with_other_events_replaces_the_subscription(env: Env) -> None:
    first = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    second = await env.runtime.deploy_trigger(
        TRIGGER, env.inputs(eventNamesInput=["invitee_no_show.created"]), webhook_url=HOOK
    )
    assert second["reused"] is False and second["subscription"] != first["subscription"]
    (hook,) = [h for h in env.sandbox.state.webhooks.values() if h.url == HOOK]
    assert hook.events == ["invitee_no_show.created"]
    assert [d["path"].rsplit("/", 1)[1] for d in env.api_calls("DELETE")] == [
        first["subscription"].rsplit("/", 1)[1]
    ]


@pytest.mark.asyncio
async def test_deploy_frees_the_url_taken_in_the_other_scope(env: Env) -> None:
    await env.runtime.deploy_trigger(
        TRIGGER, env.inputs(scope="user", user=env.sandbox.owner.uuid), webhook_url=HOOK
    )
    state = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    (hook,) = [h for h in env.sandbox.state.webhooks.values() if h.url == HOOK]
    assert hook.scope == "organization" and state["reused"] is False


@pytest.mark.asyncio
async def test_undeploy_twice_is_fine(env: Env) -> None:
    """A subscription already gone counts as deleted."""
    state = await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    for _ in range(2):
        await env.runtime.undeploy_trigger(
            TRIGGER, env.inputs(), webhook_url=HOOK, deploy_state=state
        )
    assert not any(h.url == HOOK for h in env.sandbox.state.webhooks.values())
    assert len(env.api_calls("DELETE")) == 2


@pytest.mark.asyncio
async def test_undeploy_without_state_finds_the_subscription_by_url(env: Env) -> None:
    await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    await env.runtime.undeploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK, deploy_state={})
    assert not any(h.url == HOOK for h in env.sandbox.state.webhooks.values())


@pytest.mark.asyncio
async def test_deploy_on_the_free_plan_is_403(env: Env) -> None:
    env.sandbox.set_plan("free")
    with pytest.raises(FatalApiError) as info:
        await env.runtime.deploy_trigger(TRIGGER, env.inputs(), webhook_url=HOOK)
    assert info.value.status == 403


# --- deliveries ----------------------------------------------------------------------------


async def deployed(env: Env, **extra: Any) -> dict[str, Any]:
    state = await env.runtime.deploy_trigger(TRIGGER, env.inputs(**extra), webhook_url=HOOK)
    env.deploy_state = state
    return state


@pytest.mark.asyncio
async def test_real_deliveries_verify_and_branch_by_event(env: Env) -> None:
    await deployed(env)
    booked = env.sandbox.book()
    env.clock.advance(30)
    moved = env.sandbox.reschedule(booked["uri"])
    events = await deliveries(env)
    assert all(isinstance(e, TriggerEvent) for e in events)
    assert [e.branch for e in events if e] == [
        "invitee.created",
        "invitee.canceled",
        "invitee.created",
    ]
    created, canceled, recreated = (e for e in events if e)
    assert created.payload["body"]["payload"]["uri"] == booked["uri"]
    assert canceled.payload["body"]["payload"]["rescheduled"] is True
    assert recreated.payload["body"]["payload"]["uri"] == moved["uri"]
    headers = created.payload["headers"]
    assert set(headers) <= {"content-type", "user-agent", "calendly-webhook-signature"}
    assert headers["content-type"] == "application/json"
    assert "host" not in headers and "authorization" not in headers


@pytest.mark.asyncio
async def test_a_user_supplied_signing_key_is_used(env: Env) -> None:
    state = await deployed(env, signingKey="my-own-key")
    assert state["signingKey"] == "my-own-key"
    assert env.api_calls("POST")[0]["json"]["signing_key"] == "my-own-key"
    env.sandbox.book()
    (event,) = await deliveries(env)
    assert event is not None and event.branch == "invitee.created"


def signed_request(
    body: bytes, key: str, t: int, received_at: float, url: str = HOOK, **headers: str
) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"Content-Type": "application/json", SIG: sign(key, t, body), **headers},
        body=body,
        received_at=received_at,
    )


def envelope(event: str = "invitee.created") -> bytes:
    return json.dumps(
        {
            "event": event,
            "created_at": "2024-01-01T00:00:00.000000Z",
            "created_by": f"{BASE}/users/X",
            "payload": {"uri": "u"},
        }
    ).encode()


@pytest.mark.asyncio
async def test_forged_tampered_unsigned_and_stale_deliveries_are_rejected(env: Env) -> None:
    """Each of these is refused with a reason."""
    state = await deployed(env)
    key, now = state["signingKey"], int(env.clock.time())
    good = signed_request(envelope(), key, now, now)
    assert await env.runtime.webhook_event(TRIGGER, env.inputs(), good, deploy_state=state)
    cases = {
        "does not match": attrs.evolve(good, body=good.body.replace(b"u", b"v")),
        "missing": attrs.evolve(good, headers={"Content-Type": "application/json"}),
        "stale or replayed": attrs.evolve(good, received_at=now + 181),
        "does not match ": signed_request(envelope(), "guessed-key", now, now),
    }
    for reason, request in cases.items():
        with pytest.raises(WebhookRejected) as info:
            await env.runtime.webhook_event(TRIGGER, env.inputs(), request, deploy_state=state)
        assert info.value.status == 401
        assert reason.strip() in info.value.reason


@pytest.mark.asyncio
async def test_tolerance_is_configurable(env: Env) -> None:
    state = await deployed(env)
    now = int(env.clock.time())
    late = signed_request(envelope(), state["signingKey"], now, now + 100)
    assert await env.runtime.webhook_event(TRIGGER, env.inputs(), late, deploy_state=state)
    with pytest.raises(WebhookRejected, match="tolerance 60 s"):
        await env.runtime.webhook_event(TRIGGER, env.inputs(tolerance=60), late, deploy_state=state)


@pytest.mark.asyncio
async def test_signed_junk_is_a_400_and_unselected_events_are_ignored(env: Env) -> None:
    state = await deployed(env)
    key, now = state["signingKey"], int(env.clock.time())
    for body in (b"not json", b"[1, 2]", b'{"no": "event"}', b"\xff\xfe"):
        with pytest.raises(WebhookRejected) as info:
            await env.runtime.webhook_event(
                TRIGGER, env.inputs(), signed_request(body, key, now, now), deploy_state=state
            )
        assert info.value.status == 400
    ignored = signed_request(envelope("invitee_no_show.created"), key, now, now)
    assert (
        await env.runtime.webhook_event(TRIGGER, env.inputs(), ignored, deploy_state=state) is None
    )


@pytest.mark.asyncio
async def test_without_deploy_state_the_key_is_derived_again(env: Env) -> None:
    state = await deployed(env)
    now = int(env.clock.time())
    request = signed_request(envelope(), state["signingKey"], now, now)
    event = await env.runtime.webhook_event(TRIGGER, env.inputs(), request, deploy_state={})
    assert event is not None and event.payload["body"]["event"] == "invitee.created"


def test_trigger_declares_a_branch_per_event() -> None:
    trigger = triggers.CALENDLY_TRIGGER
    assert trigger.branches == (
        "invitee.created",
        "invitee.canceled",
        "invitee_no_show.created",
        "invitee_no_show.deleted",
        "routing_form_submission.created",
    )
    keys = [i.key for i in trigger.inputs]
    assert keys == [
        "connection",
        "eventNamesInput",
        "organization",
        "scope",
        "signingKey",
        "user",
        "tolerance",
    ]
    tolerance = next(i for i in trigger.inputs if i.key == "tolerance")
    assert tolerance.default == 180


# Property: whatever arrives, the trigger answers with an event, None, or WebhookRejected.
PROPERTY_KEY = "property-key"
PROPERTY_NOW = 1_700_000_000
_SELECTED = ["invitee.created", "invitee.canceled"]
_PARAMS: dict[str, Any] = {"connection": None, "eventNamesInput": _SELECTED, "tolerance": 180}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda event, payload: json.dumps({"event": event, "payload": payload}).encode(),
        st.sampled_from(["invitee.created", "invitee.canceled", "other"]) | st.text(),
        json_values,
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@st.composite
def deliveries_strategy(draw: st.DrawFn) -> WebhookRequest:
    body = draw(bodies)
    t = draw(st.integers(PROPERTY_NOW - 400, PROPERTY_NOW + 400) | st.integers(-5, 10**13))
    signature = draw(
        st.one_of(
            st.just(sign(PROPERTY_KEY, t, body)),
            st.text(max_size=120),
            st.builds(lambda digest: f"t={t},v1={digest}", st.text(max_size=70)),
            st.none(),
        )
    )
    headers = draw(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4))
    if signature is not None:
        headers[draw(st.sampled_from([SIG, SIG.lower(), SIG.upper()]))] = signature
    received_at = draw(
        st.floats(allow_nan=True, allow_infinity=True) | st.just(float(PROPERTY_NOW))
    )
    return WebhookRequest(
        method="POST", url=HOOK, headers=headers, body=body, received_at=received_at
    )


def _context() -> Context:
    return Context(
        execution_id="property",
        flow="property",
        step="trigger",
        logger=structlog.get_logger("test"),
        clock=ManualClock(now=PROPERTY_NOW),
        http_client=None,  # type: ignore[arg-type]  # triggers' signature checks send nothing
        webhook_url=HOOK,
        deploy_state={"signingKey": PROPERTY_KEY},
    )


@given(request=deliveries_strategy())
def test_any_delivery_yields_an_event_none_or_a_rejection(request: WebhookRequest) -> None:
    try:
        outcome = asyncio.run(triggers.on_webhook(_context(), request, dict(_PARAMS)))
    except WebhookRejected as exc:
        assert exc.status in (400, 401) and exc.reason
        return
    assert outcome is None or isinstance(outcome, TriggerEvent)
    if outcome is not None:
        assert outcome.branch in _SELECTED
        assert outcome.payload["body"]["event"] == outcome.branch


# --- polling -------------------------------------------------------------------------------


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
