"""``GET /api/v1/instances/{name}/deliveries`` and the dedupe behind it, over real HTTP (uvicorn
on a loopback port) on SQLite and PostgreSQL: accepted deliveries with their duplicates counted
on them, rejected ones with their reasons and never their bodies, identities from the
``Idempotency-Key`` header, a flow's ``dedupe:`` expression and Calendly's declared fields, the
dedupe window (on an injected clock), pausing, paging and auth."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
from calendly_hook import HOOK_FLOW, sandbox_connection
from relay_service_support import sign
from relay_uvicorn import serving

from components.calendly.sandbox import Sandbox, SandboxConfig
from components.calendly.signature import sign as calendly_sign
from runtime import InProcessExecutor, ManualClock, Runtime, Service, create_app, open_store
from runtime.management.views import encode_key
from runtime.server.webhooks import MAX_BODY

pytestmark = pytest.mark.asyncio

NOW = 1_800_000_000.0
SECRET = "deliveries-test-secret"
#: Sent in every forged body: it must never come back from the API.
MARKER = "forged-body-marker-7f3a"
PLAIN = """\
name: plain
config:
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: answer
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""
KEYED = """\
name: keyed
trigger:
  webhook: {}
  dedupe: ${{ trigger.body.id }}
steps:
  - id: answer
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""


@attrs.define
class Served:
    relay: Service
    http: httpx.AsyncClient
    clock: ManualClock
    sandbox: Sandbox
    home: Path
    read: dict[str, str]

    async def deploy(self, text: str, name: str, config: dict[str, Any]) -> Any:
        path = self.home / f"{name}.yaml"
        path.write_text(text)
        return await self.relay.deploy(path, config, name)

    async def post(
        self, instance: Any, body: bytes, key: str | None = None, secret: str = SECRET
    ) -> httpx.Response:
        headers = sign(body, secret)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(
            f"/webhooks/{instance.webhook_token}", content=body, headers=headers
        )

    async def deliveries(self, name: str, **params: Any) -> list[dict[str, Any]]:
        answer = await self.http.get(
            f"/api/v1/instances/{name}/deliveries", params=params, headers=self.read
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def executions(self, name: str) -> list[Any]:
        rows: list[Any] = await self.relay.store.list_executions(instance=name, limit=1000)
        return rows


@pytest_asyncio.fixture
async def served(tmp_path: Path, store_url: str) -> AsyncIterator[Served]:
    clock = ManualClock(now=NOW)
    sandbox = Sandbox(
        SandboxConfig(seed=5, events=3, base_url="http://calendly.test"), clock=clock.time
    )
    runtime = Runtime(hosts={"calendly.test": sandbox.app}, clock=clock)
    store = await open_store(store_url, data_dir=tmp_path)
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    try:
        _record, token = await store.create_api_token("reader", "read")
        async with (
            serving(create_app(relay, executor)) as url,
            httpx.AsyncClient(base_url=url) as http,
        ):
            yield Served(
                relay, http, clock, sandbox, tmp_path, {"Authorization": f"Bearer {token}"}
            )
    finally:
        await executor.shutdown(5)
        await relay.aclose()
        await runtime.aclose()
        await store.close()


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


async def test_an_idempotency_key_makes_a_duplicate_counted_on_the_original(
    served: Served,
) -> None:
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    first = await served.post(hooks, _body(n=1), key="order-1")
    assert first.status_code == 202 and first.json()["duplicate"] is False
    original = first.json()["execution_id"]
    for n in (2, 3):  # other bytes, same key: the sender's retries
        served.clock.advance(5)
        again = await served.post(hooks, _body(n=n), key="order-1")
        assert again.status_code == 202
        assert again.json() == {
            "execution_id": original,
            "duplicate": True,
            "duplicate_of": original,
        }
    [item] = await served.deliveries("hooks")
    assert item["outcome"] == "accepted" and item["execution_id"] == original
    assert item["times_seen"] == 3
    assert item["received_at"] == NOW and item["last_seen_at"] == NOW + 10
    assert item["dedupe_key"] == "key:order-1"
    assert [i["id"] for i in await served.deliveries("hooks", outcome="duplicate")] == [item["id"]]
    assert [r.id for r in await served.executions("hooks")] == [original]
    row = await served.relay.store.get_execution(original)
    assert row is not None and row.payload["headers"]["idempotency-key"] == "order-1"


async def test_a_plain_webhook_without_a_key_runs_every_delivery(served: Served) -> None:
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    answers = [await served.post(hooks, _body(n=1)) for _ in range(2)]
    assert [a.json()["duplicate"] for a in answers] == [False, False]
    ids = {a.json()["execution_id"] for a in answers}
    assert len(ids) == 2 and {r.id for r in await served.executions("hooks")} == ids
    items = await served.deliveries("hooks")
    assert [(i["times_seen"], i["dedupe_key"]) for i in items] == [(1, None), (1, None)]
    assert await served.deliveries("hooks", outcome="duplicate") == []


async def test_rejections_are_listed_with_their_reason_and_never_their_body(
    served: Served,
) -> None:
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    assert (await served.post(hooks, _body(n=1))).status_code == 202  # the token is known now
    forged = _body(n=2, note=MARKER)
    for _ in range(3):
        assert (await served.post(hooks, forged, secret="not-the-secret")).status_code == 401
    too_long = await served.post(hooks, _body(n=3, note=MARKER), key="k" * 300)
    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()["error"]
    huge = b'{"note": "' + MARKER.encode() + b'"' + b" " * MAX_BODY + b"}"
    assert (await served.post(hooks, huge)).status_code == 413
    assert (await served.http.get(f"/webhooks/{hooks.webhook_token}")).status_code == 405
    unknown = await served.http.post("/webhooks/no-such-token", content=forged)
    assert unknown.status_code == 404

    answer = await served.http.get(
        "/api/v1/instances/hooks/deliveries", params={"outcome": "rejected"}, headers=served.read
    )
    assert answer.status_code == 200 and MARKER not in answer.text
    rejected = {i["status"]: i for i in answer.json()["items"]}
    assert set(rejected) == {401, 400, 413, 405}
    assert rejected[405]["reason"] == "wrong method: GET"
    assert rejected[401]["times_seen"] == 3 and "signature" in rejected[401]["reason"]
    assert rejected[400]["times_seen"] == 1 and "Idempotency-Key" in rejected[400]["reason"]
    assert rejected[413]["reason"] == "body too large"
    assert all(i["outcome"] == "rejected" and i["execution_id"] is None for i in rejected.values())
    everything = await served.deliveries("hooks")
    assert sorted(i["outcome"] for i in everything) == ["accepted"] + ["rejected"] * 4
    # a token no instance has is counted in the metrics only
    metrics = (await served.http.get("/metrics")).text
    assert 'relay_webhook_deliveries_total{outcome="unknown"} 1.0' in metrics
    assert 'relay_webhook_deliveries_total{outcome="rejected"} 4.0' in metrics


async def test_a_dedupe_expression_names_the_delivery(served: Served) -> None:
    keyed = await served.deploy(KEYED, "keyed", {})
    path = f"/webhooks/{keyed.webhook_token}"
    first = await served.http.post(path, content=b'{"id": "a", "x": 1}')
    reordered = await served.http.post(path, content=b'{ "x": 2,\n  "id": "a" }')
    other = await served.http.post(path, content=b'{"id": "b"}')
    assert [first.json()["duplicate"], reordered.json()["duplicate"]] == [False, True]
    assert reordered.json()["duplicate_of"] == first.json()["execution_id"]
    assert other.json()["duplicate"] is False
    # null: no identity, so each runs; a payload the expression cannot read: 422, recorded
    nulls = [await served.http.post(path, content=b'{"id": null}') for _ in range(2)]
    assert [n.json()["duplicate"] for n in nulls] == [False, False]
    missing = await served.http.post(path, content=b'{"x": 3}')
    assert missing.status_code == 422 and "dedupe expression" in missing.json()["error"]
    items = await served.deliveries("keyed")
    keys = sorted(str(i["dedupe_key"]) for i in items if i["outcome"] == "accepted")
    assert keys == ["None", "None", "expr:a", "expr:b"]
    [failed] = [i for i in items if i["outcome"] == "rejected"]
    assert failed["status"] == 422 and "id" in failed["reason"]
    assert len(await served.executions("keyed")) == 4


async def test_a_key_runs_again_once_the_dedupe_window_is_over(served: Served) -> None:
    served.relay.intake.dedupe_window = 3600.0
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    first = (await served.post(hooks, _body(n=1), key="k")).json()
    assert (await served.post(hooks, _body(n=1), secret="wrong")).status_code == 401
    served.clock.advance(3599)
    assert (await served.post(hooks, _body(n=1), key="k")).json()["duplicate"] is True
    served.clock.advance(1)
    later = (await served.post(hooks, _body(n=1), key="k")).json()
    assert later["duplicate"] is False and later["execution_id"] != first["execution_id"]
    newer, older = await served.deliveries("hooks", outcome="accepted")
    assert (newer["execution_id"], newer["dedupe_key"]) == (later["execution_id"], "key:k")
    assert (older["execution_id"], older["dedupe_key"], older["times_seen"]) == (
        first["execution_id"],
        None,
        2,
    )
    # pruning releases what the window no longer keeps, in batches
    assert len(await served.deliveries("hooks", outcome="rejected")) == 1
    released = await served.relay.store.prune_deliveries(NOW + 7200, 3600.0, batch=1)
    assert released == 2  # the key, and the rejection count of the first minute
    assert [i["dedupe_key"] for i in await served.deliveries("hooks")] == [None, None]
    again = (await served.post(hooks, _body(n=1), key="k")).json()
    assert again["duplicate"] is False


async def test_a_paused_instance_holds_its_deliveries_and_still_dedupes(served: Served) -> None:
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    assert await served.relay.pause("hooks")
    first = (await served.post(hooks, _body(n=1), key="once")).json()
    again = (await served.post(hooks, _body(n=2), key="once")).json()
    assert again == {**first, "duplicate": True, "duplicate_of": first["execution_id"]}
    [item] = await served.deliveries("hooks")
    assert (item["execution_status"], item["times_seen"]) == ("held", 2)
    assert await served.relay.resume("hooks") == [first["execution_id"]]


async def test_a_calendly_redelivery_is_the_same_event_whatever_its_bytes(
    served: Served,
) -> None:
    config = await sandbox_connection(served.relay, served.sandbox, NOW)
    instance = await served.deploy(HOOK_FLOW, "cal", config)
    key = instance.deploy_state["signingKey"]
    invitee = "https://api.calendly.com/scheduled_events/E1/invitees/I1"
    envelope: dict[str, Any] = {
        "event": "invitee.created",
        "created_at": "2027-01-15T10:00:00.000000Z",
        "payload": {"uri": invitee, "n": 1},
    }

    async def deliver(body: bytes) -> httpx.Response:
        headers = {"Calendly-Webhook-Signature": calendly_sign(key, int(NOW), body)}
        headers["Content-Type"] = "application/json"
        return await served.http.post(
            f"/webhooks/{instance.webhook_token}", content=body, headers=headers
        )

    first = await deliver(json.dumps(envelope).encode())
    assert first.status_code == 202 and first.json()["duplicate"] is False
    served.clock.advance(30)
    reordered = dict(reversed(list(envelope.items())))
    again = await deliver(json.dumps(reordered, indent=2).encode())
    assert again.status_code == 202, again.text
    assert again.json()["duplicate_of"] == first.json()["execution_id"]
    other_invitee = {**envelope, "payload": {"uri": invitee[:-1] + "2", "n": 1}}
    assert (await deliver(json.dumps(other_invitee).encode())).json()["duplicate"] is False
    unselected = await deliver(json.dumps({**envelope, "event": "invitee.canceled"}).encode())
    assert unselected.status_code == 200

    items = await served.deliveries("cal")
    accepted = [i for i in items if i["outcome"] == "accepted"]
    counted = next(i for i in accepted if i["execution_id"] == first.json()["execution_id"])
    assert (counted["times_seen"], counted["last_seen_at"]) == (2, NOW + 30)
    assert str(counted["dedupe_key"]).startswith("event:")
    assert len(accepted) == 2
    [ignored] = await served.deliveries("cal", outcome="ignored")
    assert (ignored["status"], ignored["reason"]) == (200, "ignored: event not selected")


async def test_pages_follow_one_another_without_gaps_or_repeats(served: Served) -> None:
    hooks = await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    for n in range(7):
        served.clock.advance(20)
        await served.post(hooks, _body(n=n), key=f"k{n}")
        if n % 3 == 0:
            await served.post(hooks, _body(n=n), secret="wrong")
    whole = await served.deliveries("hooks", limit=200)
    assert len(whole) == 7 + 3  # 7 accepted; the rejections of three minutes
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        answer = await served.http.get(
            "/api/v1/instances/hooks/deliveries", params=params, headers=served.read
        )
        page = answer.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # a delivery arriving while paging sorts before the first page: no page shifts
        served.clock.advance(1)
        await served.post(hooks, _body(n=100 + len(seen)), key=f"late{len(seen)}")
    assert seen == whole
    accepted = [i["received_at"] for i in seen if i["outcome"] == "accepted"]
    assert accepted == [NOW + 20 * n for n in range(7, 0, -1)]
    assert [i["outcome"] for i in seen[:2]] == ["accepted", "rejected"]  # the same second
    bad = await served.http.get(
        "/api/v1/instances/hooks/deliveries", params={"cursor": "nonsense"}, headers=served.read
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "$.cursor"
    forged = await served.http.get(
        "/api/v1/instances/hooks/deliveries",
        params={"cursor": encode_key(NOW, "a:\x00")},
        headers=served.read,
    )
    assert forged.status_code == 422  # PostgreSQL could not even compare it
    wrong = await served.http.get(
        "/api/v1/instances/hooks/deliveries", params={"outcome": "lost"}, headers=served.read
    )
    assert wrong.status_code == 422


async def test_the_listing_needs_a_token_and_names_an_instance(served: Served) -> None:
    await served.deploy(PLAIN, "hooks", {"hookSecret": SECRET})
    path = "/api/v1/instances/hooks/deliveries"
    assert (await served.http.get(path)).status_code == 401
    bogus = {"Authorization": "Bearer relay_not_a_token"}
    assert (await served.http.get(path, headers=bogus)).status_code == 401
    assert (await served.http.get(path, headers=served.read)).status_code == 200
    missing = await served.http.get("/api/v1/instances/nope/deliveries", headers=served.read)
    assert missing.status_code == 404 and missing.json()["title"]
