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
            (Input("value", "Value", "code"),),
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
            (_SCOPE, _KEY, Input("value", "Value", "code")),
            set_state,
            output_schema={"type": "object", "required": ["data"]},
        ),
        Action(
            "getState",
            "Get State",
            "Reads a value stored with Set State (or the default).",
            (_SCOPE, _KEY, Input("default", "Default", "code")),
            get_state,
            output_schema={"type": "object", "required": ["data"]},
        ),
    ),
)


@hookimpl
def register_components(register: Register) -> None:
    register(BUILTINS)
