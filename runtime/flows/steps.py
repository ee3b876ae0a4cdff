"""Compile a flow's steps, collecting every problem of every step.

The compiler walks what the author wrote, also where the schema found problems: a value the
schema refused (``blocked``) is left alone, everything else is still checked (actions and
their inputs, expressions and what they read, ``when`` and ``for_each``), so one mistake
never hides another. A ``Flow`` is only built from a document without problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import ExpressionError
from runtime.expressions import Template, compile_template, has_template, templates_in
from runtime.flows.model import (
    ActionStep,
    BranchCase,
    BranchStep,
    LoopStep,
    RetryPolicy,
    Step,
    parse_duration,
)
from runtime.flows.scoping import Ancestors, Where, reference_problems, step_places
from runtime.schema_messages import did_you_mean, key_path, show

if TYPE_CHECKING:
    from collections.abc import Mapping, Set

    from runtime.flows.yamlsource import Path, YamlDocument
    from runtime.registry import Registry

_KINDS = ("action", "branch", "for_each")


class StepCompiler:
    """Problems go to ``doc.problems``, each prefixed with the key path of its value."""

    def __init__(
        self,
        doc: YamlDocument,
        registry: Registry,
        text: str,
        blocked: Set[Path] = frozenset(),
        flagged: Set[Path] = frozenset(),
    ) -> None:
        self.doc = doc
        self.registry = registry
        self.text = text
        #: Paths whose values the schema refused, and every path the schema found fault with.
        self.blocked = blocked
        self.flagged = flagged
        self.seen_steps: set[str] = set()
        self.config_names: set[str] = set()
        data = doc.data if isinstance(doc.data, dict) else {}
        self.places = step_places(data.get("steps"))
        self.all_steps = set(self.places)
        #: Where the value being compiled stands (None: outside the steps).
        self.where: Where | None = None

    def _error(self, path: Path, message: str, *, key: bool = False) -> None:
        where = key_path(path[:-1] if key else path)
        text = f"{where}: {message}" if where else message
        self.doc.problems.append(self.doc.problem(path, text, key=key))

    def _usable(self, path: Path) -> bool:
        """Whether the schema left the value at ``path`` (and every value around it) usable."""
        return not any(path[:n] in self.blocked for n in range(len(path) + 1))

    def _known(self, kind: str, component: Any) -> list[str]:
        """The keys of a component's ``kind`` (actions, triggers, connections), for hints."""
        return [item.key for item in getattr(component, kind, ())]

    # --- steps --------------------------------------------------------------------------------

    def _steps(
        self, raw: Any, path: Path, visible: frozenset[str] = frozenset(), ancestors: Ancestors = ()
    ) -> tuple[tuple[Step, ...], frozenset[str]]:
        """The steps of a list, and the step ids visible after it."""
        if not isinstance(raw, list) or not self._usable(path):
            return (), visible
        out: list[Step] = []
        for index, item in enumerate(raw):
            step, visible = self._step(item, (*path, index), visible, ancestors)
            if step is not None:
                out.append(step)
        return tuple(out), visible

    def _step(
        self, raw: Any, path: Path, visible: frozenset[str], ancestors: Ancestors
    ) -> tuple[Step | None, frozenset[str]]:
        if not isinstance(raw, dict) or not self._usable(path):
            return None, visible
        step_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        if step_id is not None and step_id in self.seen_steps:
            self._error((*path, "id"), f"duplicate step id {step_id!r}")
        if step_id is not None:
            self.seen_steps.add(step_id)  # before its children: one may not reuse its id
        outer = self.where
        self.where = Where(step_id, ancestors)
        name = step_id or f"#{path}"
        built: list[Step] = []
        after = visible | {name}
        try:
            if "action" in raw:
                built.append(self._action_step(raw, path, visible))
            if "branch" in raw or "else" in raw:
                branch, seen = self._branch_step(raw, path, visible, name, ancestors)
                built.append(branch)
                after |= seen
            if "for_each" in raw or "steps" in raw:
                built.append(self._loop_step(raw, path, visible, name, ancestors))
        finally:
            self.where = outer
        return (built[0] if len(built) == 1 else None), after

    def _branch_step(
        self,
        raw: dict[str, Any],
        path: Path,
        visible: frozenset[str],
        name: str,
        ancestors: Ancestors,
    ) -> tuple[BranchStep, frozenset[str]]:
        cases: list[BranchCase] = []
        seen: frozenset[str] = frozenset()
        inside = visible | {name}  # the branch records {branch} before its case runs
        written = raw.get("branch")
        if isinstance(written, list) and self._usable((*path, "branch")):
            for index, case in enumerate(written):
                case_path: Path = (*path, "branch", index)
                if not isinstance(case, dict) or not self._usable(case_path):
                    continue
                when = self._condition(case.get("when"), (*case_path, "when"), visible, "when")
                steps, after = self._steps(
                    case.get("steps"), (*case_path, "steps"), inside, (*ancestors, (name, index))
                )
                seen |= after
                if when is not None:
                    cases.append(BranchCase(case.get("name", f"case{index}"), when, steps))
        otherwise, after = self._steps(
            raw.get("else", []), (*path, "else"), inside, (*ancestors, (name, "else"))
        )
        seen |= after
        return BranchStep(name, tuple(cases), otherwise, raw.get("on_error", "fail")), seen

    def _loop_step(
        self,
        raw: dict[str, Any],
        path: Path,
        visible: frozenset[str],
        name: str,
        ancestors: Ancestors,
    ) -> LoopStep:
        items = self._condition(raw.get("for_each"), (*path, "for_each"), visible, "for_each")
        # the body runs on a copy of the outputs: its steps are not visible after the loop
        steps, _ = self._steps(
            raw.get("steps"), (*path, "steps"), visible, (*ancestors, (name, "loop"))
        )
        return LoopStep(name, items, steps, raw.get("on_error", "fail"))  # type: ignore[arg-type]

    def _action_step(self, raw: dict[str, Any], path: Path, visible: frozenset[str]) -> ActionStep:
        written = raw.get("action")
        component_key, action_key = "", ""
        if isinstance(written, str) and "." in written and self._usable((*path, "action")):
            component_key, action_key = written.split(".", 1)
        inputs_path: Path = (*path, "inputs")
        inputs_raw = raw.get("inputs", {})
        usable_inputs = isinstance(inputs_raw, dict) and self._usable(inputs_path)
        inputs = self._values(inputs_raw, inputs_path, visible) if usable_inputs else {}
        registered = self.registry.get(component_key) if component_key else None
        if component_key and registered is None:
            hint = did_you_mean(component_key, [r.component.key for r in self.registry])
            self._error((*path, "action"), self.registry.unknown_component(component_key, hint))
        elif registered is not None and registered.component.action(action_key) is None:
            hint = did_you_mean(action_key, self._known("actions", registered.component))
            self._error(
                (*path, "action"),
                f"component {component_key!r} has no action {action_key!r}{hint}",
            )
        elif registered is not None and usable_inputs:
            schema = registered.schema("action", action_key)
            self._check_inputs(schema, inputs_raw, inputs, inputs_path)
        when = None
        if "when" in raw:
            when = self._condition(raw["when"], (*path, "when"), visible, "when")
        retry, timeout = RetryPolicy(), None
        try:
            if isinstance(raw.get("retry"), dict) and self._usable((*path, "retry")):
                retry = _retry_policy(raw["retry"])
            if "timeout" in raw and self._usable((*path, "timeout")):
                timeout = parse_duration(raw["timeout"])
        except (ValueError, TypeError, AttributeError):
            pass  # reported by the schema
        return ActionStep(
            id=str(raw.get("id")),
            component=component_key,
            action=action_key,
            inputs=inputs,
            retry=retry,
            on_error=raw.get("on_error", "fail"),
            when=when,
            timeout=timeout,
            idempotent=raw.get("idempotent") is not False,
        )

    def _condition(
        self, raw: Any, path: Path, visible: frozenset[str], what: str
    ) -> Template | None:
        """A ``when`` (true, false or one expression giving a boolean) or ``for_each`` (one
        expression giving a list); a value that can never be one is a problem here."""
        if raw is None or not self._usable(path):
            return None
        if isinstance(raw, bool) and what == "when":
            return compile_template("${{ true }}" if raw else "${{ false }}")
        if not isinstance(raw, str):
            return None  # reported by the schema
        template = self._template(raw, path, set(visible))
        if template is None:
            return None
        wanted = "true or false" if what == "when" else "a list"
        if not template.whole:
            self._error(
                path,
                "is text with expressions in it, always a string: write one ${{ expression }}",
            )
        elif not template.expressions[0].variables:
            # a constant: what it gives is known now (no macros: those bind variables)
            try:
                value = template.render({})
            except ExpressionError as exc:
                self._error(path, f"expression error: {exc}")
                return template
            if not (isinstance(value, bool) if what == "when" else isinstance(value, list)):
                self._error(path, f"is always {show(value)}, not {wanted}")
        return template

    # --- values -------------------------------------------------------------------------------

    def _check_inputs(
        self, schema: Any, raw: Mapping[str, Any], compiled: Mapping[str, Any], path: Path
    ) -> None:
        """Unknown keys, missing required inputs, and literals of the wrong type."""
        for key in raw:
            if key not in schema.by_key:
                hint = did_you_mean(key, schema.by_key)
                self._error(
                    (*path, key), f"unknown input {key!r} for {schema.owner}{hint}", key=True
                )
        for spec in schema.inputs:
            if spec.required and raw.get(spec.key) is None and not spec.has_default:
                self._error(path, f"missing required input {spec.key!r} for {schema.owner}")
        literals = {
            k: v for k, v in compiled.items() if k in schema.by_key and not _has_templates(v)
        }
        for where, message in schema.findings(literals):
            if message == "is required" and len(where) == 1:
                continue  # a missing input: reported above, with the template-aware rule
            self._error((*path, *where), message)

    def _values(self, value: Any, path: Path, visible: Set[str]) -> Any:
        if isinstance(value, dict):
            return {k: self._values(v, (*path, k), visible) for k, v in value.items()}
        if isinstance(value, list):
            return [self._values(v, (*path, i), visible) for i, v in enumerate(value)]
        if isinstance(value, str) and has_template(value):
            return self._template(value, path, visible)
        return value

    def _template(self, raw: str, path: Path, visible: Set[str]) -> Template | None:
        try:
            template = compile_template(raw)
        except ExpressionError as exc:
            self._error(path, f"expression error: {exc}")
            return None
        seen = set(visible)
        for expr in template.expressions:
            for problem in reference_problems(
                expr, self.where, seen, self.places, self.config_names
            ):
                self._error(path, problem)
        return template


def _has_templates(value: Any) -> bool:
    return next(templates_in(value), None) is not None


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
