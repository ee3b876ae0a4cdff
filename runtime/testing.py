"""A conformance kit for component authors.

::

    from runtime.testing import assert_conformant, harness

    def test_my_component_conforms():
        assert_conformant(build_component())

    async def test_get_item():
        async with harness(MyPlugin(), hosts={"api.test": fake_app}) as h:
            out = await h.invoke("mine.getItem", {"id": "1"})

``check_component`` returns every problem it finds (an empty list means conformant): the
registry's load-time checks plus what users of the component rely on (labels, descriptions,
valid output schemas, examples that pass their own input schema, required inputs without
defaults, data sources that exist).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from runtime.api import Runtime
from runtime.clock import Clock, ManualClock
from runtime.declarations import Component, Input
from runtime.errors import PluginError
from runtime.hookspecs import hookimpl
from runtime.inputs import input_schema
from runtime.registry import Registry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

__all__ = ["ComponentPlugin", "assert_conformant", "check_component", "harness"]


class ComponentPlugin:
    """Wraps a ``Component`` as a plugin (for tests and embedding)."""

    def __init__(self, component: Component) -> None:
        self.component = component
        self.__name__ = f"component:{component.key}"

    @hookimpl
    def register_components(self, register: Any) -> None:
        """Register the wrapped component."""
        register(self.component)


def check_component(component: Component) -> list[str]:
    """Every conformance problem of ``component`` (empty when it conforms)."""
    problems: list[str] = []
    try:
        Registry().add(component, plugin=f"component:{component.key}")
    except PluginError as exc:
        problems.append(str(exc))
    if not component.label or not component.description:
        problems.append(f"{component.key}: needs a label and a description")
    for kind, item in _items(component):
        where = f"{component.key}.{item.key} ({kind})"
        if not item.label:
            problems.append(f"{where}: no label")
        if kind in ("action", "trigger", "data_source") and not getattr(item, "description", ""):
            problems.append(f"{where}: no description")
        schema = getattr(item, "output_schema", None)
        if schema is not None:
            try:
                Draft202012Validator.check_schema(dict(schema))
            except SchemaError as exc:
                problems.append(f"{where}: invalid output schema: {exc.message}")
        problems.extend(f"{where}: {p}" for p in _input_problems(item.inputs))
    return problems


def _items(component: Component) -> Iterator[tuple[str, Any]]:
    for connection in component.connections:
        yield "connection", connection
    for action in component.actions:
        yield "action", action
    for trigger in component.triggers:
        yield "trigger", trigger
    for source in component.data_sources:
        yield "data_source", source


def _input_problems(inputs: tuple[Input, ...]) -> Iterator[str]:
    for spec in inputs:
        if not spec.label:
            yield f"input {spec.key!r} has no label"
        if spec.type == "connection":
            continue
        validator = Draft202012Validator(input_schema(spec))
        if spec.has_default and spec.default is not None:
            for error in validator.iter_errors(spec.default):
                yield f"input {spec.key!r}: default does not validate: {error.message}"


def assert_conformant(component: Component) -> None:
    """Fail (AssertionError listing every problem) unless ``component`` conforms."""
    problems = check_component(component)
    assert not problems, "component does not conform:\n  " + "\n  ".join(problems)


class Harness:
    """A runtime around one or more plugins, for invoking their parts in tests."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def invoke(self, ref: str, inputs: Mapping[str, Any]) -> Any:
        """Validate ``inputs`` and run the action ``ref`` (``component.key``); its output."""
        return await self.runtime.invoke_action(ref, inputs)

    async def picklist(self, ref: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run the data source ``ref``: its ``[{"key", "label"}, ...]`` items."""
        return await self.runtime.picklist(ref, inputs)

    async def connect(
        self, component: str, connection: str, values: Mapping[str, Any], name: str = "conn"
    ) -> Any:
        """Open ``component``'s ``connection`` with these field values: the handle an
        action's connection input takes."""
        return await self.runtime.open_connection(name, component, connection, values)


@contextlib.asynccontextmanager
async def harness(
    *plugins: object,
    hosts: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
    load_entry_points: bool = False,
) -> AsyncIterator[Harness]:
    """A ``Harness`` over ``plugins`` (``Component`` values are wrapped), closed on exit."""
    wrapped = [ComponentPlugin(p) if isinstance(p, Component) else p for p in plugins]
    runtime = Runtime(
        plugins=wrapped,
        load_entry_points=load_entry_points,
        hosts=hosts,
        clock=clock or ManualClock(),
    )
    try:
        yield Harness(runtime)
    finally:
        await runtime.aclose()
