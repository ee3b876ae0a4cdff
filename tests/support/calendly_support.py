"""Helpers shared by the Calendly component's tests."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from components.calendly.sandbox import Sandbox
from runtime import Action


def api_calls(sandbox: Sandbox, path: str = "", method: str | None = None) -> list[dict[str, Any]]:
    """Recorded Calendly API requests under ``path`` (OAuth traffic left out), optionally of
    one method."""
    return [
        r
        for r in sandbox.requests
        if not r["path"].startswith("/oauth")
        and r["path"].startswith(path)
        and (method is None or r["method"] == method)
    ]


def check_output(action: Action, out: Any) -> None:
    """``out`` matches the action's declared output schema."""
    assert action.output_schema is not None
    Draft202012Validator(dict(action.output_schema)).validate(out)
