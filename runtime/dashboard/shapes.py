"""What the dashboard's templates draw, computed from the views the API serves: an execution's
step tree with its waterfall, JSON shown as bounded text, and the overview's charts.

Step records come flat, each with its path (``route.booked.meeting``: step ``meeting`` in case
``booked`` of branch ``route``; ``each[2].send``: step ``send`` in iteration 2 of loop
``each``); the tree puts each under its branch's case or its loop's iteration, as the flow has
it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeGuard

from attrs import define, field

#: The longest JSON text shown for one value; the rest is cut, with a note saying how much.
JSON_SHOWN = 100_000
#: JSON at most this long is shown on one line; longer, indented.
ONE_LINE = 100
#: A step path's last part: ``PARENT.CASE.ID`` or ``PARENT[INDEX].ID`` (step ids are
#: identifiers: no dot, no bracket).
_LAST = re.compile(
    r"^(?P<parent>.+?)(?:\[(?P<index>\d+)\]|\.(?P<case>[^.\[\]]+))\.(?P<id>[^.\[\]]+)$"
)


@define
class StepNode:
    """One step record, with the groups (cases taken, iterations) of the steps under it."""

    record: dict[str, Any]
    offset: float = 0.0
    width: float = 0.0
    groups: list[tuple[str, list[StepNode]]] = field(factory=list)
    by_label: dict[str, list[StepNode]] = field(factory=dict, repr=False)


def step_tree(steps: list[dict[str, Any]], start: float | None) -> list[StepNode]:
    """The top-level steps, each with its children grouped as the flow runs them; each node's
    ``offset`` and ``width`` place its bar on the execution's timeline (percent)."""
    times = [
        (s["started_at"], s["started_at"] + (s.get("duration_ms") or 0) / 1000)
        for s in steps
        if _finite(s.get("started_at"))
    ]
    begin = (
        float(start)
        if start is not None and _finite(start)
        else min((a for a, _ in times), default=0.0)
    )
    end = max((b for _, b in times), default=begin)
    span = max(end - begin, 1e-6)
    nodes: dict[str, StepNode] = {}
    order: list[tuple[str, StepNode]] = []
    for record in steps:
        node = StepNode(record)
        at = record.get("started_at")
        if _finite(at):
            node.offset = _clamp((at - begin) / span * 100)
            node.width = _clamp(max((record.get("duration_ms") or 0) / 1000 / span * 100, 0.5))
            node.width = min(node.width, 100 - node.offset)
        path = str(record.get("path") or record.get("id") or "")
        nodes.setdefault(path, node)
        order.append((path, node))
    top: list[StepNode] = []
    for path, node in order:  # a loop's record may come after its iterations' steps
        found = _LAST.match(path)
        parent = nodes.get(found["parent"]) if found else None
        if parent is None or found is None:
            top.append(node)
            continue
        label = f"iteration {found['index']}" if found["index"] is not None else found["case"]
        children = parent.by_label.get(label)
        if children is None:
            children = parent.by_label[label] = []
            parent.groups.append((label, children))
        children.append(node)
    return top


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)


def _clamp(value: float) -> float:
    return round(min(max(value, 0.0), 100.0), 3)


def shown_json(value: Any) -> str:
    """``value`` as indented JSON text for a page: at most ``JSON_SHOWN`` characters, lone
    surrogates written as escapes (a page is UTF-8), a value nested past what the encoder
    takes shown as a note."""
    try:
        # the C encoder first (indenting takes the pure-Python one): a short value stays on
        # one line
        text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=True)
        if len(text) > ONE_LINE:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str, allow_nan=True)
    except (RecursionError, ValueError):
        return "(nested too deeply to show)"
    return shown_text(text, JSON_SHOWN)


def shown_text(text: str, limit: int = JSON_SHOWN) -> str:
    """``text`` cut at ``limit`` characters (saying how many more there are), lone surrogates
    as escapes."""
    if len(text) > limit:
        text = f"{text[:limit]}\n… ({len(text) - limit} more characters not shown)"
    return safe_text(text)


def safe_text(text: str) -> str:
    """``text`` encodable as UTF-8: a lone surrogate becomes its escape (``\\udc80``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def chart(series: dict[str, list[int]], buckets: int) -> dict[str, Any]:
    """The bars of one instance's chart: per span, its completed and failed counts stacked
    (the rest, running or waiting, above them), scaled to the busiest span (0..100)."""
    totals = [sum(s[i] for s in series.values()) for i in range(buckets)]
    peak = max(totals, default=0) or 1
    bars = []
    for i in range(buckets):
        failed = series.get("failed", [0] * buckets)[i]
        done = series.get("completed", [0] * buckets)[i]
        other = totals[i] - failed - done
        bars.append(
            {
                "x": round(i * 100 / buckets, 3),
                "failed": round(failed * 100 / peak, 3),
                "completed": round(done * 100 / peak, 3),
                "other": round(other * 100 / peak, 3),
                "total": totals[i],
            }
        )
    return {
        "bars": bars,
        "width": round(100 / buckets * 0.8, 3),
        "counts": {k: sum(v) for k, v in series.items()},
        "total": sum(totals),
    }
