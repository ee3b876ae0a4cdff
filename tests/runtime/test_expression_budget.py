"""The expression budget: iterating expressions estimated before they run, evaluated inline
when cheap and in a child process under a time limit otherwise; a step past it fails with one
line naming the step and the input, while the event loop goes on running other work."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import ConfigurationError, ExpressionError, Runtime
from runtime import expression_budget as budget
from runtime.expression_isolation import _BY_LOOP, EvaluationTimedOut, IsolatedEvaluator
from runtime.expressions import compile_expression

BOMB = "trigger.xs.exists(a, trigger.xs.exists(b, trigger.xs.exists(c, a + b + c < 0)))"


@pytest.fixture(autouse=True)
def fresh_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Each test reads the budget settings from its own environment."""
    monkeypatch.delenv("RELAY_EXPRESSION_BUDGET", raising=False)
    monkeypatch.delenv("RELAY_EXPRESSION_TIME_LIMIT", raising=False)
    budget.current_budget.cache_clear()
    yield monkeypatch
    budget.current_budget.cache_clear()


def flow_text(steps: str) -> str:
    return f"name: budget\ntrigger: {{manual: {{}}}}\nsteps:\n{steps}"


VALUE_BOMB = flow_text(
    f"""  - id: explode
    action: relay.value
    inputs:
      value: "${{{{ {BOMB} }}}}"
"""
)


async def run(text: str, payload: Any) -> Any:
    runtime = Runtime()
    try:
        return await runtime.run(runtime.load_flow_text(text, "budget.yaml"), payload=payload)
    finally:
        await runtime.aclose()


@pytest.mark.asyncio
async def test_a_bomb_fails_its_step_naming_it_and_the_loop_keeps_running(
    fresh_budget: pytest.MonkeyPatch,
) -> None:
    fresh_budget.setenv("RELAY_EXPRESSION_TIME_LIMIT", "0.5")
    turns = 0

    async def other_work() -> None:  # counts the loop's turns while the bomb is evaluated
        nonlocal turns
        while True:
            await asyncio.sleep(0)  # one turn of the loop (what is counted), not a wait
            turns += 1

    ticker = asyncio.create_task(other_work())
    before = turns
    result = await run(VALUE_BOMB, {"xs": list(range(400))})  # 64 million steps
    during = turns - before
    ticker.cancel()
    assert result.status == "failed"
    assert result.error["type"] == "ExpressionError"
    message = result.error["message"]
    assert message.startswith(
        "steps.explode.inputs.value: expression exceeded its evaluation budget (still running"
        " after 0.5 s, RELAY_EXPRESSION_TIME_LIMIT"
    )
    assert "\n" not in message
    assert during > 0  # evaluated inline, the loop would not have turned once


@pytest.mark.asyncio
async def test_loops_and_conditions_are_budgeted_too(fresh_budget: pytest.MonkeyPatch) -> None:
    fresh_budget.setenv("RELAY_EXPRESSION_TIME_LIMIT", "0.3")
    loop = f"""  - id: each
    for_each: "${{{{ [{BOMB}] }}}}"
    steps:
      - id: inner
        action: relay.value
        inputs: {{value: 1}}
"""
    when = f"""  - id: maybe
    when: "${{{{ {BOMB} }}}}"
    action: relay.value
    inputs: {{value: 1}}
    on_error: continue
"""
    big = {"xs": list(range(400))}
    looped = await run(flow_text(loop), big)
    assert looped.error["message"].startswith("steps.each.for_each: expression exceeded")
    guarded = await run(flow_text(when), big)
    assert guarded.status == "completed"  # on_error: continue
    assert guarded.steps[0].error["message"].startswith("steps.maybe.when: expression exceeded")


@pytest.mark.asyncio
async def test_a_cheap_iterating_expression_stays_inline() -> None:
    loop = asyncio.get_running_loop()
    text = flow_text(
        """  - id: small
    action: relay.value
    inputs: {value: "${{ trigger.xs.map(a, trigger.xs.map(b, a * b)) }}"}
"""
    )
    result = await run(text, {"xs": [1, 2, 3]})
    assert result.outputs["small"]["data"] == [[1, 2, 3], [2, 4, 6], [3, 6, 9]]
    assert loop not in _BY_LOOP  # no child process was needed


@pytest.mark.asyncio
async def test_over_the_estimate_the_child_gives_the_inline_value_and_error(
    fresh_budget: pytest.MonkeyPatch,
) -> None:
    fresh_budget.setenv("RELAY_EXPRESSION_BUDGET", "0")  # every iterating expression isolated
    ok = await run(
        flow_text(
            """  - id: doubled
    action: relay.value
    inputs: {value: {text: "n=${{ trigger.xs.map(a, a * 2) }}"}}
"""
        ),
        {"xs": [1, 2]},
    )
    assert ok.outputs["doubled"]["data"] == {"text": "n=[2, 4]"}
    bad = await run(
        flow_text(
            """  - id: wrong
    action: relay.value
    inputs: {value: "${{ trigger.xs.map(a, a.b) }}"}
"""
        ),
        {"xs": [1]},
    )
    inline = compile_expression("trigger.xs.map(a, a.b)")
    with pytest.raises(ExpressionError) as caught:
        inline.evaluate({"trigger": {"xs": [1]}})
    assert bad.error["message"] == str(caught.value)


@pytest.mark.asyncio
async def test_a_child_past_its_time_limit_is_replaced() -> None:
    evaluator = IsolatedEvaluator(children=1)
    try:
        with pytest.raises(EvaluationTimedOut):
            await evaluator.evaluate(BOMB, {"trigger": {"xs": list(range(400))}}, 0.2)
        assert await evaluator.evaluate("xs.map(a, a + 1)", {"xs": [1]}, 30) == [2]
    finally:
        await evaluator.aclose()


# the estimate bounds the work: innermost iterations of nested macros over lists
SIZES = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=3)


@given(sizes=SIZES, limit=st.integers(min_value=0, max_value=50_000))
def test_the_estimate_bounds_the_innermost_iterations(sizes: list[int], limit: int) -> None:
    names = [f"l{i}" for i in range(len(sizes))]
    source = "true"
    for depth in reversed(range(len(sizes))):
        source = f"{names[depth]}.exists(v{depth}, !({source}))"
    expr = compile_expression(source)
    bindings = {name: list(range(size)) for name, size in zip(names, sizes, strict=True)}
    iterations = 1
    for size in sizes:
        iterations *= size
    found = budget.estimate(expr, bindings, limit)
    assert found > limit or found >= iterations


@given(data=st.recursive(st.integers() | st.text(), lambda kids: st.lists(kids, max_size=4)))
def test_counting_stops_once_over_the_cap(data: Any) -> None:
    counted = budget._elements([data], 3)
    assert counted <= budget._elements([data], 10**9)
    assert counted >= min(budget._elements([data], 10**9), 3)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("RELAY_EXPRESSION_BUDGET", "lots", "RELAY_EXPRESSION_BUDGET='lots' is not a valid int"),
        ("RELAY_EXPRESSION_BUDGET", "-1", "RELAY_EXPRESSION_BUDGET='-1': must be a finite"),
        ("RELAY_EXPRESSION_TIME_LIMIT", "0", "RELAY_EXPRESSION_TIME_LIMIT='0': must be a finite"),
        ("RELAY_EXPRESSION_TIME_LIMIT", "nan", "RELAY_EXPRESSION_TIME_LIMIT='nan': must be"),
    ],
)
def test_budget_settings_are_checked(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        budget.Budget.from_env({name: raw})
    assert str(caught.value).startswith(message)
    assert budget.Budget.from_env(
        {"RELAY_EXPRESSION_BUDGET": "0", "RELAY_EXPRESSION_TIME_LIMIT": "1.5"}
    ) == budget.Budget(inline=0, time_limit=1.5)


ITERATING = [
    "${{ xs.map(a, a * 2) }}",
    "${{ xs.filter(a, a > 1) }}",
    "${{ xs.map(a, xs.exists(b, a == b + 1)) }}",
    "n: ${{ xs.all(a, a >= 0) }} ${{ xs.exists_one(a, a == 3) }}",
]


@given(
    xs=st.lists(st.integers(min_value=-5, max_value=5), max_size=10),
    template=st.sampled_from(ITERATING),
)
def test_budgeted_rendering_gives_what_inline_rendering_gives(xs: list[int], template: str) -> None:
    from runtime.expressions import compile_template, render_value

    value = {"out": [compile_template(template)], "plain": "text"}
    scope = {"xs": xs}
    expected = render_value(value, scope)
    assert asyncio.run(budget.render(value, scope, "steps.s.inputs")) == expected


def test_a_long_chain_of_concatenations_is_estimated_and_a_short_one_is_not() -> None:
    chain = compile_expression(" + ".join(["xs"] * 200))
    assert chain.budgeted and not compile_expression("xs + ys + [1]").budgeted
    assert budget.estimate(chain, {"xs": list(range(5000))}, 20_000) > 20_000
    assert budget.estimate(compile_expression("xs + ys"), {"xs": [1] * 10**6}, 0) == 0


@pytest.mark.asyncio
async def test_a_concatenation_bomb_is_evaluated_away_from_the_loop() -> None:
    loop = asyncio.get_running_loop()
    chain = " + ".join(["trigger.xs"] * 100)
    text = flow_text(
        f"""  - id: joined
    action: relay.value
    inputs: {{value: {{n: "${{{{ size({chain}) }}}}"}}}}
"""
    )
    result = await run(text, {"xs": list(range(1000))})
    assert result.outputs["joined"]["data"] == {"n": 100_000}
    assert loop in _BY_LOOP  # a child process evaluated it
    await _BY_LOOP[loop].aclose()
