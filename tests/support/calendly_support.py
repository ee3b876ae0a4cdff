"""Helpers shared by the Calendly component's tests."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from components.calendly.sandbox import Sandbox
from runtime import Action, ConnectionHandle, Runtime


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


def connection_fields(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    """The fields of a Calendly OAuth connection to ``sandbox``, as a newly registered client
    (``extra`` added or overriding)."""
    client_id, client_secret = sandbox.register_client()
    return {
        "clientId": client_id,
        "clientSecret": client_secret,
        "useLiveServer": False,
        "sandboxUrl": sandbox.config.base_url,
        **extra,
    }


async def open_sandbox_connection(runtime: Runtime, sandbox: Sandbox) -> ConnectionHandle:
    """A Calendly OAuth connection to ``sandbox``, authorized headlessly (state + PKCE);
    ``runtime`` must reach the sandbox's host."""
    return await runtime.open_connection(
        "calendly", "calendly", "calendlyOauth2Connection", connection_fields(sandbox)
    )
