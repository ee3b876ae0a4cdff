"""relay's built-in component (key ``relay``): values, pauses and persisted state.

It registers through the ``relay.components`` entry point like any third-party component.
"""

from __future__ import annotations

from typing import Any

from runtime.context import Context
from runtime.declarations import Action, Choice, Component, Input
from runtime.hookspecs import Register, hookimpl

_SCOPES = (
    Choice("execution", "This execution"),
    Choice("flow", "This instance, across executions"),
    Choice("cross_flow", "Every flow of this instance"),
    Choice("integration", "Every instance"),
)
_SCOPE = Input("scope", "Scope", required=True, default="flow", choices=_SCOPES)
_KEY = Input("key", "Key", required=True, schema={"minLength": 1})
#: Any JSON value, taken as it is: a string stays a string (structured values come from YAML
#: or expressions). A ``code`` input would read every string as JSON text.
_ANY = {"type": ["string", "number", "boolean", "object", "array", "null"]}


def _any(key: str, label: str, comments: str) -> Input:
    return Input(key, label, "string", schema=_ANY, comments=comments)


async def value(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": params.get("value")}


async def pause(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    await ctx.sleep(params["seconds"])
    return {"data": params["seconds"]}


async def set_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    getattr(ctx.state, params["scope"])[params["key"]] = params.get("value")
    return {"data": params.get("value")}


async def get_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": getattr(ctx.state, params["scope"]).get(params["key"], params.get("default"))}


BUILTINS = Component(
    key="relay",
    label="relay",
    description="Built-in actions: compose values, pause, and keep state between executions.",
    actions=(
        Action(
            "value",
            "Value",
            "Returns its input: compose or reshape data with expressions.",
            (_any("value", "Value", "Any value: returned as it is."),),
            value,
            output_schema={"type": "object", "required": ["data"]},
        ),
        Action(
            "sleep",
            "Sleep",
            "Pauses the execution.",
            (
                Input(
                    "seconds",
                    "Seconds",
                    "number",
                    required=True,
                    schema={"minimum": 0, "maximum": 3600},
                ),
            ),
            pause,
            output_schema={"type": "object", "properties": {"data": {"type": "number"}}},
        ),
        Action(
            "setState",
            "Set State",
            "Stores a value under a key in a state scope (persisted with the execution).",
            (_SCOPE, _KEY, _any("value", "Value", "Any value: stored as it is.")),
            set_state,
            output_schema={"type": "object", "required": ["data"]},
        ),
        Action(
            "getState",
            "Get State",
            "Reads a value stored with Set State (or the default).",
            (_SCOPE, _KEY, _any("default", "Default", "Returned when nothing is stored.")),
            get_state,
            output_schema={"type": "object", "required": ["data"]},
        ),
    ),
)


@hookimpl
def register_components(register: Register) -> None:
    register(BUILTINS)
