"""Load a flow file: parse, check against the flow schema and the installed components, compile.

Every problem is collected and reported at once as ``FILE:LINE:COL: message``; nothing runs
until a flow loads clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path as FsPath
from typing import Any

from jsonschema import Draft202012Validator

from runtime.errors import ExpressionError, FlowError, Problem
from runtime.expressions import Template, compile_template, has_template, templates_in
from runtime.flows.model import (
    ActionStep,
    BranchCase,
    BranchStep,
    ConfigVariable,
    Flow,
    LoopStep,
    RetryPolicy,
    Step,
    TriggerSpec,
    parse_duration,
)
from runtime.flows.yamlsource import Path, YamlDocument, parse_yaml
from runtime.plain_webhooks import secret_problem
from runtime.registry import Registry
from runtime.schemas import load_schema

_CONFIG_REF = re.compile(r"(?<![\w.])config\s*\.\s*([A-Za-z_]\w*)")
_FLOW_VALIDATOR: Draft202012Validator | None = None


def _flow_validator() -> Draft202012Validator:
    global _FLOW_VALIDATOR
    if _FLOW_VALIDATOR is None:
        _FLOW_VALIDATOR = Draft202012Validator(load_schema("flow"))
    return _FLOW_VALIDATOR


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
            schema_problems = list(_schema_problems(doc))
            doc.problems.extend(schema_problems)
            if not schema_problems:
                flow = _Compiler(doc, registry, text).compile()
    if doc.problems or flow is None:
        problems = sorted(set(doc.problems), key=lambda p: (p.line, p.column, p.message))
        raise FlowError(f"{file}: {len(problems)} problem(s)", problems)
    return flow


def _schema_problems(doc: YamlDocument) -> Iterator[Problem]:
    for error in _flow_validator().iter_errors(doc.data):
        path: Path = tuple(error.absolute_path)
        best = error
        if error.validator == "oneOf" and error.context:
            # report the branch that got furthest: the deepest sub-error
            best = max(error.context, key=lambda e: len(e.absolute_path))
            path = tuple(best.absolute_path)
        message = best.message
        if best.validator == "additionalProperties":
            extra = sorted(set(best.instance) - set(best.schema.get("properties", {})))
            for name in extra:
                yield doc.problem((*path, name), f"unknown key {name!r}", key=True)
            continue
        if best.validator == "pattern" and path and path[-1] in ("when", "for_each"):
            message = f"{path[-1]} must be a single ${{{{ expression }}}}"
        yield doc.problem(path, message)


class _Compiler:
    """Turns the schema-valid data into a Flow, collecting semantic problems."""

    def __init__(self, doc: YamlDocument, registry: Registry, text: str) -> None:
        self.doc = doc
        self.registry = registry
        self.text = text
        self.seen_steps: set[str] = set()
        self.all_steps: set[str] = set()
        self.config_names: set[str] = set()

    def compile(self) -> Flow | None:
        data: dict[str, Any] = self.doc.data
        self.all_steps = set(_all_step_ids(data.get("steps", [])))
        config = self._config(data.get("config", {}))
        trigger = self._trigger(data.get("trigger"))
        steps = self._steps(data["steps"], ("steps",))
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

    def _error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.doc.problems.append(self.doc.problem(path, message, key=key))

    def _config(self, raw: Mapping[str, Any]) -> tuple[ConfigVariable, ...]:
        out = []
        for name, spec in raw.items():
            self.config_names.add(name)
            path: Path = ("config", name)
            if spec["type"] == "connection":
                registered = self.registry.get(spec["component"])
                if registered is None:
                    self._error((*path, "component"), f"unknown component {spec['component']!r}")
                elif registered.component.connection(spec["connection"]) is None:
                    self._error(
                        (*path, "connection"),
                        f"component {spec['component']!r} has no connection {spec['connection']!r}",
                    )
            out.append(
                ConfigVariable(
                    name=name,
                    type=spec["type"],
                    component=spec.get("component"),
                    connection=spec.get("connection"),
                    default=spec.get("default"),
                    required=spec.get("required", "default" not in spec),
                    secret=spec.get("secret", False),
                    description=spec.get("description", ""),
                )
            )
        return tuple(out)

    def _trigger(self, raw: Mapping[str, Any] | None) -> TriggerSpec:
        if raw is None or "manual" in raw:
            return TriggerSpec(kind="manual")
        if "webhook" in raw:
            return TriggerSpec(kind="webhook", secret=self._webhook_secret(raw["webhook"]))
        if "schedule" in raw:
            return TriggerSpec(kind="schedule", every=parse_duration(raw["schedule"]["every"]))
        path: Path = ("trigger",)
        inputs = self._values(raw.get("inputs", {}), (*path, "inputs"), set())
        registered = self.registry.get(raw["component"])
        if registered is None:
            self._error((*path, "component"), f"unknown component {raw['component']!r}")
        elif registered.component.trigger(raw["trigger"]) is None:
            self._error(
                (*path, "trigger"),
                f"component {raw['component']!r} has no trigger {raw['trigger']!r}",
            )
        else:
            schema = registered.schema("trigger", raw["trigger"])
            self._check_inputs(schema, raw.get("inputs", {}), inputs, (*path, "inputs"))
        return TriggerSpec(
            kind="component", component=raw["component"], trigger=raw["trigger"], inputs=inputs
        )

    def _webhook_secret(self, raw: Mapping[str, Any]) -> Template | None:
        """A plain webhook's secret: one expression over ``secret: true`` config variables."""
        if "secret" not in raw:
            return None
        path: Path = ("trigger", "webhook", "secret")
        written = raw["secret"]
        template = self._template(written, path, set()) if has_template(written) else None
        if template is None and has_template(written):
            return None  # its expression problem is reported already
        problem = secret_problem(template, self.doc.data.get("config") or {})
        if problem is not None:
            self._error(path, problem)
        return template

    def _steps(self, raw: list[dict[str, Any]], path: Path) -> tuple[Step, ...]:
        out: list[Step] = []
        for index, item in enumerate(raw):
            step = self._step(item, (*path, index))
            if step is not None:
                out.append(step)
        return tuple(out)

    def _step(self, raw: dict[str, Any], path: Path) -> Step | None:
        step_id: str = raw["id"]
        if step_id in self.seen_steps:
            self._error((*path, "id"), f"duplicate step id {step_id!r}")
        on_error = raw.get("on_error", "fail")
        if "action" in raw:
            step = self._action_step(raw, path)
            self.seen_steps.add(step_id)
            return step
        if "branch" in raw:
            cases = []
            for index, case in enumerate(raw["branch"]):
                case_path: Path = (*path, "branch", index)
                when = self._expression(case["when"], (*case_path, "when"))
                steps = self._steps(case["steps"], (*case_path, "steps"))
                cases.append(BranchCase(case.get("name", f"case{index}"), when, steps))  # type: ignore[arg-type]
            otherwise = self._steps(raw.get("else", []), (*path, "else"))
            self.seen_steps.add(step_id)
            return BranchStep(step_id, tuple(cases), otherwise, on_error)
        items = self._expression(raw["for_each"], (*path, "for_each"))
        self.seen_steps.add(step_id)
        steps = self._steps(raw["steps"], (*path, "steps"))
        return LoopStep(step_id, items, steps, on_error)  # type: ignore[arg-type]

    def _action_step(self, raw: dict[str, Any], path: Path) -> ActionStep:
        component_key, action_key = raw["action"].split(".", 1)
        inputs_raw = raw.get("inputs", {})
        inputs = self._values(inputs_raw, (*path, "inputs"), self.seen_steps)
        registered = self.registry.get(component_key)
        if registered is None:
            self._error((*path, "action"), f"unknown component {component_key!r}")
        elif registered.component.action(action_key) is None:
            self._error(
                (*path, "action"), f"component {component_key!r} has no action {action_key!r}"
            )
        else:
            schema = registered.schema("action", action_key)
            self._check_inputs(schema, inputs_raw, inputs, (*path, "inputs"))
        when = self._expression(raw["when"], (*path, "when")) if "when" in raw else None
        retry = _retry_policy(raw.get("retry", {}))
        timeout = parse_duration(raw["timeout"]) if "timeout" in raw else None
        return ActionStep(
            id=raw["id"],
            component=component_key,
            action=action_key,
            inputs=inputs,
            retry=retry,
            on_error=raw.get("on_error", "fail"),
            when=when,
            timeout=timeout,
        )

    def _check_inputs(
        self, schema: Any, raw: Mapping[str, Any], compiled: Mapping[str, Any], path: Path
    ) -> None:
        """Unknown keys, missing required inputs, and literals of the wrong type."""
        for key in raw:
            if key not in schema.by_key:
                self._error((*path, key), f"unknown input {key!r} for {schema.owner}", key=True)
        for spec in schema.inputs:
            if spec.required and raw.get(spec.key) is None and not spec.has_default:
                self._error(path, f"missing required input {spec.key!r} for {schema.owner}")
        literals = {
            k: v for k, v in compiled.items() if k in schema.by_key and not _has_templates(v)
        }
        for problem in schema.problems(literals):
            if problem.message == "is required":
                continue  # reported above, with the template-aware rule
            key = problem.path.removeprefix("$.").split(".")[0].split("[")[0]
            self._error((*path, key), f"input {problem.path}: {problem.message}")

    def _values(self, value: Any, path: Path, visible: set[str]) -> Any:
        if isinstance(value, dict):
            return {k: self._values(v, (*path, k), visible) for k, v in value.items()}
        if isinstance(value, list):
            return [self._values(v, (*path, i), visible) for i, v in enumerate(value)]
        if isinstance(value, str) and has_template(value):
            return self._template(value, path, visible)
        return value

    def _expression(self, raw: str, path: Path) -> Template | None:
        return self._template(raw, path, self.seen_steps)

    def _template(self, raw: str, path: Path, visible: set[str]) -> Template | None:
        try:
            template = compile_template(raw)
        except ExpressionError as exc:
            self._error(path, f"expression error: {exc}")
            return None
        for expr in template.expressions:
            for step in sorted(expr.steps):
                if step in visible:
                    continue
                if step in self.all_steps:
                    self._error(path, f"reference to step {step!r} before it runs")
                else:
                    self._error(path, f"reference to unknown step {step!r}")
            bare = expr.source
            for name in sorted(set(_CONFIG_REF.findall(bare))):
                if name not in self.config_names:
                    self._error(path, f"reference to unknown config variable {name!r}")
        return template


def _has_templates(value: Any) -> bool:
    return next(templates_in(value), None) is not None


def _all_step_ids(steps: Any) -> Iterator[str]:
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("id"), str):
            yield step["id"]
        yield from _all_step_ids(step.get("steps"))
        yield from _all_step_ids(step.get("else"))
        for case in step.get("branch", []) if isinstance(step.get("branch"), list) else []:
            if isinstance(case, dict):
                yield from _all_step_ids(case.get("steps"))


def _retry_policy(raw: Mapping[str, Any]) -> RetryPolicy:
    defaults = RetryPolicy()
    return RetryPolicy(
        attempts=raw.get("attempts", defaults.attempts),
        backoff=raw.get("backoff", defaults.backoff),
        initial=parse_duration(raw.get("initial", defaults.initial)),
        max=parse_duration(raw.get("max", defaults.max)),
        jitter=raw.get("jitter", defaults.jitter),
        on=tuple(raw.get("on", defaults.on)),
    )
