"""calendlyTrigger: subscriptions (deploy, redeploy, undeploy) and signed deliveries.

The ``env`` fixture (``calendly_trigger_env``) shares one ManualClock between relay and the
sandbox and routes the sandbox's webhook POSTs to an in-process receiver, so real signed
deliveries reach the trigger.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
import pytest
import structlog
from calendly_trigger_env import BASE, HOOK, SIG, TRIGGER, Env
from hypothesis import given
from hypothesis import strategies as st

from components.calendly import triggers
from components.calendly.signature import sign
from runtime import (
    Context,
    FatalApiError,
    ManualClock,
    TriggerEvent,
    WebhookRejected,
    WebhookRequest,
)


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
