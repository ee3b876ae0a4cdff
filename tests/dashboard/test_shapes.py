"""The dashboard's shapes: JSON shown as bounded, encodable text that autoescaping keeps text
(any value), and the step tree built from step paths."""

from __future__ import annotations

import html
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runtime.dashboard.shapes import JSON_SHOWN, chart, shown_json, step_tree
from runtime.dashboard.web import environment

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
TEMPLATE = environment().from_string(
    "<pre>{{ value|json }}</pre><p title='{{ text }}'>{{ text }}</p>"
)


@given(values, st.text())
def test_any_value_renders_as_text_and_encodes(value: Any, text: str) -> None:
    page = TEMPLATE.render(value=value, text=text)
    page.encode("utf-8")  # a lone surrogate never breaks the answer
    inner = page.removeprefix("<pre>").split("</pre>")[0]
    assert "<" not in inner and ">" not in inner
    assert html.unescape(inner) == shown_json(value)
    shown = page.split("<p title='")[1]
    assert "<" not in shown.split("</p>")[0] and "'" not in shown.split("'>")[0]


def test_long_and_deep_values_are_bounded() -> None:
    long = shown_json("x" * (JSON_SHOWN * 2))
    assert len(long) < JSON_SHOWN + 100 and "more characters not shown" in long
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert shown_json(deep) == "(nested too deeply to show)"
    assert shown_json("\ud800") == '"\\ud800"'


def test_the_tree_nests_cases_and_iterations_whatever_the_record_order() -> None:
    def record(path: str, start: float, ms: float = 10.0) -> dict[str, Any]:
        return {"id": path.rsplit(".", 1)[-1], "path": path, "started_at": start, "duration_ms": ms}

    steps = [
        record("a", 0.0),
        record("b", 0.01),
        record("b.yes.c[0].d", 0.02),
        record("b.yes.c[1].d", 0.03),
        record("b.yes.c", 0.02, 20),  # a loop's record comes after its iterations
        record("e", 0.05, 50),
    ]
    steps[2]["id"] = steps[3]["id"] = "d"
    tree = step_tree(steps, 0.0)
    assert [n.record["path"] for n in tree] == ["a", "b", "e"]
    [(case, [loop])] = tree[1].groups
    assert case == "yes" and loop.record["path"] == "b.yes.c"
    assert [(label, [n.record["path"] for n in kids]) for label, kids in loop.groups] == [
        ("iteration 0", ["b.yes.c[0].d"]),
        ("iteration 1", ["b.yes.c[1].d"]),
    ]
    assert tree[0].offset == 0.0 and tree[2].offset == 50.0 and tree[2].width == 50.0
    # a path whose parent is absent stays at the top; junk times draw no bar
    odd = step_tree([{"path": "x.y.z", "started_at": float("nan")}], None)
    assert len(odd) == 1 and odd[0].width == 0.0
    json.dumps([n.record for n in odd], allow_nan=True)


def test_the_chart_stacks_each_hour_against_the_busiest() -> None:
    drawn = chart({"completed": [2, 0, 4], "failed": [2, 0, 0], "running": [0, 0, 0]}, 3)
    assert drawn["total"] == 8 and drawn["counts"]["failed"] == 2
    first, empty, last = drawn["bars"]
    assert first["completed"] == 50.0 and first["failed"] == 50.0 and last["completed"] == 100.0
    assert empty["total"] == 0
