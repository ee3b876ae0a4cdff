"""Plugin loading: entry points, strict hook names, declarations checked at load."""

from __future__ import annotations

import re
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner
from relay_widgets import WIDGETS, WidgetsPlugin

from runtime import (
    Action,
    Choice,
    Component,
    Connection,
    DataSource,
    Input,
    OAuth2Endpoints,
    PluginError,
    PollResult,
    Runtime,
    Trigger,
    TriggerEvent,
    WebhookRequest,
    hookimpl,
)
from runtime.plugins import make_plugin_manager
from runtime.testing import assert_conformant, check_component


class Misspelled:
    __name__ = "misspelled-plugin"

    @hookimpl
    def register_component(self, register: Any) -> None:  # missing "s": not a relay hook
        raise AssertionError("never called")


def _noop(ctx: Any, params: Any) -> None:
    return None


class DuplicateKeys:
    __name__ = "duplicate-plugin"

    @hookimpl
    def register_components(self, register: Any) -> None:
        action = Action(key="same", label="Same", description="d", inputs=(), perform=_noop)
        register(Component(key="dupes", label="Dupes", description="d", actions=(action, action)))


def test_misspelled_hook_fails_naming_the_plugin() -> None:
    with pytest.raises(PluginError) as info:
        Runtime(plugins=[Misspelled()], load_entry_points=False)
    assert info.value.plugin == "misspelled-plugin"
    assert "register_component" in str(info.value)


def test_duplicate_action_key_fails_naming_the_plugin() -> None:
    with pytest.raises(PluginError) as info:
        Runtime(plugins=[DuplicateKeys()], load_entry_points=False)
    assert info.value.plugin == "duplicate-plugin"
    assert "duplicate action key 'same'" in str(info.value)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ((Input(key="a", label="A"), Input(key="a", label="A")), "duplicate input key 'a'"),
        ((Input(key="a", label="A", data_source="nope"),), "unknown data source 'nope'"),
        ((Input(key="c", label="C", type="connection"),), "declares none"),
        ((Input(key="a", label="A", schema={"type": 12}),), "invalid schema"),
    ],
)
def test_bad_declarations_fail_at_load(inputs: tuple[Input, ...], expected: str) -> None:
    class Plugin:
        __name__ = "bad-plugin"

        @hookimpl
        def register_components(self, register: Any) -> None:
            register(
                Component(
                    key="bad",
                    label="Bad",
                    description="d",
                    actions=(
                        Action(key="x", label="X", description="d", inputs=inputs, perform=_noop),
                    ),
                )
            )

    with pytest.raises(PluginError, match=expected) as info:
        Runtime(plugins=[Plugin()], load_entry_points=False)
    assert info.value.plugin == "bad-plugin"


def test_two_plugins_cannot_claim_one_component_key() -> None:
    class Again:
        __name__ = "again"

        @hookimpl
        def register_components(self, register: Any) -> None:
            register(WIDGETS)

    with pytest.raises(PluginError, match="already registered by 'widgets-plugin'"):
        Runtime(plugins=[WidgetsPlugin(), Again()], load_entry_points=False)


def test_calendly_registers_through_the_entry_point() -> None:
    runtime = Runtime()
    registered = runtime.registry.require("calendly")
    assert registered.plugin == "calendly"


def test_conformance_kit_passes_widgets_and_reports_problems() -> None:
    assert_conformant(WIDGETS)
    broken = Component(
        key="b",
        label="",
        description="",
        actions=(
            Action(
                key="x",
                label="",
                description="",
                inputs=(Input(key="n", label="N", type="integer", default="x"),),
                perform=_noop,
            ),
        ),
    )
    problems = check_component(broken)
    assert any("needs a label" in p for p in problems)
    assert any("default does not validate" in p for p in problems)
    assert any("no description" in p for p in problems)


@pytest.mark.parametrize(
    "declaration",
    [
        *(Choice, Input, OAuth2Endpoints, Connection, Action, DataSource, Trigger, Component),
        *(WebhookRequest, TriggerEvent, PollResult),  # values handed between runtime and component
    ],
    ids=lambda cls: cls.__name__,
)
def test_declarations_take_named_fields_only(declaration: type) -> None:
    """Every field is named at the construction site: a positional argument is refused."""
    required = [f for f in attrs.fields(declaration) if f.default is attrs.NOTHING]
    with pytest.raises(TypeError, match="positional"):
        declaration(*("x" for _ in required))


def _hook(kept_headers: Any, kind: str = "webhook") -> Trigger:
    return Trigger(
        key="hook",
        label="Hook",
        description="d",
        kind=kind,  # type: ignore[arg-type]
        inputs=(),
        perform=_noop,
        poll=_noop,
        kept_headers=kept_headers,
    )


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (_hook(("X-Acme-Signature",)), "'X-Acme-Signature' is not lower-case"),
        (_hook(("x acme",)), "'x acme' is not an HTTP header name"),
        (_hook(("",)), "'' is not an HTTP header name"),
        (_hook((12,)), "12 is not an HTTP header name"),
        (_hook("x-acme-signature"), "kept_headers must be a tuple of header names"),
        (_hook(("x-a", "x-a")), "'x-a' is listed twice"),
        (_hook(("authorization",)), "'authorization' carries credentials"),
        (_hook(("cookie",)), "'cookie' carries credentials"),
        (_hook(("x-a",), kind="polling"), "only a webhook trigger keeps headers"),
    ],
)
def test_bad_kept_headers_fail_at_load(trigger: Trigger, expected: str) -> None:
    class Plugin:
        __name__ = "headers-plugin"

        @hookimpl
        def register_components(self, register: Any) -> None:
            register(Component(key="hdr", label="H", description="d", triggers=(trigger,)))

    with pytest.raises(PluginError, match=re.escape(expected)) as info:
        Runtime(plugins=[Plugin()], load_entry_points=False)
    assert info.value.plugin == "headers-plugin"


def test_declared_kept_headers_register() -> None:
    component = Component(
        key="hdr", label="H", description="d", triggers=(_hook(("x-acme-signature", "x-b")),)
    )
    assert check_component(component) == []


class _Answer:
    """An ASGI app answering every request with its own name, standing for a sandbox."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.name.encode()})


class HostsPlugin:
    __name__ = "hosts-plugin"

    @hookimpl
    def in_process_hosts(self) -> dict[str, Any]:
        return {"offered.test": _Answer("offered"), "both.test": _Answer("plugin")}


class NoHostsPlugin:
    __name__ = "no-hosts-plugin"

    @hookimpl
    def in_process_hosts(self) -> None:
        return None


@pytest.mark.asyncio
async def test_in_process_hosts_serve_requests_and_hosts_given_win() -> None:
    runtime = Runtime(
        plugins=[HostsPlugin(), NoHostsPlugin()],
        hosts={"both.test": _Answer("given")},
        load_entry_points=False,
    )
    try:
        ctx = runtime.context()
        offered = await ctx.http(base_url="http://offered.test").request("GET", "/")
        both = await ctx.http(base_url="http://both.test").request("GET", "/")
        assert (offered.text, both.text) == ("offered", "given")
    finally:
        await runtime.aclose()


class CommandsPlugin:
    __name__ = "commands-plugin"

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("hello")
        def hello() -> None:
            click.echo("hello from a plugin")


def test_register_commands_adds_a_plugins_command_to_the_group() -> None:
    pm = make_plugin_manager([CommandsPlugin()], load_entry_points=False)
    group = click.Group("relay")
    pm.hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["hello"])
    assert (result.exit_code, result.output) == (0, "hello from a plugin\n")
