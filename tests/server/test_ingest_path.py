"""The webhook hot path: answered outside Starlette's routing, instances cached in the server,
deliveries group-committed; none of it may change what a sender or an operator sees."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from relay_service_support import CONFIG, FLOW, LiveService, body, sign

from runtime import Runtime, Service, open_store
from runtime.server.webhooks import MAX_BODY

pytestmark = pytest.mark.asyncio


async def test_a_concurrent_burst_with_repeats_runs_each_delivery_once(
    service: LiveService,
) -> None:
    path = await service.deploy("a")
    numbers = [n % 60 for n in range(120)]  # every delivery sent twice, all at once
    responses = await asyncio.gather(
        *(
            service.post(path, body(n), {**sign(body(n)), "Idempotency-Key": str(n)})
            for n in numbers
        )
    )
    assert {r.status_code for r in responses} == {202}
    by_number: dict[int, set[str]] = {}
    for n, response in zip(numbers, responses, strict=True):
        by_number.setdefault(n, set()).add(response.json()["execution_id"])
    assert all(len(ids) == 1 for ids in by_number.values())
    assert sum(not r.json()["duplicate"] for r in responses) == 60
    await service.executor.drain()
    rows = await service.executions(instance="a")
    assert len(rows) == 60 and {r.status for r in rows} == {"completed"}


async def test_other_methods_sizes_and_unknown_tokens(service: LiveService) -> None:
    path = await service.deploy("a")
    assert (await service.client.get(path)).status_code == 405
    assert (await service.post("/webhooks/nope", body(1))).status_code == 404
    assert (await service.post(path + "/extra", body(1))).status_code == 404
    too_large = b"x" * (MAX_BODY + 1)
    response = await service.post(path, too_large)
    assert response.status_code == 413 and response.json() == {"error": "body too large"}
    assert (await service.client.get("/health")).json()["status"] == "ok"
    metrics = (await service.client.get("/metrics")).text
    assert 'relay_webhook_deliveries_total{outcome="too_large"} 1.0' in metrics
    assert await service.executions() == []


async def _other_process(tmp_path: Path, store_url: str) -> tuple[Service, Runtime]:
    """A second Service on the same database, as ``relay deploy``/``undeploy`` would be."""
    store = await open_store(store_url, data_dir=tmp_path)
    runtime = Runtime()
    return Service(runtime, store, base_url="http://relay.test"), runtime


async def test_undeploy_elsewhere_refuses_the_cached_url_at_once(
    service: LiveService, tmp_path: Path, store_url: str
) -> None:
    path = await service.deploy("a")
    assert (await service.post(path, body(1))).status_code == 202  # the server caches "a"
    other, runtime = await _other_process(tmp_path, store_url)
    try:
        await other.undeploy("a")
        assert (await service.post(path, body(2))).status_code == 404
        # deployed again under the same name: a new URL; the old one stays refused
        flow = tmp_path / "again.yaml"
        flow.write_text(FLOW.replace("name: plain webhook", "name: plain webhook again"))
        again = await other.deploy(flow, CONFIG, "a")
        assert (await service.post(path, body(3))).status_code == 404
        response = await service.post("/webhooks/" + again.webhook_token, body(4))
        assert response.status_code == 202
        await service.executor.drain()
        row = await service.relay.store.get_execution(response.json()["execution_id"])
        assert row is not None and row.status == "completed"
        assert row.result is not None and row.result["flow"] == "plain webhook again"
    finally:
        await other.aclose()
        await runtime.aclose()
        await other.store.close()


async def test_deploy_and_undeploy_here_take_effect_at_once(service: LiveService) -> None:
    path = await service.deploy("a")
    assert (await service.post(path, body(1))).status_code == 202
    await service.executor.drain()
    await service.relay.undeploy("a")
    assert (await service.post(path, body(2))).status_code == 404
    again = await service.deploy("a")
    assert again != path
    assert (await service.post(again, body(2))).status_code == 202
    await service.executor.drain()
    assert {r.status for r in await service.executions(instance="a")} == {"completed"}
