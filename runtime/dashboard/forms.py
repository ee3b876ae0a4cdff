"""What the dashboard's forms and searches take, checked at the edge: each problem named by
its field, never a traceback."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, get_args

from runtime.management.models import ExecutionStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

#: An execution's statuses, in the order of its life (as the API declares them).
STATUSES: tuple[str, ...] = get_args(ExecutionStatus)
#: The most executions one replay form acts on (the API's bulk limit).
SELECTED_MAX = 1000


def _text(value: str, field: str, problems: dict[str, str], limit: int = 200) -> str | None:
    if not value:
        return None
    if len(value) > limit:
        problems[field] = f"at most {limit} characters"
        return None
    if "\x00" in value:
        problems[field] = "must not hold a NUL character"
        return None
    return value


def _time(value: str, field: str, problems: dict[str, str]) -> float | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip()[:64])
    except ValueError:
        problems[field] = "not a time: use YYYY-MM-DDTHH:MM (UTC)"
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def search(query: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The executions search: instance, status, version, since, until, error, cursor; and the
    problems by field."""
    problems: dict[str, str] = {}
    params: dict[str, Any] = {
        "instance": _text(query.get("instance", ""), "instance", problems),
        "error": _text(query.get("error", ""), "error", problems),
        "cursor": _text(query.get("cursor", ""), "cursor", problems, 400),
        "since": _time(query.get("since", ""), "since", problems),
        "until": _time(query.get("until", ""), "until", problems),
        "status": None,
        "version": None,
    }
    status = query.get("status", "")
    if status:
        if status in STATUSES:
            params["status"] = status
        else:
            problems["status"] = "one of " + ", ".join(sorted(STATUSES))
    version = query.get("version", "").strip()
    if version:
        # ASCII digits only ("²" is a digit to str.isdigit, not to int)
        if version.isascii() and version.isdigit() and 1 <= int(version[:12]) <= 2**31 - 1:
            params["version"] = int(version)
        else:
            problems["version"] = "a flow version: a whole number from 1"
    return params, problems


def replay_choice(fields: Mapping[str, list[Any]]) -> tuple[str | None, str, str | None]:
    """A replay form's ``from_step`` (``None``: from the start) and ``flow_version``
    (``original`` or ``current``); the problem, if any."""
    step = first_value(fields, "from_step").strip() or None
    version = first_value(fields, "flow_version") or "original"
    if version not in ("original", "current"):
        return None, "original", "flow_version: original or current"
    if step is not None and (len(step) > 1000 or "\x00" in step):
        return None, version, "from_step: not a step of the flow"
    return step, version, None


def selected(fields: Mapping[str, list[Any]]) -> tuple[list[str], str | None]:
    """The executions ticked in a list (``ids``), each once, in order; the problem, if any."""
    ids = [v for v in fields.get("ids", []) if isinstance(v, str)]
    ids = list(dict.fromkeys(i for i in ids if 0 < len(i) <= 64 and "\x00" not in i))
    if not ids:
        return [], "tick at least one execution to replay"
    if len(ids) > SELECTED_MAX:
        return [], f"at most {SELECTED_MAX} executions at once"
    return ids, None


def first_value(fields: Mapping[str, list[Any]], name: str) -> str:
    """The first text value of form field ``name`` (empty when there is none)."""
    for value in fields.get(name, []):
        if isinstance(value, str):
            return value
    return ""
