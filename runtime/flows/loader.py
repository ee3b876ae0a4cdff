"""Load a flow file: parse, check against the flow schema and the installed components, compile.

Every problem is collected and reported at once as ``FILE:LINE:COL: message``; nothing runs
until a flow loads clean.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from runtime.errors import FlowError, Problem
from runtime.flows.model import ConfigVariable, Flow
from runtime.flows.steps import StepCompiler
from runtime.flows.structure import schema_problems
from runtime.flows.yamlsource import Path, parse_yaml
from runtime.schema_messages import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.declarations import Component
    from runtime.expressions import Template
    from runtime.inputs import InputSchema
    from runtime.registry import Registry


def load_flow_file(path: str | FsPath, registry: Registry) -> Flow:
    """Read and load a flow file; raise ``FlowError`` listing every problem."""
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem(message=f"cannot read: {exc}", file=file, line=1, column=1)
        raise FlowError(f"{file}: cannot load flow", [problem]) from None
    return load_flow_text(text, file, registry)


def load_flow_text(text: str, file: str, registry: Registry) -> Flow:
    """Load a flow from its YAML text; ``file`` names it in messages."""
    doc = parse_yaml(text, file)
    flow: Flow | None = None
    if doc.data is not None:
        if not isinstance(doc.data, dict):
            doc.problems.append(doc.problem((), "a flow must be a mapping"))
        else:
            # the schema's problems do not stop the compiler: it checks all it still can
            found = schema_problems(doc, registry.trigger_kinds.validator())
            doc.problems.extend(found.problems)
            flow = _Compiler(doc, registry, text, found.blocked, found.flagged).compile()
    if doc.problems or flow is None:
        problems = sorted(set(doc.problems), key=lambda p: (p.line, p.column, p.message))
        raise FlowError(f"{file}: {len(problems)} problem(s)", problems)
    return flow


class _Compiler(StepCompiler):
    """Turns the document into a Flow, collecting every problem on the way."""

    def compile(self) -> Flow | None:
        data: dict[str, Any] = self.doc.data
        raw_config = data.get("config")
        config = self._config(
            raw_config if isinstance(raw_config, dict) and self._usable(("config",)) else {}
        )
        # the trigger is compiled only as the schema describes it (its problems are reported)
        trigger_ok = not any(p[:1] == ("trigger",) for p in self.flagged)
        kinds = self.registry.trigger_kinds
        trigger = kinds.parse(data.get("trigger") if trigger_ok else None, _Parsing(self))
        steps, _ = self._steps(data.get("steps"), ("steps",))
        if self.doc.problems:
            return None
        return Flow(
            name=data["name"],
            description=data.get("description", ""),
            config=config,
            trigger=trigger,
            steps=steps,
            source=self.doc.file,
            text=self.text,
            concurrency=data.get("concurrency", 10),
            version=str(data.get("version", "")),
        )

    def _config(self, raw: Mapping[str, Any]) -> tuple[ConfigVariable, ...]:
        out = []
        for name, spec in raw.items():
            self.config_names.add(name)  # even a malformed one: its uses are not unknown
            path: Path = ("config", name)
            if not isinstance(spec, dict) or not self._usable(path):
                continue
            if spec.get("type") == "connection":
                self._connection(spec, path)
            out.append(
                ConfigVariable(
                    name=name,
                    type=spec.get("type", "string"),
                    component=spec.get("component"),
                    connection=spec.get("connection"),
                    default=spec.get("default"),
                    required=spec.get("required", "default" not in spec),
                    secret=spec.get("secret", False),
                    description=spec.get("description", ""),
                )
            )
        return tuple(out)

    def _connection(self, spec: Mapping[str, Any], path: Path) -> None:
        """A connection variable names a component's connection that exists."""
        component, connection = spec.get("component"), spec.get("connection")
        if not isinstance(component, str) or not self._usable((*path, "component")):
            return
        registered = self.registry.get(component)
        if registered is None:
            hint = did_you_mean(component, [r.component.key for r in self.registry])
            self._error((*path, "component"), self.registry.unknown_component(component, hint))
        elif isinstance(connection, str) and registered.component.connection(connection) is None:
            hint = did_you_mean(connection, self._known("connections", registered.component))
            self._error(
                (*path, "connection"),
                f"component {component!r} has no connection {connection!r}{hint}",
            )


class _Parsing:
    """The compiler as a trigger kind's ``parse`` sees it (``TriggerParsing``)."""

    def __init__(self, compiler: _Compiler) -> None:
        self._compiler = compiler

    @property
    def registry(self) -> Registry:
        return self._compiler.registry

    @property
    def config(self) -> Mapping[str, Any]:
        raw = self._compiler.doc.data.get("config")
        return raw if isinstance(raw, dict) else {}

    def error(self, path: Path, message: str) -> None:
        self._compiler._error(path, message)

    def values(self, raw: Any, path: Path) -> Any:
        return self._compiler._values(raw, path, set())

    def template(self, written: str, path: Path) -> Template | None:
        return self._compiler._template(written, path, set())

    def check_inputs(
        self, schema: InputSchema, raw: Mapping[str, Any], compiled: Mapping[str, Any], path: Path
    ) -> None:
        self._compiler._check_inputs(schema, raw, compiled, path)

    def known(self, what: str, component: Component) -> list[str]:
        return self._compiler._known(what, component)
