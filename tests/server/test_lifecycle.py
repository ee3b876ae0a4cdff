"""The life of an instance after its deploy, over real HTTP deliveries on both stores:
redeploy in place (a new flow version, the same webhook URL, nothing changed by a broken
flow), and pause/resume (deliveries held durably, released once each, in order)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_service_support import CONFIG, FLOW, LiveService, body, in_process_service, sign

from runtime import ManualClock, RelayError, Runtime, Service, open_store
from runtime.scheduler import Scheduler

#: ``FLOW`` with another last step: what a version-2 execution answers shows it ran version 2.
FLOW_V2 = FLOW.replace(
    'inputs: {value: {n: "${{ trigger.body.n }}"}}',
    'inputs: {value: {n: "${{ trigger.body.n }}", v: 2}}',
)
#: One delivery at a time, so the order executions start in is the order they were released.
ONE_AT_A_TIME = FLOW.replace("trigger:\n", "concurrency: 1\ntrigger:\n", 1)
SCHEDULED = """\
name: every minute
trigger:
  schedule: {every: 1m}
steps:
  - id: tick
    action: relay.value
    inputs: {value: "${{ trigger.scheduled_at }}"}
"""


def answered(row: Any) -> Any:
    assert row.status == "completed", row.result
    return row.result["outputs"]["answer"]["data"]


@pytest.mark.asyncio
async def test_a_redeploy_during_a_burst_loses_and_repeats_nothing(service: LiveService) -> None:
    path = await service.deploy("a")
    before = await service.relay.store.get_instance("a")
    assert before is not None

    async def post(n: int) -> str:
        response = await service.post(path, body(n))
        assert response.status_code == 202, response.text
        assert response.json()["duplicate"] is False
        return str(response.json()["execution_id"])

    first = await asyncio.gather(*(post(n) for n in range(10)))
    during, redeployed = await asyncio.gather(
        asyncio.gather(*(post(n) for n in range(10, 40))),
        service.relay.redeploy("a", FLOW_V2),
    )
    after = await asyncio.gather(*(post(n) for n in range(40, 50)))
    await service.executor.drain()

    assert redeployed.instance.flow_version == 2
    assert redeployed.deployed is False  # a plain webhook has no deploy step to run again
    now = await service.relay.store.get_instance("a")
    assert now is not None and now.webhook_token == before.webhook_token
    assert service.relay.webhook_url(now) == service.relay.webhook_url(before)
    rows = {r.id: r for r in await service.executions(instance="a")}
    assert set(rows) == {*first, *during, *after}  # each delivery recorded once
    for row in rows.values():
        assert row.attempts == 1  # and run once
        expected = {"n": row.payload["body"]["n"]}
        if row.flow_version == 2:  # ran the version it recorded
            expected["v"] = 2
        assert answered(row) == expected
    assert sorted(answered(r)["n"] for r in rows.values()) == list(range(50))
    assert {rows[i].flow_version for i in first} == {1}
    assert {rows[i].flow_version for i in after} == {2}
    versions = await service.relay.flow_versions("a")
    assert [(v.version, v.flow_text) for v in versions] == [(1, FLOW), (2, FLOW_V2)]
    assert versions[1].config == CONFIG


@pytest.mark.asyncio
async def test_a_broken_redeploy_changes_nothing(service: LiveService) -> None:
    path = await service.deploy("a")
    store = service.relay.store
    await store.set_cursor("a", {"since": 7})
    assert (await service.post(path, body(1))).status_code == 202
    await service.executor.drain()
    before = await store.get_instance("a")
    broken = FLOW_V2.replace("action: relay.value", "action: relay.nope")
    with pytest.raises(RelayError) as caught:
        await service.relay.redeploy("a", broken)
    problems = [str(p) for p in getattr(caught.value, "problems", [])]
    assert problems and all(p.startswith(f"{service.flow}:") for p in problems)
    assert any("has no action 'nope'" in p for p in problems)
    with pytest.raises(RelayError, match="hookSecret"):  # a config that does not resolve
        await service.relay.redeploy("a", FLOW_V2, {})
    assert await store.get_instance("a") == before
    assert [v.version for v in await service.relay.flow_versions("a")] == [1]
    # what a working redeploy keeps: the state the first delivery left, and the cursor
    done = await service.relay.redeploy("a", FLOW_V2)
    assert before is not None and done.instance.webhook_token == before.webhook_token
    assert await store.get_cursor("a") == {"since": 7}
    state = await store.load_state("a", "plain webhook")
    assert state["flow"]["last"] == {"n": 1, "pause": 0.0}


@pytest.mark.asyncio
async def test_redeploying_an_unknown_instance_names_it(service: LiveService) -> None:
    with pytest.raises(RelayError, match="no instance named 'ghost'"):
        await service.relay.redeploy("ghost", FLOW)
    for change in (service.relay.pause, service.relay.resume, service.relay.flow_versions):
        with pytest.raises(RelayError, match="no instance named 'ghost'"):
            await change("ghost")


@pytest.mark.asyncio
async def test_pause_holds_deliveries_across_a_restart_and_resume_runs_each_once_in_order(
    tmp_path: Path, store_url: str
) -> None:
    flow = tmp_path / "ordered.yaml"
    flow.write_text(ONE_AT_A_TIME)
    async with in_process_service(Runtime(), store_url, tmp_path) as (relay, executor, client):
        token = (await relay.deploy(flow, CONFIG, "a")).webhook_token
        assert await relay.pause("a") is True
        assert await relay.pause("a") is False
        received = []
        for n in range(6):
            response = await client.post(
                f"/webhooks/{token}", content=body(n), headers=sign(body(n))
            )
            assert response.status_code == 202, response.text
            received.append(response.json()["execution_id"])
        forged = await client.post(f"/webhooks/{token}", content=body(9), headers=sign(b"x"))
        assert forged.status_code == 401  # still verified while paused
        await executor.drain()
        held = await relay.store.list_executions(instance="a", status="held", limit=100)
        assert sorted(r.id for r in held) == sorted(received)
        assert await relay.execute(received[0], "someone") is None  # not claimable

    # a restart: the executor's start resumes unfinished work, and held work is not that
    async with in_process_service(Runtime(), store_url, tmp_path) as (relay, executor, again):
        await executor.drain()
        assert await relay.store.unfinished_executions() == []
        assert (await relay.store.get_instance("a")).status == "paused"  # type: ignore[union-attr]
        rows = await relay.store.list_executions(instance="a", limit=100)
        assert {r.status for r in rows} == {"held"}
        released = await relay.resume("a")
        assert released == received  # the order they were received in
        assert await relay.resume("a") == []  # nothing held twice
        for execution_id in released:
            await executor.submit(execution_id, "a")
        await executor.drain()
        rows = await relay.store.list_executions(instance="a", limit=100)
        by_start = sorted(rows, key=lambda r: r.started_at or 0.0)
        assert [r.id for r in by_start] == received
        assert [answered(r)["n"] for r in by_start] == list(range(6))
        assert {r.attempts for r in rows} == {1}
        # running again: a delivery runs at once
        token = (await relay.store.get_instance("a")).webhook_token  # type: ignore[union-attr]
        response = await again.post(f"/webhooks/{token}", content=body(7), headers=sign(body(7)))
        await executor.drain()
        row = await relay.store.get_execution(response.json()["execution_id"])
        assert row is not None and answered(row) == {"n": 7}


@pytest.mark.asyncio
async def test_undeploying_a_paused_instance_ends_what_it_held(service: LiveService) -> None:
    path = await service.deploy("a")
    await service.relay.pause("a")
    execution_id = (await service.post(path, body(1))).json()["execution_id"]
    await service.relay.undeploy("a")
    row = await service.relay.store.get_execution(execution_id)
    assert row is not None and row.status == "canceled"
    assert "undeployed while paused" in row.result["error"]["message"]  # type: ignore[index]


@pytest.mark.asyncio
async def test_a_paused_schedule_does_not_fire(tmp_path: Path, store_url: str) -> None:
    clock = ManualClock(now=1_800_000_000.0)
    runtime = Runtime(clock=clock)
    flow = tmp_path / "ticker.yaml"
    flow.write_text(SCHEDULED)
    async with in_process_service(runtime, store_url, tmp_path) as (relay, executor, _):
        scheduler = Scheduler(relay, executor)
        await relay.deploy(flow, {}, "ticker")
        assert len(await scheduler.run_due()) == 1
        await relay.pause("ticker")
        for _ in range(3):
            clock.advance(61)
            assert await scheduler.run_due() == []
        await relay.resume("ticker")
        assert len(await scheduler.run_due()) == 1  # due at once, not a firing per missed minute
        await executor.drain()
        assert len(await relay.store.list_executions(instance="ticker")) == 2


@pytest.mark.asyncio
async def test_a_replay_runs_the_original_or_the_current_version(service: LiveService) -> None:
    path = await service.deploy("a")
    first = (await service.post(path, body(3))).json()["execution_id"]
    await service.executor.drain()
    await service.relay.redeploy("a", FLOW_V2)
    original = await service.relay.replay(first)
    current = await service.relay.replay(first, flow_version="current")
    for execution_id in (original, current):
        await service.executor.submit(execution_id, "a")
    await service.executor.drain()
    rows = [await service.relay.store.get_execution(i) for i in (original, current)]
    assert [(r.flow_version, answered(r)) for r in rows if r] == [
        (1, {"n": 3}),
        (2, {"n": 3, "v": 2}),
    ]


#: Flow texts near ``FLOW_V2``: lines dropped, doubled or garbled, or any text at all.
_LINES = FLOW_V2.splitlines(keepends=True)
_EDITED = st.lists(
    st.sampled_from(range(len(_LINES))), min_size=1, max_size=3, unique=True
).flatmap(
    lambda picked: st.tuples(
        st.just(picked),
        st.lists(st.sampled_from(["", "  ", ":", "- ", "${{ x", "{", "steps: 1\n"]), min_size=3),
    )
)


def _edited(picked: tuple[list[int], list[str]]) -> str:
    lines = list(_LINES)
    for index, junk in zip(picked[0], picked[1], strict=False):
        lines[index] = junk + lines[index][len(junk) :] if junk else ""
    return "".join(lines)


def test_any_flow_text_redeploys_whole_or_changes_nothing(tmp_path: Path) -> None:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    with asyncio.Runner() as loop:
        store = loop.run(open_store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", data_dir=tmp_path))
        runtime = Runtime()
        relay = Service(runtime, store, base_url="http://relay.test")
        loop.run(relay.deploy(flow, CONFIG, "a"))

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.one_of(_EDITED.map(_edited), st.text(max_size=80)))
        def attempt(text: str) -> None:
            before = loop.run(store.get_instance("a"))
            assert before is not None
            try:
                done = loop.run(relay.redeploy("a", text))
            except RelayError as exc:
                assert "\n" not in str(exc).strip() or getattr(exc, "problems", None)
                assert loop.run(store.get_instance("a")) == before
            else:
                assert done.instance.flow_version == before.flow_version + 1
                assert done.instance.webhook_token == before.webhook_token
                assert done.instance.flow_text == text

        try:
            attempt()
        finally:
            loop.run(relay.aclose())
            loop.run(runtime.aclose())
            loop.run(store.close())


LABELLED = FLOW.replace(
    "  hookSecret: {type: string, secret: true}\n",
    "  hookSecret: {type: string, secret: true}\n  label: {type: string}\n",
).replace('inputs: {value: {n: "${{ trigger.body.n }}"}}', 'inputs: {value: "${{ config.label }}"}')


@pytest.mark.asyncio
async def test_each_execution_runs_with_the_config_of_its_own_version(
    service: LiveService,
) -> None:
    """Held across a redeploy that changed the config: what was recorded before runs with the
    old config, what came after with the new, whichever the instance has when they run."""
    service.flow.write_text(LABELLED)
    instance = await service.relay.deploy(service.flow, {**CONFIG, "label": "one"}, "a")
    path = f"/webhooks/{instance.webhook_token}"
    await service.relay.pause("a")
    before = (await service.post(path, body(1))).json()["execution_id"]
    await service.relay.redeploy("a", LABELLED, {**CONFIG, "label": "two"})
    after = (await service.post(path, body(2))).json()["execution_id"]
    for execution_id in await service.relay.resume("a"):
        await service.executor.submit(execution_id, "a")
    await service.executor.drain()
    rows = [await service.relay.store.get_execution(i) for i in (before, after)]
    assert [(r.flow_version, answered(r)) for r in rows if r] == [
        (1, "one"),
        (2, "two"),
    ]
