"""Plugin loading: entry points, strict hook names, declarations checked at load."""

from __future__ import annotations

from typing import Any

import pytest
from relay_widgets import WIDGETS, WidgetsPlugin

from runtime import Action, Component, Input, PluginError, Runtime, hookimpl
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
        action = Action("same", "Same", "d", (), _noop)
        register(Component("dupes", "Dupes", "d", actions=(action, action)))


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
        ((Input("a", "A"), Input("a", "A")), "duplicate input key 'a'"),
        ((Input("a", "A", data_source="nope"),), "unknown data source 'nope'"),
        ((Input("c", "C", "connection"),), "declares none"),
        ((Input("a", "A", schema={"type": 12}),), "invalid schema"),
    ],
)
def test_bad_declarations_fail_at_load(inputs: tuple[Input, ...], expected: str) -> None:
    class Plugin:
        __name__ = "bad-plugin"

        @hookimpl
        def register_components(self, register: Any) -> None:
            register(Component("bad", "Bad", "d", actions=(Action("x", "X", "d", inputs, _noop),)))

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
        "b",
        "",
        "",
        actions=(Action("x", "", "", (Input("n", "N", "integer", default="x"),), _noop),),
    )
    problems = check_component(broken)
    assert any("needs a label" in p for p in problems)
    assert any("default does not validate" in p for p in problems)
    assert any("no description" in p for p in problems)
