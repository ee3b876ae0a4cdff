"""Webhook ingest: verify, record durably, answer, run once; refuse forgeries."""

from __future__ import annotations

import pytest
from relay_service_support import LiveService, body, sign


@pytest.mark.asyncio
async def test_a_signed_delivery_runs_once(service: LiveService) -> None:
    path = await service.deploy("a")
    response = await service.post(path, body(1))
    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    await service.executor.drain()
    row = await service.relay.store.get_execution(execution_id)
    assert row is not None
    assert row.status == "completed"
    assert row.result is not None
    assert row.result["outputs"]["answer"] == {"data": {"n": 1}}
    state = await service.relay.store.load_state("a", "plain webhook")
    assert state["flow"]["last"] == {"n": 1, "pause": 0.0}


@pytest.mark.asyncio
async def test_a_repeated_delivery_is_recorded_not_run_twice(service: LiveService) -> None:
    path = await service.deploy("a")
    headers = {**sign(body(7)), "Idempotency-Key": "seven"}
    first = await service.post(path, body(7), headers)
    second = await service.post(path, body(7), headers)
    assert first.status_code == second.status_code == 202
    original = first.json()["execution_id"]
    assert second.json() == {"execution_id": original, "duplicate": True, "duplicate_of": original}
    await service.executor.drain()
    assert len(await service.executions(instance="a")) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Relay-Signature": "sha256=" + "0" * 64},
        sign(b"another body"),
        sign(body(1), secret="wrong-secret"),
    ],
    ids=["unsigned", "zeros", "other-body", "wrong-key"],
)
async def test_forged_and_unsigned_deliveries_start_nothing(
    service: LiveService, headers: dict[str, str]
) -> None:
    path = await service.deploy("a")
    response = await service.post(path, body(1), headers=headers)
    assert response.status_code == 401
    assert await service.executions() == []


@pytest.mark.asyncio
async def test_unknown_url_is_404_and_instances_are_isolated(service: LiveService) -> None:
    path_a = await service.deploy("a")
    await service.deploy("b")
    assert (await service.post("/webhooks/not-a-token", body(1))).status_code == 404
    await service.post(path_a, body(2))
    await service.executor.drain()
    assert [r.instance for r in await service.executions()] == ["a"]
    assert await service.executions(instance="b") == []


@pytest.mark.asyncio
async def test_health_and_metrics(service: LiveService) -> None:
    path = await service.deploy("a")
    await service.post(path, body(3))
    await service.post(path, body(3), headers={})
    health = await service.client.get("/health")
    assert health.json()["status"] == "ok"
    metrics = (await service.client.get("/metrics")).text
    assert 'relay_webhook_deliveries_total{outcome="accepted"} 1.0' in metrics
    assert 'relay_webhook_deliveries_total{outcome="rejected"} 1.0' in metrics


@pytest.mark.asyncio
async def test_replay_from_a_step_reuses_earlier_outputs(service: LiveService) -> None:
    path = await service.deploy("a")
    original = (await service.post(path, body(5))).json()["execution_id"]
    await service.executor.drain()
    replay_id = await service.relay.replay(original, from_step="answer")
    assert await service.relay.execute(replay_id, "test") == "completed"
    row = await service.relay.store.get_execution(replay_id)
    assert row is not None
    assert row.replay_of == original
    assert row.result is not None
    statuses = [s["status"] for s in row.result["steps"]]
    assert statuses == ["reused", "reused", "completed"]


@pytest.mark.asyncio
async def test_a_body_nested_too_deep_for_json_is_kept_as_text(service: LiveService) -> None:
    path = await service.deploy("deep")
    payload = b"[" * 100_000 + b"]" * 100_000
    response = await service.post(path, payload, sign(payload))
    assert response.status_code == 202
    row = await service.relay.store.get_execution(response.json()["execution_id"])
    assert row is not None and row.payload["body"] == payload.decode()
