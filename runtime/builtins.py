"""relay's built-in component (key ``relay``): values, pauses and persisted state.

It registers through the ``relay.components`` entry point like any third-party component.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from runtime.declarations import Action, Choice, Component, Input
from runtime.errors import InputValidationError, Problem
from runtime.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    from runtime.context import Context

_SCOPES = (
    Choice(value="execution", label="This execution"),
    Choice(value="flow", label="This instance, across executions"),
    Choice(value="cross_flow", label="Every flow of this instance"),
    Choice(value="integration", label="Every instance"),
)
_SCOPE = Input(key="scope", label="Scope", required=True, default="flow", choices=_SCOPES)
_KEY = Input(key="key", label="Key", required=True, schema={"minLength": 1})
#: Any JSON value, taken as it is: a string stays a string (structured values come from YAML
#: or expressions). A ``code`` input would read every string as JSON text.
_ANY = {"type": ["string", "number", "boolean", "object", "array", "null"]}


def _any(key: str, label: str, comments: str) -> Input:
    return Input(key=key, label=label, type="string", schema=_ANY, comments=comments)


async def value(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``relay.value``: its ``value`` input as the step's data, as given."""
    return {"data": params.get("value")}


#: The longest wait ``relay.sleep`` accepts (a year and a day), in seconds.
LONGEST_SLEEP = 366 * 86400.0


async def pause(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``relay.sleep``: wait ``seconds``, or until the time ``until``, on the execution's
    clock (a manual one in tests). On a store a long wait suspends the execution."""
    seconds, until = params.get("seconds"), params.get("until")
    if (seconds is None) == (until is None):
        raise InputValidationError(
            "relay.sleep needs exactly one of its inputs",
            [Problem("give `seconds` or `until`, not both and not neither", path="inputs")],
        )
    if until is None:
        wait = float(params["seconds"])
    else:
        wait = min(max(0.0, _timestamp(until) - ctx.now()), LONGEST_SLEEP)
    await ctx.wait(wait, {"data": wait})
    return {"data": wait}


def _timestamp(value: Any) -> float:
    """``until`` as UNIX seconds: a number, or an ISO 8601 date-time with a UTC offset."""
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
        at = parsed.timestamp() if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        at = None
    if at is None:
        raise InputValidationError(
            "relay.sleep: `until` is not a time",
            [
                Problem(
                    "an ISO 8601 date-time with its offset (e.g. 2026-12-24T09:00:00Z)"
                    " or UNIX seconds",
                    path="inputs.until",
                )
            ],
        )
    return at


async def set_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``relay.setState``: keep ``value`` under ``key`` in the chosen state scope."""
    getattr(ctx.state, params["scope"])[params["key"]] = params.get("value")
    return {"data": params.get("value")}


async def get_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``relay.getState``: the value under ``key`` in the chosen scope, or ``default``."""
    return {"data": getattr(ctx.state, params["scope"]).get(params["key"], params.get("default"))}


BUILTINS = Component(
    key="relay",
    label="relay",
    description="Built-in actions: compose values, pause, and keep state between executions.",
    actions=(
        Action(
            key="value",
            label="Value",
            description="Returns its input: compose or reshape data with expressions.",
            inputs=(_any("value", "Value", "Any value: returned as it is."),),
            perform=value,
            read_only=True,
            output_schema={"type": "object", "required": ["data"]},
        ),
        Action(
            key="sleep",
            label="Sleep",
            description=(
                "Pauses the execution. On a store, a pause longer than a minute"
                " (RELAY_SUSPEND_AFTER) holds no worker: the execution waits as `waiting`,"
                " survives restarts and is resumed when the time comes."
            ),
            inputs=(
                Input(
                    key="seconds",
                    label="Seconds",
                    type="number",
                    schema={"minimum": 0, "maximum": LONGEST_SLEEP},
                    comments="How long to wait (give this or `until`).",
                ),
                Input(
                    key="until",
                    label="Until",
                    type="string",
                    schema={"type": ["string", "number"], "maxLength": 64},
                    comments=(
                        "When to go on: an ISO 8601 date-time with its offset, or UNIX seconds"
                        " (give this or `seconds`). A time already past does not wait."
                    ),
                ),
            ),
            perform=pause,
            read_only=True,
            output_schema={"type": "object", "properties": {"data": {"type": "number"}}},
        ),
        Action(
            key="setState",
            label="Set State",
            description=(
                "Stores a value under a key in a state scope (persisted with the execution)."
            ),
            inputs=(_SCOPE, _KEY, _any("value", "Value", "Any value: stored as it is.")),
            perform=set_state,
            # state travels in the execution's checkpoints: repeating the step changes nothing
            read_only=True,
            output_schema={"type": "object", "required": ["data"]},
        ),
        Action(
            key="getState",
            label="Get State",
            description="Reads a value stored with Set State (or the default).",
            inputs=(_SCOPE, _KEY, _any("default", "Default", "Returned when nothing is stored.")),
            perform=get_state,
            read_only=True,
            output_schema={"type": "object", "required": ["data"]},
        ),
    ),
)


@hookimpl
def register_components(register: Register) -> None:
    """relay's own component (``relay.*`` steps), registered like any plugin's."""
    register(BUILTINS)
