"""``relay sandbox``: options, printed details, and uvicorn started without access logs."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from components.calendly.sandbox.cli import sandbox_command


def test_sandbox_command_runs_uvicorn_without_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    result = CliRunner().invoke(
        sandbox_command, ["--port", "9911", "--seed", "3", "--events", "25"]
    )
    assert result.exit_code == 0, result.output
    ((app, kwargs),) = calls
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 9911
    assert kwargs["access_log"] is False
    assert app.state.sandbox.config.events == 25
    assert "http://127.0.0.1:9911" in result.output
    assert "sandbox-client-id" in result.output
    assert "/_sandbox/tokens" in result.output


def test_help_lists_options() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--events"):
        assert option in result.output
