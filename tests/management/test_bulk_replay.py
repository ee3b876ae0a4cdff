"""Bulk replay over HTTP on both stores: a dry run counts what the real run then replays, the
filter narrows it, each replay runs, the scope is operate, and bad bodies are problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_api import Api
from relay_waiting import status_seen

pytestmark = pytest.mark.asyncio


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = answer.json()
    assert found["status"] == status and found["detail"]
    return found


async def failures(api: Api, count: int) -> list[str]:
    ids = []
    for n in range(count):
        failed = await api.deliver(n, pause="not a number")
        await status_seen(api.relay.store, failed, "failed")
        ids.append(failed)
    return ids


async def test_a_dry_run_counts_what_the_real_run_replays(api: Api) -> None:
    failed = await failures(api, 3)
    done = await api.deliver(9)
    await status_seen(api.relay.store, done, "completed")

    dry = await api.post("/executions/replay", json={"instance": "hooks", "dry_run": True})
    assert dry.status_code == 200, dry.text
    counted = dry.json()
    assert counted["dry_run"] is True and counted["replays"] == []
    assert counted["count"] == 3 and set(counted["ids"]) == set(failed)
    assert counted["more"] is False
    assert len(await api.relay.store.list_executions(limit=100)) == 4  # nothing recorded

    real = await api.post("/executions/replay", json={"instance": "hooks"})
    assert real.status_code == 200, real.text
    outcome = real.json()
    assert outcome["count"] == counted["count"] and outcome["ids"] == counted["ids"]
    assert sorted(r["replay_of"] for r in outcome["replays"]) == sorted(failed)
    assert outcome["refused"] == []
    for replay in outcome["replays"]:  # handed to the executor: each runs (and fails again)
        row = await status_seen(api.relay.store, replay["id"], "failed")
        assert row.replay_of == replay["replay_of"]


async def test_the_filter_narrows_by_status_time_error_and_limit(api: Api) -> None:
    old, *recent = await failures(api, 3)
    # half a millisecond after the first: times travel as datetimes (microseconds), and the
    # deliveries are recorded one after another's outcome, further apart than that
    cut = (await api.relay.store.get_execution(old)).created_at + 0.0005  # type: ignore[union-attr]
    done = await api.deliver(7)
    await status_seen(api.relay.store, done, "completed")

    async def chosen(**body: Any) -> dict[str, Any]:
        answer = await api.post(
            "/executions/replay", json={"instance": "hooks", "dry_run": True, **body}
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    assert set((await chosen(since=cut))["ids"]) == set(recent)
    assert (await chosen(until=cut))["ids"] == [old]
    assert (await chosen(status="completed"))["ids"] == [done]
    assert (await chosen(error="no such text anywhere"))["count"] == 0
    limited = await chosen(limit=2)
    assert limited["count"] == 2 and limited["more"] is True
    assert limited["ids"] == list(reversed(recent))  # the most recent first
    assert (await chosen(instance="nobody"))["count"] == 0


async def test_a_replay_that_cannot_be_made_is_refused_with_its_reason(api: Api) -> None:
    [failed] = await failures(api, 1)
    answer = await api.post("/executions/replay", json={"instance": "hooks", "from_step": "nope"})
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    assert outcome["replays"] == []
    assert outcome["refused"][0]["id"] == failed and "nope" in outcome["refused"][0]["reason"]


async def test_bulk_replay_needs_the_operate_scope(api: Api) -> None:
    body = {"instance": "hooks", "dry_run": True}
    assert problem(await api.post("/executions/replay", "read", json=body), 403)
    bare = await api.client.post("/api/v1/executions/replay", json=body)
    problem(bare, 401)
    for scope in ("operate", "admin"):
        assert (await api.post("/executions/replay", scope, json=body)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "$.instance"),
        ({"instance": ""}, "$.instance"),
        ({"instance": "hooks", "limit": 1001}, "$.limit"),
        ({"instance": "hooks", "limit": 0}, "$.limit"),
        ({"instance": "hooks", "status": "running"}, "$.status"),
        ({"instance": "hooks", "flow_version": "newest"}, "$.flow_version"),
        ({"instance": "hooks", "since": "last week"}, "$.since"),
        ({"instance": "hooks", "surprise": 1}, "$.surprise"),
    ],
)
async def test_a_bad_body_is_a_problem_naming_its_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    found = problem(await api.post("/executions/replay", json=body), 422)
    assert field in [e["field"] for e in found["errors"]]


async def test_any_body_is_an_outcome_or_a_problem(api: Api) -> None:
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    bodies = st.one_of(
        st.dictionaries(
            st.sampled_from(
                ["instance", "status", "since", "until", "error", "limit", "dry_run", "x"]
            ),
            values,
        ),
        values,
    )
    pending: list[Any] = []

    # hypothesis draws the bodies; they are posted on this test's event loop afterwards
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(body: Any) -> None:
        body = {**body, "dry_run": True} if isinstance(body, dict) else body
        pending.append(body)

    check()
    for body in pending:
        answer = await api.post("/executions/replay", json=body)
        assert answer.status_code in (200, 422), (body, answer.text)
        if answer.status_code == 422:
            problem(answer, 422)
        else:
            assert answer.json()["replays"] == []
    assert pending
