"""Mutations of a valid flow: only FlowError comes out, every problem is inside the document,
and every independent fault injected is reported (one mistake never hides another)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st
from relay_widgets import WidgetsPlugin

from runtime import Flow, FlowError, Runtime

RUNTIME = Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
STEPS = 5


def base() -> dict[str, Any]:
    """A valid flow: a config variable, then STEPS action steps and a loop."""
    steps: list[dict[str, Any]] = [
        {
            "id": f"s{i}",
            "action": "widgets.echo",
            "inputs": {"text": f"${{{{ config.greeting }}}} {i}", "count": i + 1},
            "retry": {"attempts": 2, "initial": "1s"},
        }
        for i in range(STEPS)
    ]
    steps.append(
        {
            "id": "each",
            "for_each": "${{ [1, 2] }}",
            "steps": [{"id": "inner", "action": "widgets.echo", "inputs": {"text": "${{ item }}"}}],
        }
    )
    return {"name": "mutated", "config": {"greeting": {"type": "string"}}, "steps": steps}


Fault = Callable[[dict[str, Any]], None]

#: Faults of one action step, each independent of the others and of the other steps.
FAULTS: dict[str, Fault] = {
    "rename action": lambda s: s.update(actoin=s.pop("action")),
    "drop id": lambda s: s.pop("id"),
    "unknown step key": lambda s: s.update(retyr={}),
    "two kinds": lambda s: s.update(for_each="${{ [1] }}"),
    "unknown action": lambda s: s.update(action="widgets.ecko"),
    "unknown component": lambda s: s.update(action="gadgets.echo"),
    "wrong input type": lambda s: s["inputs"].update(count="many"),
    "unknown input": lambda s: s["inputs"].update(colour="red"),
    "drop required input": lambda s: s["inputs"].pop("text"),
    "inputs not a mapping": lambda s: s.update(inputs=["x"]),
    "bad retry": lambda s: s["retry"].update(initial="1x"),
    "retry attempts": lambda s: s["retry"].update(attempts=0),
    "unknown retry key": lambda s: s["retry"].update(tries=3),
    "bad expression": lambda s: s["inputs"].update(text="${{ config. }}"),
    "unknown config": lambda s: s["inputs"].update(text="${{ config.greting }}"),
    "item outside a loop": lambda s: s["inputs"].update(text="${{ item.name }}"),
    "later step": lambda s: s["inputs"].update(text="${{ steps.each.count }}"),
    "loop body from outside": lambda s: s["inputs"].update(text="${{ steps.inner.data }}"),
    "literal when": lambda s: s.update(when="yes"),
    "constant when": lambda s: s.update(when="${{ 1 }}"),
    "bad timeout": lambda s: s.update(timeout="soon"),
    "bad on_error": lambda s: s.update(on_error="ignore"),
}


def dump(document: dict[str, Any], style: str) -> str:
    if style == "json":
        return json.dumps(document, indent=2)
    if style == "flow":
        return str(yaml.safe_dump(document, default_flow_style=True, width=80))
    return str(yaml.safe_dump(document, sort_keys=False))


def check_places(text: str, exc: FlowError) -> None:
    lines = text.split("\n")
    for problem in exc.problems:
        assert problem.file == "m.yaml"
        assert 1 <= problem.line <= len(lines), problem
        assert 1 <= problem.column <= len(lines[problem.line - 1]) + 1, problem
        assert problem.message and "\n" not in problem.message


@given(
    st.lists(st.sampled_from(sorted(FAULTS)), max_size=STEPS),
    st.sampled_from(["block", "flow", "json"]),
)
def test_every_injected_fault_is_reported_at_a_place_in_the_document(
    faults: list[str], style: str
) -> None:
    document = base()
    for index, fault in enumerate(faults):  # one fault per step: they cannot overlap
        FAULTS[fault](document["steps"][index])
    text = dump(document, style)
    try:
        loaded = RUNTIME.load_flow_text(text, "m.yaml")
    except FlowError as exc:
        check_places(text, exc)
        assert len(exc.problems) >= len(faults), (faults, [str(p) for p in exc.problems])
        return
    assert not faults
    assert isinstance(loaded, Flow)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["", "x", "1x", "yes", "${{ item }}", "${{ steps.s0.data }}", "${{ ) }}"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "action", "steps", "when", "x"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


def paths_of(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths_of(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths_of(item, (*path, index)))
    return found


@given(st.data(), st.sampled_from(["replace", "drop", "rename"]), json_values)
def test_any_change_anywhere_gives_only_flow_errors_inside_the_document(
    data: st.DataObject, how: str, value: Any
) -> None:
    document = base()
    path = data.draw(st.sampled_from(paths_of(document)[1:]))
    last = path[-1]
    mutated = copy.deepcopy(document)
    target = mutated
    for part in path[:-1]:
        target = target[part]
    if how == "replace":
        target[last] = value
    elif isinstance(target, dict):
        item = target.pop(last)
        if how == "rename":
            target[f"{last}_"] = item
    else:
        target.pop(last)
    text = dump(mutated, "block")
    try:
        RUNTIME.load_flow_text(text, "m.yaml")
    except FlowError as exc:
        check_places(text, exc)
