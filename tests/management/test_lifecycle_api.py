"""The instance lifecycle over the API on both stores: deploy from flow text (admin), redeploy
in place (a new version, the same webhook URL; a broken flow changes nothing and every problem
is named at its line), pause and resume (held deliveries run on resume), undeploy, versions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from relay_api import Api
from relay_service_support import CONFIG, FLOW, body, sign

pytestmark = pytest.mark.asyncio

BROKEN = FLOW.replace("action: relay.value", "action: relay.nothing")


async def delete(api: Api, path: str, scope: str = "admin", **kwargs: Any) -> Any:
    return await api.client.delete("/api/v1" + path, headers=api.auth(scope), **kwargs)


async def finished(api: Api, execution_id: str) -> Any:
    for _ in range(500):
        row = await api.relay.store.get_execution(execution_id)
        if row is not None and row.status in ("completed", "failed", "canceled"):
            return row
        await asyncio.sleep(0.01)
    raise AssertionError(f"execution {execution_id} did not finish")


async def test_deploy_from_text_needs_admin_and_refuses_a_taken_name(api: Api) -> None:
    wanted = {"name": "second", "flow": FLOW, "config": CONFIG}
    for scope in ("read", "operate"):
        assert (await api.post("/instances", scope, json=wanted)).status_code == 403
    made = await api.post("/instances", "admin", json=wanted)
    assert made.status_code == 201, made.text
    data = made.json()
    assert (data["name"], data["flow_version"], data["status"]) == ("second", 1, "running")
    assert data["webhook_url"].startswith("http://relay.test/webhooks/")
    assert CONFIG["hookSecret"] not in made.text
    again = await api.post("/instances", "admin", json=wanted)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


async def test_a_broken_flow_is_every_problem_at_its_line_and_nothing_is_made(api: Api) -> None:
    answer = await api.post(
        "/instances", "admin", json={"name": "broken", "flow": BROKEN, "config": CONFIG}
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("invalid-flow")
    [error] = problem["errors"]
    assert error["field"] == "$.flow" and error["message"].startswith("14:")
    assert "nothing" in error["message"]
    assert await api.relay.store.get_instance("broken") is None


async def test_redeploy_keeps_the_url_and_a_broken_one_changes_nothing(api: Api) -> None:
    before = (await api.get("/instances/hooks")).json()
    changed = FLOW.replace("{value: {n: ", "{value: {seen: ")
    done = await api.post("/instances/hooks/redeploy", "admin", json={"flow": changed})
    assert done.status_code == 200, done.text
    assert done.json()["flow_version"] == 2
    assert done.json()["webhook_url"] == before["webhook_url"]
    refused = await api.post("/instances/hooks/redeploy", "admin", json={"flow": BROKEN})
    assert refused.status_code == 422
    versions = (await api.get("/instances/hooks/versions")).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["flow"] == changed
    execution_id = await api.deliver(7)
    row = await finished(api, execution_id)
    assert row.flow_version == 2 and row.result["outputs"]["answer"]["data"] == {"seen": 7}
    missing = await api.post("/instances/ghost/redeploy", "admin", json={"flow": FLOW})
    assert missing.status_code == 404


async def test_pause_holds_deliveries_and_resume_runs_them(api: Api) -> None:
    assert (await api.post("/instances/hooks/pause", "read")).status_code == 403
    paused = await api.post("/instances/hooks/pause", "operate")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    ids = [await api.deliver(n) for n in range(3)]
    await asyncio.sleep(0.05)
    rows = [await api.relay.store.get_execution(i) for i in ids]
    assert {r.status for r in rows if r is not None} == {"held"}
    resumed = await api.post("/instances/hooks/resume", "operate")
    assert resumed.status_code == 200 and resumed.json()["released"] == ids
    for execution_id in ids:
        assert (await finished(api, execution_id)).status == "completed"
    assert (await api.post("/instances/ghost/pause", "operate")).status_code == 404


async def test_undeploy_needs_admin_and_then_the_instance_is_gone(api: Api) -> None:
    assert (await delete(api, "/instances/hooks", "operate")).status_code == 403
    gone = await delete(api, "/instances/hooks")
    assert gone.status_code == 204
    assert (await api.get("/instances/hooks")).status_code == 404
    assert (await delete(api, "/instances/hooks")).status_code == 404
    payload = body(1)
    late = await api.client.post(api.hook, content=payload, headers=sign(payload))
    assert late.status_code == 404


async def test_a_name_holding_nul_is_a_problem_on_every_instance_route(api: Api) -> None:
    for answer in (
        await api.get("/instances/a%00b"),
        await api.get("/instances/a%00b/versions"),
        await api.post("/instances/a%00b/pause"),
        await api.post("/instances/a%00b/redeploy", "admin", json={}),
        await delete(api, "/instances/a%00b"),
        await api.get("/executions/a%00b"),
    ):
        assert answer.status_code == 422, answer.text
        errors = answer.json()["errors"]
        assert {(e["location"], e["field"]) for e in errors} & {
            ("path", "$.name"),
            ("path", "$.execution_id"),
        }, errors
