"""API tokens over the API (admin scope only): created with the secret shown once, listed
without it, revoked (refused from then on); and executions filtered by the flow version they
ran."""

from __future__ import annotations

import asyncio

import pytest
from relay_api import Api
from relay_service_support import FLOW

pytestmark = pytest.mark.asyncio


async def test_tokens_are_made_listed_and_revoked_by_admins_only(api: Api) -> None:
    for scope in ("read", "operate"):
        assert (await api.get("/tokens", scope)).status_code == 403
        made = await api.post("/tokens", scope, json={"name": "x", "scope": "read"})
        assert made.status_code == 403
    made = await api.post("/tokens", "admin", json={"name": "ci", "scope": "read"})
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert secret.startswith("relay_")
    listed = await api.get("/tokens", "admin")
    assert "ci" in {t["name"] for t in listed.json()} and secret not in listed.text
    seen = await api.client.get("/api/v1/instances", headers={"Authorization": f"Bearer {secret}"})
    assert seen.status_code == 200
    again = await api.post("/tokens", "admin", json={"name": "ci", "scope": "admin"})
    assert again.status_code == 409
    bad = await api.post("/tokens", "admin", json={"name": "ci", "scope": "root"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "$.scope"
    gone = await api.client.delete("/api/v1/tokens/ci", headers=api.auth("admin"))
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    refused = await api.client.get(
        "/api/v1/instances", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401
    missing = await api.client.delete("/api/v1/tokens/ci", headers=api.auth("admin"))
    assert missing.status_code == 404


async def test_executions_are_filtered_by_the_flow_version_they_ran(api: Api) -> None:
    first = await api.deliver(1)
    changed = FLOW.replace("{value: {n: ", "{value: {seen: ")
    done = await api.post("/instances/hooks/redeploy", "admin", json={"flow": changed})
    assert done.status_code == 200, done.text
    second = await api.deliver(2)
    await asyncio.sleep(0.05)
    v1 = await api.get("/executions", params={"instance": "hooks", "flow_version": 1})
    v2 = await api.get("/executions", params={"instance": "hooks", "flow_version": 2})
    assert [e["id"] for e in v1.json()["items"]] == [first]
    assert [e["id"] for e in v2.json()["items"]] == [second]
    bad = await api.get("/executions", params={"flow_version": 0})
    assert bad.status_code == 422
