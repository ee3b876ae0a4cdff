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
valid output schemas, each action's ``examples`` (sample outputs) matching its output schema,
defaults that pass their input's schema, data sources that exist). ``Harness.invoke`` checks
every output against its action's ``output_schema``; ``assert_output_conforms`` checks one
made elsewhere.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from runtime.api import Runtime
from runtime.clock import Clock, ManualClock
from runtime.declarations import Action, Component, Input
from runtime.errors import PluginError
from runtime.hookspecs import hookimpl
from runtime.inputs import input_schema
from runtime.output_check import OutputSchema
from runtime.registry import Registry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

    from runtime.connections import ConnectionHandle

__all__ = [
    "ComponentPlugin",
    "Harness",
    "assert_conformant",
    "assert_output_conforms",
    "check_component",
    "harness",
]


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
            else:
                problems.extend(_example_problems(where, item))
        problems.extend(f"{where}: {p}" for p in _input_problems(item.inputs))
    return problems


def _example_problems(where: str, action: Action) -> Iterator[str]:
    """Each sample output of ``action`` that its ``output_schema`` refuses."""
    assert action.output_schema is not None
    checker = OutputSchema(where, action.output_schema)
    for index, example in enumerate(action.examples):
        for problem in checker.problems(example, values=True):
            yield f"{where}: examples[{index}] does not match the output schema: {problem}"


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


def assert_output_conforms(component: Component, action: str, output: Any) -> None:
    """Fail (AssertionError listing every mismatch by JSON path) unless ``output`` matches
    the ``output_schema`` of ``component``'s ``action`` (one that declares none passes)."""
    declared = component.action(action)
    assert declared is not None, f"{component.key} has no action {action!r}"
    if declared.output_schema is None:
        return
    ref = f"{component.key}.{action}"
    problems = OutputSchema(ref, declared.output_schema).problems(output, values=True)
    assert not problems, f"{ref}: the output does not match its output_schema:\n  " + (
        "\n  ".join(problems)
    )


def assert_conformant(component: Component) -> None:
    """Fail (AssertionError listing every problem) unless ``component`` conforms."""
    problems = check_component(component)
    assert not problems, "component does not conform:\n  " + "\n  ".join(problems)


class Harness:
    """A runtime around one or more plugins, for invoking their parts in tests."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def invoke(self, ref: str, inputs: Mapping[str, Any]) -> Any:
        """Validate ``inputs`` and run the action ``ref`` (``component.key``); its output,
        checked against the action's ``output_schema`` (an ``AssertionError`` listing every
        mismatch by JSON path). A connection input takes the handle ``connect`` returns."""
        output = await self.runtime.invoke_action(ref, inputs)
        component, _, key = ref.partition(".")
        schema = self.runtime.registry.output_schema(component, key)
        if schema is not None:
            problems = schema.problems(output, values=True)
            assert not problems, f"{ref}: the output does not match its output_schema:\n  " + (
                "\n  ".join(problems)
            )
        return output

    async def picklist(self, ref: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run the data source ``ref``: its ``[{"key", "label"}, ...]`` items."""
        return await self.runtime.picklist(ref, inputs)

    async def connect(
        self, component: str, connection: str, values: Mapping[str, Any], name: str = "conn"
    ) -> ConnectionHandle:
        """Open ``component``'s ``connection`` with these field values (validated against
        its inputs): the handle an action's or data source's connection input takes, e.g.
        ``await h.invoke("acme.getWidget", {"connection": await h.connect("acme",
        "acmeApiKey", {"apiKey": "k"}), "id": "1"})``. An OAuth connection needs a token:
        a ``token`` mapping in ``values``, or a server that consents without a browser."""
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
