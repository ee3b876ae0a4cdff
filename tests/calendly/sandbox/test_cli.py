"""``relay sandbox``: options (each checked, one line naming it), printed details, the state
file, and uvicorn started without access logs."""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from pathlib import Path
from typing import Any

import click
import pytest
import uvicorn
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from relay_processes import free_port

from components.calendly.sandbox.cli import MAX_EVENTS, HostType, sandbox_command


def test_sandbox_command_runs_uvicorn_without_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    port = free_port()
    result = CliRunner().invoke(
        sandbox_command, ["--port", str(port), "--seed", "3", "--events", "25"]
    )
    assert result.exit_code == 0, result.output
    ((app, kwargs),) = calls
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == port
    assert kwargs["access_log"] is False
    assert app.state.sandbox.config.events == 25
    assert f"http://127.0.0.1:{port}" in result.output
    assert "sandbox-client-id" in result.output
    assert "/_sandbox/tokens" in result.output


def test_help_lists_options() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--events"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "0"], "--port"),
        (["--port", "http"], "--port"),
        (["--events", "-5"], "--events"),
        (["--events", "100001"], "--events"),
        (["--seed", "-1"], "--seed"),
        (["--host", "not a host"], "--host"),
        (["--host", "-bad.example"], "--host"),
        (["--state", ""], "--state"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(args: list[str], option: str) -> None:
    result = CliRunner().invoke(sandbox_command, args)
    assert result.exit_code == 2, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(problems) == 1 and option in problems[0]
    assert "Traceback" not in result.output


def test_without_state_one_warning_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    result = CliRunner().invoke(sandbox_command, ["--events", "3", "--port", str(free_port())])
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "--state FILE" in warnings[0]


def test_state_file_is_created_and_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    path = tmp_path / "state.json"
    for _ in range(2):
        result = CliRunner().invoke(
            sandbox_command, ["--events", "3", "--state", str(path), "--port", str(free_port())]
        )
        assert result.exit_code == 0, result.output
        assert "warning:" not in result.stderr and str(path) in result.stdout
    first, second = (app.state.sandbox for app in apps)
    assert set(first.state.events) == set(second.state.events) and path.exists()


@pytest.mark.parametrize("contents", [b"", b"{not json", b"[]", b'{"format": 1}', b"\xff\xfe"])
def test_an_unusable_state_file_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, contents: bytes
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("must not serve"))
    path = tmp_path / "state.json"
    path.write_bytes(contents)
    result = CliRunner().invoke(sandbox_command, ["--state", str(path), "--port", str(free_port())])
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: sandbox state file {path}: ")
    assert path.read_bytes() == contents  # a file it could not read is left as it was


def test_an_address_it_cannot_listen_on_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("must not serve"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [["--port", str(port)], ["--host", "192.0.2.1"]]  # in use; not this machine's
        for args in cases:
            result = CliRunner().invoke(sandbox_command, [*args, "--events", "0"])
            assert result.exit_code == 1 and result.stdout == ""
            (line,) = result.stderr.splitlines()
            assert line.startswith("error: cannot listen on http://")


_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-0", "1e3", "0x10", " 8", "::1", "localhost", "1.2.3.4.5"]),
)
_OPTIONS = st.lists(
    st.tuples(st.sampled_from(["--host", "--port", "--seed", "--events", "--state"]), _VALUES),
    max_size=4,
)


def _usable(option: str, value: str) -> bool:
    """Keep the fuzz from seeding large data sets or writing outside the isolated folder."""
    if option == "--events":
        try:
            return not 50 < int(value) <= MAX_EVENTS
        except ValueError:
            return True
    if option == "--state":
        return "/" not in value and "\\" not in value and not value.startswith("..")
    if option == "--host":
        # a host name that passes would be looked up in DNS: keep to literals and refusals
        try:
            ipaddress.ip_address(value)
        except ValueError:
            try:
                HostType().convert(value, None, None)
            except click.BadParameter:
                return True
            return value == "localhost"
    return True


@given(options=_OPTIONS)
def test_any_option_values_end_cleanly(options: list[tuple[str, str]]) -> None:
    """Whatever the values: a start, a usage error naming an option (2) or a state-file error
    (1), always one line and never a traceback."""
    args = [part for option, value in options if _usable(option, value) for part in (option, value)]
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as folder:
        mp.chdir(folder)  # relative --state files land here
        mp.setattr(uvicorn, "run", lambda app, **kw: None)
        result = runner.invoke(sandbox_command, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        problems = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(problems) == 1
        assert any(option in problems[0] for option, _ in options)
    elif result.exit_code == 1:
        (line,) = result.stderr.splitlines()
        assert line.startswith(("error: sandbox state file ", "error: cannot listen on "))
    else:
        assert result.exit_code == 0
