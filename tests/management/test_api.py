"""The management API over HTTP on both stores: every endpoint, every scope, the problems it
answers with, and keyset pages that neither skip nor repeat a row while executions arrive."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_api import Api
from relay_service_support import SECRET, in_process_service
from relay_waiting import status_seen

from runtime import Runtime
from runtime.results import DOCUMENT_KEYS

pytestmark = pytest.mark.asyncio

#: Every route but /health, with the smallest scope it admits.
ROUTES = [
    ("GET", "/instances", "read"),
    ("GET", "/instances/hooks", "read"),
    ("GET", "/executions", "read"),
    ("GET", "/executions/0123", "read"),
    ("POST", "/executions/0123/cancel", "operate"),
    ("POST", "/executions/0123/replay", "operate"),
]
SCOPES = ("read", "operate", "admin")


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = answer.json()
    assert found["status"] == status and found["title"] and found["detail"]
    assert str(found["type"]).startswith("urn:relay:problem:")
    return found


async def test_instances_are_listed_with_counts_and_shown_without_secrets(api: Api) -> None:
    done = await api.deliver(1)
    await status_seen(api.relay.store, done, "completed")
    failed = await api.deliver(2, pause="not a number")
    await status_seen(api.relay.store, failed, "failed")

    listed = await api.get("/instances")
    assert listed.status_code == 200
    [hooks] = listed.json()
    assert hooks["name"] == "hooks" and hooks["flow"] == "plain webhook"
    assert hooks["flow_version"] == 1
    assert hooks["webhook_url"] == "http://relay.test" + api.hook
    assert hooks["executions"] == {"completed": 1, "failed": 1}

    shown = await api.get("/instances/hooks")
    assert shown.status_code == 200
    assert shown.json()["config"] == {"hookSecret": "[redacted]"}
    assert SECRET not in shown.text and SECRET not in listed.text

    missing = problem(await api.get("/instances/nope"), 404)
    assert "nope" in str(missing["detail"])


async def test_every_route_needs_a_valid_token(api: Api) -> None:
    for method, path, _scope in ROUTES:
        bare = await api.client.request(method, "/api/v1" + path)
        problem(bare, 401)
        assert bare.headers["www-authenticate"].startswith("Bearer")
        wrong = await api.client.request(
            method, "/api/v1" + path, headers={"Authorization": "Bearer relay_not-a-token"}
        )
        problem(wrong, 401)
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        basic = await api.client.request(
            method, "/api/v1" + path, headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )
        problem(basic, 401)
    health = await api.client.get("/api/v1/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_a_revoked_token_is_refused(api: Api) -> None:
    assert (await api.get("/instances", "admin")).status_code == 200
    await api.relay.store.revoke_api_token("t-admin")
    problem(await api.get("/instances", "admin"), 401)


async def test_each_scope_reaches_what_it_allows_and_no_more(api: Api) -> None:
    for method, path, needed in ROUTES:
        for scope in SCOPES:
            answer = await api.client.request(method, "/api/v1" + path, headers=api.auth(scope))
            if SCOPES.index(scope) < SCOPES.index(needed):
                found = problem(answer, 403)
                assert needed in str(found["detail"])
            else:  # admitted: the execution 0123 does not exist
                assert answer.status_code in (200, 404), (method, path, scope, answer.text)


async def test_executions_are_filtered(api: Api) -> None:
    first = await api.deliver(1)
    await status_seen(api.relay.store, first, "completed")
    failed = await api.deliver(2, pause="soon")
    failed_row = await status_seen(api.relay.store, failed, "failed")
    waiting = await api.deliver(3, pause=3600)
    await status_seen(api.relay.store, waiting, "waiting")
    manual = await api.relay.store.create_execution(None, "x", 1, {})

    async def ids(**params: object) -> list[str]:
        answer = await api.get("/executions", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert await ids() == [manual, waiting, failed, first]
    assert await ids(instance="hooks") == [waiting, failed, first]
    assert await ids(status="waiting") == [waiting]
    assert await ids(status="failed", instance="hooks") == [failed]
    message = failed_row.result["error"]["message"]
    assert await ids(error=message[:12].upper()) == [failed]
    assert await ids(error="no error says this") == []
    assert await ids(error="100%_\\") == []
    first_row = await status_seen(api.relay.store, first, "completed")
    waiting_row = await status_seen(api.relay.store, waiting, "waiting")
    # times between the executions' (the API takes times to the microsecond)
    before_failed = (first_row.created_at + failed_row.created_at) / 2
    after_failed = (failed_row.created_at + waiting_row.created_at) / 2
    assert await ids(created_before=before_failed) == [first]
    assert await ids(created_after=after_failed, instance="hooks") == [waiting]
    assert await ids(created_after=before_failed, created_before=after_failed) == [failed]
    assert set(await ids(created_after="1970-01-01T00:00:00Z")) == {manual, waiting, failed, first}
    [item] = (await api.get("/executions", params={"status": "waiting"})).json()["items"]
    assert item["wake_at"] > item["created_at"] and item["flow_version"] == 1
    [item] = (await api.get("/executions", params={"status": "failed"})).json()["items"]
    assert item["error"]["message"] == message


async def test_pages_skip_and_repeat_nothing_while_executions_arrive(api: Api) -> None:
    store = api.relay.store
    existing = [await store.create_execution("hooks", "x", 1, {"n": n}) for n in range(60)]
    stop = asyncio.Event()

    async def insert_meanwhile() -> list[str]:
        added = []
        while not stop.is_set():
            added.append(await store.create_execution("hooks", "x", 1, {"late": True}))
            await asyncio.sleep(0)
        return added

    inserter = asyncio.create_task(insert_meanwhile())
    seen: list[str] = []
    cursor = None
    first_page = True
    while first_page or cursor:
        params = {"limit": 7, "instance": "hooks", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/executions", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor, first_page = page["next_cursor"], False
    stop.set()
    late = await inserter
    assert late, "executions were inserted while paging"
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert set(existing) <= set(seen), "a row was skipped"
    assert set(seen) <= set(existing) | set(late)


async def test_bad_parameters_are_problems_naming_the_field(api: Api) -> None:
    cases = {
        "limit=0": "$.limit",
        "limit=201": "$.limit",
        "limit=ten": "$.limit",
        "status=sleeping": "$.status",
        "created_after=yesterday": "$.created_after",
        "cursor=not-one": "$.cursor",
        "cursor=WzEsMl0": "$.cursor",  # [1,2]: JSON, but no cursor
    }
    for query, field in cases.items():
        found = problem(await api.get("/executions?" + query), 422)
        errors = found["errors"]
        assert isinstance(errors, list)
        assert [(e["location"], e["field"]) for e in errors] == [("query", field)], query
    problem(await api.get("/nothing/here"), 404)
    problem(await api.client.delete("/api/v1/instances", headers=api.auth("admin")), 405)


async def test_an_execution_is_shown_as_the_cli_shows_it(api: Api) -> None:
    done = await api.deliver(5)
    await status_seen(api.relay.store, done, "completed")
    document = (await api.get(f"/executions/{done}")).json()
    assert tuple(document) == DOCUMENT_KEYS
    assert document["status"] == "completed" and document["instance"] == "hooks"
    assert [s["id"] for s in document["steps"]] == ["remember", "pause", "answer"]
    assert document["steps"][2]["output"] == {"data": {"n": 5}}

    waiting = await api.deliver(6, pause=3600)
    await status_seen(api.relay.store, waiting, "waiting")
    so_far = (await api.get(f"/executions/{waiting}")).json()
    assert so_far["status"] == "waiting"
    assert [(s["id"], s["status"]) for s in so_far["steps"]] == [
        ("remember", "completed"),
        ("pause", "waiting"),
    ]
    problem(await api.get("/executions/ffff"), 404)


async def test_cancel_ends_a_waiting_execution_once(api: Api) -> None:
    waiting = await api.deliver(7, pause=3600)
    await status_seen(api.relay.store, waiting, "waiting")
    problem(await api.post(f"/executions/{waiting}/cancel", "read"), 403)
    answer = await api.post(f"/executions/{waiting}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": waiting, "outcome": "canceled"}
    await status_seen(api.relay.store, waiting, "canceled")
    again = problem(await api.post(f"/executions/{waiting}/cancel"), 409)
    assert "canceled" in str(again["detail"])
    problem(await api.post("/executions/ffff/cancel"), 404)


async def test_replay_records_and_runs_a_new_execution(api: Api) -> None:
    done = await api.deliver(8)
    await status_seen(api.relay.store, done, "completed")
    answer = await api.post(f"/executions/{done}/replay", json={"flow_version": "current"})
    assert answer.status_code == 202, answer.text
    replay = answer.json()
    assert replay["replay_of"] == done and replay["status"] == "pending"
    row = await status_seen(api.relay.store, replay["id"], "completed")
    assert row.replay_of == done

    bare = await api.post(f"/executions/{done}/replay")
    assert bare.status_code == 202, bare.text
    await status_seen(api.relay.store, bare.json()["id"], "completed")

    from_step = await api.post(f"/executions/{done}/replay", json={"from_step": "answer"})
    assert from_step.status_code == 202, from_step.text
    await status_seen(api.relay.store, from_step.json()["id"], "completed")

    bad = {
        json.dumps({"flow_version": "newest"}): ("body", "$.flow_version"),
        json.dumps({"from_step": 3}): ("body", "$.from_step"),
        json.dumps({"extra": 1}): ("body", "$.extra"),
    }
    for text, at in bad.items():
        found = problem(
            await api.post(
                f"/executions/{done}/replay",
                content=text,
                headers={"Content-Type": "application/json"},
            ),
            422,
        )
        assert [(e["location"], e["field"]) for e in found["errors"]] == [at], text
    broken = await api.post(
        f"/executions/{done}/replay",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    problem(broken, 422)
    problem(await api.post("/executions/ffff/replay", json={}), 404)
    problem(await api.post(f"/executions/{done}/replay", json={"from_step": "nowhere"}), 409)


async def test_tokens_appear_in_no_response_and_no_log(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    done = await api.deliver(9)
    await status_seen(api.relay.store, done, "completed")
    answers = []
    for scope in SCOPES:
        for method, path, _needed in ROUTES:
            answers.append(
                await api.client.request(method, "/api/v1" + path, headers=api.auth(scope))
            )
        answers.append(await api.get(f"/executions/{done}", scope))
    answers.append(await api.client.get("/api/v1/openapi.json"))
    captured = capsys.readouterr()
    for token in api.tokens.values():
        for answer in answers:
            assert token not in answer.text and token not in str(answer.headers)
        assert token not in captured.out and token not in captured.err


async def test_no_cross_origin_access_is_granted(api: Api) -> None:
    preflight = await api.client.options(
        "/api/v1/instances",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    simple = await api.get("/instances", headers={"Origin": "https://elsewhere.example"})
    assert not [h for h in simple.headers if h.lower().startswith("access-control-")]


async def test_failed_attempts_are_limited_per_address(api: Api) -> None:
    wrong = {"Authorization": "Bearer relay_guess"}
    for _ in range(10):
        problem(await api.client.get("/api/v1/instances", headers=wrong), 401)
    limited = problem(await api.client.get("/api/v1/instances", headers=wrong), 429)
    assert "retry" in str(limited["detail"])
    answer = await api.client.get("/api/v1/instances", headers=api.auth("read"))
    problem(answer, 429)  # the address is refused, whatever it sends, until the minute is over
    assert 1 <= int(answer.headers["retry-after"]) <= 60


async def test_no_api_serves_no_api(tmp_path: Path, store_url: str) -> None:
    async with in_process_service(Runtime(), store_url, tmp_path, api=False) as (_r, _e, client):
        assert (await client.get("/api/v1/health")).status_code == 404
        assert (await client.get("/api/v1/openapi.json")).status_code == 404
        assert (await client.get("/health")).status_code == 200


CONNECTED_FLOW = """\
name: connected
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  stored: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  hookSecret: {type: string, secret: true}
  settings: {type: json, required: false}
  organization: {type: string}
trigger:
  webhook: {}
steps:
  - id: noop
    action: relay.value
    inputs: {value: 1}
"""


async def test_an_instance_config_shows_no_secret(api: Api) -> None:
    config = {
        "calendly": {"clientId": "client-id-4471", "clientSecret": "client-secret-93ab1c"},
        "stored": {"use": "acme"},
        "hookSecret": "hook-secret-7f00aa",
        "settings": {"nested": {"api_key": "api-key-55e1d0"}, "colour": "blue"},
        "organization": "https://api.calendly.com/organizations/ORG",
    }
    await api.relay.store.create_instance(
        "direct", "connected", "connected.yaml", CONNECTED_FLOW, config, "hook-token-direct"
    )
    answer = await api.get("/instances/direct")
    assert answer.status_code == 200, answer.text
    assert answer.json()["config"] == {
        "calendly": {"clientId": "[redacted]", "clientSecret": "[redacted]"},
        "stored": {"use": "acme"},
        "hookSecret": "[redacted]",
        "settings": {"nested": {"api_key": "[redacted]"}, "colour": "blue"},
        "organization": "https://api.calendly.com/organizations/ORG",
    }
    for secret in (
        "client-id-4471",
        "client-secret-93ab1c",
        "hook-secret-7f00aa",
        "api-key-55e1d0",
    ):
        assert secret not in answer.text


async def test_an_instance_whose_flow_no_longer_loads_is_listed_with_nothing_shown(
    api: Api,
) -> None:
    broken = CONNECTED_FLOW.replace("component: calendly", "component: uninstalled")
    await api.relay.store.create_instance(
        "orphan", "connected", "c.yaml", broken, {"organization": "org-5531aa"}, "tok-orphan"
    )
    listed = await api.get("/instances")
    assert listed.status_code == 200, listed.text
    assert {i["name"] for i in listed.json()} == {"hooks", "orphan"}
    shown = await api.get("/instances/orphan")
    assert shown.status_code == 200, shown.text
    assert shown.json()["config"] == {"organization": "[redacted]"}
