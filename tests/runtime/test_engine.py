"""The engine: steps, branches, loops, retries, error policy, records."""

from __future__ import annotations

import pytest

from runtime import ManualClock, Runtime


def flow_text(steps: str, config: str = "") -> str:
    return f"name: engine\n{config}steps:\n{steps}"


@pytest.mark.asyncio
async def test_sync_and_async_actions_with_references(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: a
    action: widgets.add
    inputs: {values: [1, 2.5]}
  - id: b
    action: widgets.echo
    inputs: {text: "sum=${{ steps.a.data }} for ${{ trigger.who }}", count: "${{ int(steps.a.data) }}"}
""")
    )
    result = await rt.run(flow, payload={"who": "ada"})
    assert result.status == "completed"
    assert result.outputs["b"] == {"data": {"text": "sum=3.5 for ada", "count": 3}}
    assert [s.attempts for s in result.steps] == [1, 1]


@pytest.mark.asyncio
async def test_branch_and_loop(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: route
    branch:
      - name: big
        when: "${{ trigger.n > 10 }}"
        steps:
          - id: big_one
            action: widgets.echo
            inputs: {text: big}
    else:
      - id: each
        for_each: "${{ trigger.items }}"
        steps:
          - id: say
            action: widgets.echo
            inputs: {text: "${{ item.name }}", count: "${{ index }}"}
""")
    )
    small = await rt.run(flow, payload={"n": 1, "items": [{"name": "x"}, {"name": "y"}]})
    assert small.status == "completed"
    assert small.outputs["route"] == {"branch": "else"}
    assert [r["say"]["data"]["text"] for r in small.outputs["each"]["results"]] == ["x", "y"]
    assert [s.path for s in small.steps] == [
        "route",
        "route.else.each[0].say",
        "route.else.each[1].say",
        "route.else.each",
    ]
    big = await rt.run(flow, payload={"n": 11, "items": []})
    assert big.outputs["route"] == {"branch": "big"}
    assert "big_one" in big.outputs


@pytest.mark.asyncio
async def test_retries_back_off_with_the_clock(rt: Runtime, clock: ManualClock) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: f
    action: widgets.flaky
    inputs: {failures: 3}
    retry: {attempts: 4, backoff: exponential, initial: 1s, max: 3s, jitter: false}
""")
    )
    result = await rt.run(flow)
    assert result.status == "completed"
    assert result.steps[0].attempts == 4
    assert clock.slept == [1.0, 2.0, 3.0]


@pytest.mark.asyncio
async def test_retries_exhausted_fail_the_execution(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: f
    action: widgets.flaky
    inputs: {failures: 5}
    retry: {attempts: 2, initial: 10ms}
  - id: never
    action: widgets.echo
    inputs: {text: x}
""")
    )
    result = await rt.run(flow)
    assert result.status == "failed"
    assert result.error == {
        "step": "f",
        "type": "RetriableApiError",
        "message": "try later",
        "status": 503,
        "title": "Unavailable",
        "details": [],
    }
    assert result.steps[0].attempts == 2
    assert "never" not in result.outputs


@pytest.mark.asyncio
async def test_fatal_errors_are_not_retried_and_continue_policy(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: f
    action: widgets.fail
    retry: {attempts: 5}
    on_error: continue
  - id: after
    action: widgets.echo
    inputs: {text: "${{ string(steps.f.error.status) }}"}
""")
    )
    result = await rt.run(flow)
    assert result.status == "completed"
    assert result.steps[0].status == "failed"
    assert result.steps[0].attempts == 1
    assert result.outputs["after"]["data"]["text"] == "404"


@pytest.mark.asyncio
async def test_runtime_input_errors_name_the_paths(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: e
    action: widgets.echo
    inputs: {text: "${{ trigger.text }}", count: "${{ trigger.count }}"}
""")
    )
    result = await rt.run(flow, payload={"text": 5, "count": "x"})
    assert result.status == "failed"
    assert result.error is not None
    assert {p["path"] for p in result.error["problems"]} == {"$.text", "$.count"}


@pytest.mark.asyncio
async def test_when_skips_and_secrets_are_redacted(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text(
            """\
  - id: skip
    action: widgets.echo
    when: "${{ false }}"
    inputs: {text: x}
  - id: keep
    action: widgets.echo
    inputs: {text: "the key is ${{ config.key }}", secret: "${{ config.key }}"}
""",
            config="config:\n  key: {type: string, secret: true}\n",
        )
    )
    result = await rt.run(flow, config={"key": "s3cr3t-value"})
    assert result.steps[0].status == "skipped"
    record = result.steps[1].as_dict()
    assert record["inputs"]["secret"] == "[password]"
    assert "s3cr3t-value" not in str(result.as_dict())


def test_run_sync(sync_rt: Runtime) -> None:
    flow = sync_rt.load_flow_text(
        flow_text("  - id: a\n    action: widgets.add\n    inputs: {values: [1, 2]}\n")
    )
    result = sync_rt.run_sync(flow)
    assert result.ok and result.outputs["a"] == {"data": 3}


@pytest.mark.asyncio
async def test_reused_outputs_skip_earlier_steps(rt: Runtime) -> None:
    flow = rt.load_flow_text(
        flow_text("""\
  - id: a
    action: widgets.fail
  - id: b
    action: widgets.echo
    inputs: {text: "${{ steps.a.data }}"}
""")
    )
    result = await rt.run(flow, reused_outputs={"a": {"data": "from before"}})
    assert result.status == "completed"
    assert [s.status for s in result.steps] == ["reused", "completed"]
    assert result.outputs["b"]["data"]["text"] == "from before"


def test_a_query_written_in_the_path_is_kept_and_merged() -> None:
    from runtime.http import _merge_query

    assert _merge_query("http://x/a?b=1&c=", {"d": 2}) == (
        "http://x/a",
        [("b", "1"), ("c", ""), ("d", 2)],
    )
    assert _merge_query("http://x/a", {}) == ("http://x/a", None)
    assert _merge_query("http://x/a", {"tags": ["p", "q"]}) == (
        "http://x/a",
        [("tags", "p"), ("tags", "q")],
    )


@pytest.mark.asyncio
async def test_a_long_run_of_steps_that_never_suspend_lets_the_event_loop_run(
    rt: Runtime,
) -> None:
    import asyncio

    flow = rt.load_flow_text(
        flow_text("""\
  - id: each
    for_each: "${{ trigger.items }}"
    steps:
      - id: copy
        action: widgets.echo
        inputs: {text: x, count: "${{ item }}"}
""")
    )
    turns = 0

    async def other_work() -> None:  # counts the loop's turns while the execution runs
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    ticker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = turns
    result = await rt.run(flow, payload={"items": list(range(5000))})
    during = turns - before
    ticker.cancel()
    assert result.status == "completed" and result.outputs["each"]["count"] == 5000
    assert during > 0  # widgets.echo never suspends: without a turn given, this would be 0


def test_a_step_context_derives_its_idempotency_key_on_first_read(rt: Runtime) -> None:
    """The engine's contexts are ``keyed``: the key is the step's (the same as
    ``idempotency_key(execution, step)``), worked out when read; a key given wins, and a
    context that is neither has none."""
    from runtime import Context, idempotency_key

    def context(**extra: object) -> Context:
        made = {"execution_id": "e1", "flow": "f", "step": "a.b", "logger": rt.logger}
        return Context(**made, clock=rt.clock, http_client=None, **extra)  # type: ignore[arg-type]

    keyed = context(keyed=True)
    assert keyed.idempotency_key == idempotency_key("e1", "a.b")
    assert keyed.idempotency_key != idempotency_key("e1", "a.c")
    assert context(keyed=True, idempotency_key="given").idempotency_key == "given"
    assert context().idempotency_key is None
