"""The ``relay`` group: every command listed without importing it, each summary the command's
own, the runtime factory as the one seam, and ``runtime.picklists`` behind ``relay picklist``."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from relay_widgets import WidgetsPlugin

from runtime import (
    Component,
    ConfigurationError,
    Connection,
    Context,
    DataSource,
    Input,
    OAuth2Endpoints,
    PluginError,
    Runtime,
    hookimpl,
)
from runtime.cli import CliState, cli, run_cli
from runtime.cli.group import COMMANDS, make_group
from runtime.picklists import data_source, picklist_options


def test_help_lists_every_command_with_the_help_its_module_gives() -> None:
    group = make_group()
    before = CliRunner().invoke(group, ["--help"])
    assert before.exit_code == 0
    assert not group.commands  # listing them loaded none
    for name in COMMANDS:
        assert group.get_command(click.Context(group), name) is not None
    after = CliRunner().invoke(group, ["--help"])
    assert set(group.commands) == set(COMMANDS)
    assert before.output == after.output
    for name, entry in COMMANDS.items():
        first = inspect.cleandoc(group.commands[name].help or "").split("\n\n")[0]
        assert " ".join(first.split()) == entry.summary, name


def _relay_help_loads(modules: list[str]) -> tuple[str, list[str]]:
    """``relay --help`` as the console script runs it (``main``), in a fresh interpreter: its
    output, and which of ``modules`` it imported."""
    script = (
        "import sys\n"
        "sys.argv = ['relay', '--help']\n"
        "from runtime.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        f"    print([m for m in {modules!r} if m in sys.modules])\n"
        "    sys.exit(exit.code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    *shown, loaded = done.stdout.strip().splitlines()
    return "\n".join(shown), ast.literal_eval(loaded)


def test_relay_help_imports_no_command_module() -> None:
    shown, loaded = _relay_help_loads(sorted({entry.module for entry in COMMANDS.values()}))
    assert "validate" in shown
    assert loaded == []


def test_plugin_commands_are_added_once_when_a_listing_or_an_unknown_name_needs_them() -> None:
    calls: list[str] = []

    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello")

    def add(group: click.Group) -> None:
        calls.append("added")
        group.add_command(hello)

    group = make_group()
    group.plugin_commands = add
    state = CliState(runtime_factory=_widgets)
    assert CliRunner().invoke(group, ["components", "--json"], obj=state).exit_code == 0
    assert calls == []  # a core command needs no plugin's command
    listed = CliRunner().invoke(group, ["--help"])
    assert re.search(r"^  hello +Say hello\.$", listed.output, re.M), listed.output
    assert CliRunner().invoke(group, ["hello"]).output == "hello\n"
    assert calls == ["added"]


def test_a_plugin_that_fails_while_commands_are_listed_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(group: click.Group) -> None:
        raise PluginError("broken", "failed to import broken: boom")

    monkeypatch.setattr(cli, "plugin_commands", broken)
    assert run_cli(["--help"]) == 1
    assert capsys.readouterr().err == "error: plugin 'broken': failed to import broken: boom\n"


def _widgets() -> Runtime:
    return Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)


def test_run_cli_builds_each_commands_runtime_with_the_factory_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    built: list[Runtime] = []

    def factory() -> Runtime:
        built.append(_widgets())
        return built[-1]

    assert run_cli(["components", "--json"], runtime_factory=factory) == 0
    assert [c["key"] for c in json.loads(capsys.readouterr().out)] == ["widgets"]
    assert len(built) == 1


def test_a_context_object_carries_the_factory() -> None:
    state = CliState(runtime_factory=_widgets)
    result = CliRunner().invoke(make_group(), ["describe", "widgets", "--json"], obj=state)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["key"] == "widgets"
    assert len(state.built) == 1


# -- runtime.picklists --------------------------------------------------------------------


async def _whose(ctx: Context, params: dict[str, Any]) -> list[dict[str, str]]:
    handle = params["account"]
    return [{"key": handle.name, "label": str(handle.fields["apiKey"])}]


def _no_endpoints(fields: Mapping[str, Any]) -> OAuth2Endpoints:
    return OAuth2Endpoints(authorize_url="", token_url="", api_base_url="http://keys.test")


class _KeysPlugin:
    __name__ = "keys-plugin"

    @hookimpl
    def register_components(self, register: Any) -> None:
        register(
            Component(
                key="keys",
                label="Keys",
                description="A data source over an API-key connection.",
                connections=(
                    Connection(
                        key="apiKey",
                        label="API key",
                        kind="api_key",
                        endpoints=_no_endpoints,
                        inputs=(Input(key="apiKey", label="Key", type="password", required=True),),
                    ),
                ),
                data_sources=(
                    DataSource(
                        key="whose",
                        label="Whose",
                        description="Names the connection it was given.",
                        inputs=(
                            Input(key="account", label="Account", type="connection", required=True),
                        ),
                        perform=_whose,
                    ),
                ),
            )
        )


class _Stored:
    """A connection source holding one stored connection."""

    def __init__(self, rows: dict[str, tuple[str, str, dict[str, Any]]]) -> None:
        self.rows = rows

    async def get_connection(self, name: str) -> tuple[str, str, dict[str, Any]] | None:
        return self.rows.get(name)


def _keys() -> Runtime:
    return Runtime(plugins=[_KeysPlugin()], load_entry_points=False)


def test_a_connection_input_is_opened_from_its_fields() -> None:
    runtime = _keys()
    values = {"account": {"apiKey": "k-1"}}
    got = asyncio.run(picklist_options(runtime, "keys.whose", values))
    assert got == [{"key": "account", "label": "k-1"}]
    assert values == {"account": {"apiKey": "k-1"}}  # the caller's values are left as given


def test_a_stored_connection_comes_from_the_source_given_without_changing_the_runtime() -> None:
    runtime = _keys()
    source = _Stored({"acme": ("keys", "apiKey", {"apiKey": "k-acme"})})
    got = asyncio.run(
        picklist_options(
            runtime, "keys.whose", {"account": {"use": "acme"}}, connection_source=source
        )
    )
    assert got == [{"key": "acme", "label": "k-acme"}]
    assert runtime.connection_source is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({}, "src.yaml: no stored connection 'acme' (`relay connections` lists them"),
        (
            {"acme": ("calendly", "oauth", {})},
            "src.yaml: connection 'acme' is a calendly.oauth, not a keys one",
        ),
    ],
)
def test_a_stored_connection_that_is_missing_or_foreign_is_one_error(
    rows: dict[str, tuple[str, str, dict[str, Any]]], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        asyncio.run(
            picklist_options(
                _keys(),
                "keys.whose",
                {"account": {"use": "acme"}},
                connection_source=_Stored(rows),
                where="src.yaml",
            )
        )
    assert str(caught.value).startswith(message)


def test_an_unknown_data_source_lists_the_components_data_sources() -> None:
    with pytest.raises(
        ConfigurationError, match=r"keys\.nope: no data source 'nope'; .*keys\.whose"
    ):
        data_source(_keys(), "keys.nope")


def test_relay_help_loads_none_of_the_heavy_libraries() -> None:
    """``relay --help`` (the console script's path: main) lists the plugins' commands too,
    without importing the runtime's engine, schemas, HTTP, logging or CEL, or the plugins'
    command modules (Calendly's sandbox and demo)."""
    heavy = [
        "runtime.api",
        "runtime.engine",
        "jsonschema",
        "httpx",
        "structlog",
        "cel.cel",
        "sqlalchemy",
        "starlette",
        "components.calendly.demo",
        "components.calendly.sandbox.cli",
    ]
    shown, loaded = _relay_help_loads(heavy)
    assert "sandbox" in shown and "demo" in shown
    assert loaded == []


def test_relay_validate_builds_no_runtime() -> None:
    """Validating reads flows against the plugins' declarations only: no engine, no runtime,
    no HTTP client, no event loop, no logging library (the declarations import none of them)."""
    flow = Path(__file__).resolve().parents[2] / "flows" / "booking-follow-up.yaml"
    script = (
        "import sys\n"
        f"sys.argv = ['relay', 'validate', {str(flow)!r}]\n"
        "from runtime.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    heavy = ('runtime.api', 'runtime.engine', 'httpx', 'asyncio', 'structlog')\n"
        "    print([m for m in heavy if m in sys.modules])\n"
        "    sys.exit(exit.code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert ": ok (" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
