"""What a case's assertions read: the execution (its status, each step, which branch each
branch step took, how many times each loop went round), the requests that reached the
sandbox, the state after the run, and the sandbox's own facts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from runtime.redaction import Redactor

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.results import ExecutionResult

_NAMES_ONLY = Redactor()
_INDEX = re.compile(r"\[\d+\]")


def static_path(path: str) -> str:
    """A step's path with loop indexes left out (``each[2].send`` -> ``each[].send``)."""
    return _INDEX.sub("[]", path)


def run_view(result: ExecutionResult, doc: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One execution as assertions see it (secrets scrubbed as in its stored record, ``doc``
    when the caller has it)."""
    doc = doc if doc is not None else result.as_dict()
    steps: dict[str, Any] = {}
    branches: dict[str, str] = {}
    loops: dict[str, int] = {}
    for record in doc["steps"]:
        view = {
            "id": record["id"],
            "path": record["path"],
            "kind": record["kind"],
            "action": record["action"],
            "status": record["status"],
            "attempts": record["attempts"],
            "inputs": record["inputs"],
            "output": record["output"],
            "error": record["error"],
        }
        # by id (a step in a loop: its last run) and by path (each run)
        steps[record["id"]] = steps[record["path"]] = view
        output = record["output"] if isinstance(record["output"], dict) else {}
        if record["kind"] == "branch" and record["status"] == "completed":
            branches[record["id"]] = branches[record["path"]] = output.get("branch", "")
        if record["kind"] == "loop" and record["status"] == "completed":
            loops[record["id"]] = loops[record["path"]] = int(output.get("count", 0))
    return {
        "status": doc["status"],
        "error": doc["error"],
        "outputs": doc["outputs"],
        "steps": steps,
        "branches": branches,
        "loops": loops,
        "state": result.state.as_dict(),
    }


def assertion_scope(
    runs: list[tuple[Any, ExecutionResult]],
    requests: list[dict[str, Any]],
    config: Mapping[str, Any],
    sandbox: Mapping[str, Any] | None,
    last_doc: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of a case's assertions: the last run's view at the top, every run (its
    payload as ``trigger``) under ``runs``; ``last_doc``: the last run's ``as_dict()``."""
    views = []
    for index, (payload, result) in enumerate(runs):
        view = run_view(result, last_doc if index == len(runs) - 1 else None)
        view["trigger"] = payload
        views.append(view)
    last = views[-1]
    return {
        **last,
        "runs": views,
        "requests": requests,
        "config": _NAMES_ONLY.value(dict(config)),
        "sandbox": dict(sandbox or {}),
    }
