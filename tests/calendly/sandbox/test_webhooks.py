"""Webhook sending: signature scheme, matching, reschedule pair, retries and disabling."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from sandbox_client import in_process_client
from webhook_receiver import WebhookReceiver

from components.calendly.sandbox import Sandbox, SandboxConfig, sign

from .conftest import BASE_URL, FakeClock

VECTOR_BODY = (
    b'{"event":"invitee.created","created_at":"2023-11-14T22:13:20.000000Z",'
    b'"created_by":"https://api.calendly.com/users/AAAA","payload":{}}'
)


def test_signature_matches_the_api_notes_test_vector() -> None:
    assert sign("test-signing-key", 1700000000, VECTOR_BODY) == (
        "t=1700000000,v1=47c138ca48752c11e8f39a50f3dc507d64cbd4ce21b2739c54d669393ef8d0d3"
    )


def _sandbox(clock: FakeClock, receiver: WebhookReceiver, **cfg: Any) -> Sandbox:
    return Sandbox(
        SandboxConfig(seed=2, events=20, base_url=BASE_URL, webhook_signing_key="app-key", **cfg),
        clock=clock,
        sleep=clock.sleep,
        webhook_transport=receiver.transport(),
    )


async def _subscribe(
    sb: Sandbox,
    url: str,
    events: list[str],
    scope: str = "organization",
    user: str | None = None,
    signing_key: str | None = None,
    token: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "url": url,
        "events": events,
        "organization": sb.organization.uri,
        "scope": scope,
    }
    if user:
        body["user"] = user
    if signing_key:
        body["signing_key"] = signing_key
    token = token or sb.issue_token()["access_token"]
    async with in_process_client(sb, token) as c:
        return await c.post("/webhook_subscriptions", json=body)


def _verify(key: str, headers: dict[str, str], body: bytes) -> None:
    parts = dict(p.split("=", 1) for p in headers["calendly-webhook-signature"].split(","))
    expected = hmac.new(key.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())


@pytest.mark.asyncio
async def test_booking_is_delivered_signed_with_subscription_or_app_key(clock: FakeClock) -> None:
    receiver = WebhookReceiver()
    sb = _sandbox(clock, receiver)
    assert (
        await _subscribe(sb, "http://rx/own-key", ["invitee.created"], signing_key="sub-key")
    ).status_code == 201
    assert (await _subscribe(sb, "http://rx/app-key", ["invitee.created"])).status_code == 201
    assert (await _subscribe(sb, "http://rx/other", ["invitee.canceled"])).status_code == 201
    invitee = sb.book(email="x@example.org")
    await sb.drain_webhooks()
    assert len(receiver.received) == 2
    by_path = {json.loads(b)["payload"]["uri"]: (h, b) for h, b in receiver.received}
    assert list(by_path) == [invitee["uri"]]
    for delivery in sb.deliveries:
        assert delivery.status == "delivered" and delivery.status_codes == [200]
    keys = {d.url: d for d in sb.deliveries}
    headers, body = next(
        (h, b)
        for h, b in receiver.received
        if h["host"] == "rx" and keys["http://rx/own-key"].body.encode() == b
    )
    _verify("sub-key", headers, body)
    env = json.loads(body)
    assert set(env) == {"event", "created_at", "created_by", "payload"}
    assert env["event"] == "invitee.created"
    assert env["payload"]["scheduled_event"]["uri"] == invitee["event"]
    for h, b in receiver.received:
        try:
            _verify("app-key", h, b)
        except AssertionError:
            _verify("sub-key", h, b)


@pytest.mark.asyncio
async def test_reschedule_sends_canceled_then_created(clock: FakeClock) -> None:
    receiver = WebhookReceiver()
    sb = _sandbox(clock, receiver)
    await _subscribe(sb, "http://rx/h", ["invitee.created", "invitee.canceled"])
    old = sb.book()
    new = sb.reschedule(old["uri"])
    await sb.drain_webhooks()
    events = receiver.events()
    assert [e["event"] for e in events] == [
        "invitee.created",
        "invitee.canceled",
        "invitee.created",
    ]
    canceled, created = events[1]["payload"], events[2]["payload"]
    assert canceled["uri"] == old["uri"] and canceled["rescheduled"] is True
    assert canceled["new_invitee"] == new["uri"]
    assert created["uri"] == new["uri"] and created["old_invitee"] == old["uri"]


@pytest.mark.asyncio
async def test_user_scope_matches_only_that_users_events(clock: FakeClock) -> None:
    receiver = WebhookReceiver()
    sb = _sandbox(clock, receiver)
    admin = next(u for u in sb.state.users.values() if u.name == "Adam Admin")
    r = await _subscribe(
        sb,
        "http://rx/admin",
        ["invitee.created", "invitee_no_show.created", "invitee_no_show.deleted"],
        scope="user",
        user=admin.uri,
        token=sb.issue_token(admin.uuid)["access_token"],
    )
    assert r.status_code == 201 and r.json()["resource"]["user"] == admin.uri
    sb.book()  # the owner's event type: not the admin's
    admin_type = next(e for e in sb.state.event_types.values() if e.name == "Admin Check-in")
    booked = sb.book(admin_type.uuid)
    sb.mark_no_show(booked["uri"])
    sb.unmark_no_show(booked["uri"])
    await sb.drain_webhooks()
    assert [e["event"] for e in receiver.events()] == [
        "invitee.created",
        "invitee_no_show.created",
        "invitee_no_show.deleted",
    ]
    assert receiver.events()[0]["payload"]["uri"] == booked["uri"]


@pytest.mark.asyncio
async def test_routing_form_submission_goes_to_organization_subscriptions(clock: FakeClock) -> None:
    receiver = WebhookReceiver()
    sb = _sandbox(clock, receiver)
    await _subscribe(sb, "http://rx/forms", ["routing_form_submission.created"])
    sub = sb.submit_routing_form(answers={"What is your industry?": "Entertainment"})
    await sb.drain_webhooks()
    (event,) = receiver.events()
    assert event["event"] == "routing_form_submission.created"
    assert event["payload"]["uri"] == sub["uri"]
    assert event["payload"]["questions_and_answers"][0]["answer"] == "Entertainment"


@pytest.mark.asyncio
async def test_failing_receiver_is_retried_then_subscription_disabled(clock: FakeClock) -> None:
    receiver = WebhookReceiver(status=500)
    sb = _sandbox(clock, receiver, webhook_retry_window=3600.0)
    r = await _subscribe(sb, "http://rx/broken", ["invitee.created"])
    hook_uuid = r.json()["resource"]["uri"].rsplit("/", 1)[1]
    start = clock()
    sb.book()
    await sb.drain_webhooks()
    (delivery,) = sb.deliveries
    hook = sb.state.webhooks[hook_uuid]
    assert delivery.status == "failed" and hook.state == "disabled"
    assert delivery.attempts == len(receiver.received) >= 5
    assert set(delivery.status_codes) == {500}
    # Backoff doubles from 0.5 s: 0.5, 1, 2, ... until an hour has passed since the first failure.
    assert clock() - start >= 3600
    assert hook.retry_started_at == start
    # A disabled subscription receives nothing more.
    sb.book()
    await sb.drain_webhooks()
    assert len(sb.deliveries) == 1


@pytest.mark.asyncio
async def test_recovering_receiver_clears_retry_state(clock: FakeClock) -> None:
    receiver = WebhookReceiver(status=503)
    sb = _sandbox(clock, receiver)
    r = await _subscribe(sb, "http://rx/flaky", ["invitee.created"])
    hook = sb.state.webhooks[r.json()["resource"]["uri"].rsplit("/", 1)[1]]
    original_sleep = clock.sleep

    async def sleep_then_recover(seconds: float) -> None:
        receiver.status = 200
        await original_sleep(seconds)

    sb.dispatcher.sleep = sleep_then_recover
    sb.book()
    await sb.drain_webhooks()
    assert sb.deliveries[0].status_codes == [503, 200]
    assert hook.state == "active" and hook.retry_started_at is None


@pytest.mark.asyncio
async def test_duplicate_url_conflicts_and_free_plan_is_refused(clock: FakeClock) -> None:
    receiver = WebhookReceiver()
    sb = _sandbox(clock, receiver)
    assert (await _subscribe(sb, "http://rx/dup", ["invitee.created"])).status_code == 201
    dup = await _subscribe(sb, "http://rx/dup", ["invitee.canceled"])
    assert dup.status_code == 409
    assert dup.json() == {"title": "Already Exists", "message": "Hook with this url already exists"}
    sb.set_plan("free")
    free = await _subscribe(sb, "http://rx/free", ["invitee.created"])
    assert free.status_code == 403 and free.json()["title"] == "Permission Denied"
