"""``${{ CEL }}`` templates: typed whole values, interpolation, limits, references."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import ExpressionError
from runtime.expressions import MAX_MACRO_NESTING, compile_template

SCOPE = {
    "config": {"n": 2, "name": "ada"},
    "steps": {"a": {"data": [1, 2, 3]}},
    "trigger": {},
    "state": {},
    "item": None,
    "index": None,
}


def test_whole_value_keeps_its_type() -> None:
    assert compile_template("${{ steps.a.data }}").render(SCOPE) == [1, 2, 3]
    assert compile_template("  ${{ config.n * 2 }} ").render(SCOPE) == 4


def test_interpolation_renders_strings_and_json() -> None:
    template = compile_template("hi ${{ config.name }}: ${{ steps.a.data }}")
    assert template.render(SCOPE) == "hi ada: [1, 2, 3]"


def test_step_references_are_listed_statically() -> None:
    template = compile_template("${{ steps.a.data.size() + steps['b'].x + size('steps.c') }}")
    assert template.expressions[0].steps == {"a", "b"}


def test_syntax_errors_and_missing_keys_are_relay_errors() -> None:
    with pytest.raises(ExpressionError, match="syntax error"):
        compile_template("${{ config. }}")
    with pytest.raises(ExpressionError, match="no such key"):
        compile_template("${{ config.missing }}").render(SCOPE)
    with pytest.raises(ExpressionError):
        compile_template("${{ 1 / 0 }}").render(SCOPE)


def test_nesting_is_capped_at_compile_time() -> None:
    deep = "[" * 40 + "1" + "]" * 40
    with pytest.raises(ExpressionError, match="nesting"):
        compile_template("${{ " + deep + " }}")
    macros = "[1]" + ".map(x, [1]" * (MAX_MACRO_NESTING + 1) + ")" * (MAX_MACRO_NESTING + 1)
    with pytest.raises(ExpressionError, match="macro nesting"):
        compile_template("${{ " + macros + " }}")


@given(st.text(max_size=60))
def test_random_expressions_only_raise_relay_errors(source: str) -> None:
    try:
        template = compile_template("${{ " + source.replace("}}", "") + " }}")
        template.render(SCOPE)
    except ExpressionError:
        pass


def test_config_only_templates_render_once_per_execution_as_fresh_copies() -> None:
    from runtime.expressions import ConfigCache, compile_template, render_value

    inputs = {
        "a": compile_template("${{ config.conn }}"),
        "b": [compile_template("x ${{ config.n }}")],
        "c": compile_template("${{ steps.s.v }}"),
    }
    scope = {"config": {"conn": {"$connection": "c"}, "n": 1}, "steps": {"s": {"v": [1]}}}
    cache: ConfigCache = {}
    first = render_value(inputs, scope, cache)
    assert (
        first == render_value(inputs, scope) == {"a": {"$connection": "c"}, "b": ["x 1"], "c": [1]}
    )
    assert set(cache) == {"${{ config.conn }}", "x ${{ config.n }}"}
    first["a"]["$connection"] = "changed"  # an action changing its params changes no later step's
    second = render_value(inputs, {**scope, "steps": {"s": {"v": [2]}}}, cache)
    assert second == {"a": {"$connection": "c"}, "b": ["x 1"], "c": [2]}


# --- plain references are walked without CEL, with CEL's results and errors -----------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.sampled_from(["a", "b", "c d"]), inner, max_size=3)
    ),
    max_leaves=12,
)
_step = st.sampled_from([".a", ".b", "['a']", '["c d"]', "[0]", "[1]", "[2]"])


def _cel_only(source: str, scope: dict[str, Any]) -> tuple[str, object]:
    expression = compile_template("${{ " + source + " }}").parts[0]
    assert not isinstance(expression, str) and expression.path is not None
    slow = attrs.evolve(expression, path=None)
    outcomes = []
    for expr in (expression, slow):
        try:
            outcomes.append(("value", expr.evaluate(scope)))
        except ExpressionError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


@given(value=_json, steps=st.lists(_step, max_size=4))
def test_plain_references_evaluate_exactly_as_cel(value: object, steps: list[str]) -> None:
    _cel_only("item" + "".join(steps), {"item": value})


def test_plain_references_cover_the_common_shapes() -> None:
    scope: dict[str, Any] = {
        "steps": {"me": {"data": {"uri": "u", "tags": ["x", b"y"]}}},
        "item": None,
    }
    assert _cel_only("steps.me.data.uri", scope) == ("value", "u")
    assert _cel_only("steps.me.data.tags", scope) == ("value", ["x", "y"])
    assert _cel_only("steps['me'].data.tags[1]", scope) == ("value", "y")
    assert _cel_only("steps.me.nope", scope)[0] == "error"
    assert _cel_only("item.name", scope)[0] == "error"
    for not_plain in ("steps.me.data.uri + 'x'", "size(steps)", "true", "steps.me[-1]"):
        expression = compile_template("${{ " + not_plain + " }}").parts[0]
        assert not isinstance(expression, str) and expression.path is None


def test_plain_references_do_not_call_cel() -> None:
    expression = compile_template("${{ steps.me.data[0] }}").parts[0]
    assert not isinstance(expression, str)
    without_cel = attrs.evolve(expression, program=None)  # calling CEL would fail
    assert without_cel.evaluate({"steps": {"me": {"data": [{"x": 1}]}}}) == {"x": 1}
