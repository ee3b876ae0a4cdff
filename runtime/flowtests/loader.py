"""Load a flow test file: parse, check against ``flowtest.schema.json``, load its flow, check
every fixture, scenario action and assertion against it, compile the assertions.

Every problem is reported at once as ``FILE:LINE:COL: message`` (a ``FlowError``), like a
flow's; nothing runs until a test file loads clean.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from runtime.errors import ExpressionError, FlowError, Problem
from runtime.expressions import compile_expression
from runtime.flows import load_flow_file
from runtime.flows.structure import schema_problems
from runtime.flows.yamlsource import Path, YamlDocument, parse_yaml
from runtime.flowtests.model import (
    Assertion,
    Case,
    Place,
    RequestFixture,
    ScenarioAction,
    StepFixture,
    TestFile,
)
from runtime.schema_messages import describe, did_you_mean, key_path
from runtime.schemas import load_schema

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.expressions import Expression
    from runtime.flows.model import Flow
    from runtime.registry import Registry

#: What an assertion may read (see ``runtime.flowtests.scope``).
ROOTS = (
    "status",
    "error",
    "steps",
    "outputs",
    "branches",
    "loops",
    "requests",
    "state",
    "sandbox",
    "runs",
    "trigger",
    "config",
)
#: Largest test file or payload file read, in bytes.
MAX_FILE_BYTES = 4_000_000
_REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*)$")
_REQUEST_ONLY = ("host", "status", "headers", "body", "times")
#: The variable a comprehension macro binds (``requests.filter(r, ...)`` binds ``r``).
_BOUND = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\(\s*([A-Za-z_]\w*)\s*,")


@functools.cache
def _validator(embedded: bool = False) -> Draft202012Validator:
    """The test file schema; ``embedded``: for a flow's own ``tests:`` (its cases, no more)."""
    schema = load_schema("flowtest")
    if embedded:
        schema = copy.deepcopy(schema)
        schema["required"] = ["tests"]
        schema["properties"] = {"tests": schema["properties"]["cases"]}
    return Draft202012Validator(schema)


def has_tests(data: Any) -> bool:
    """Whether ``data`` is a flow with a ``tests:`` section (not a test file)."""
    return isinstance(data, dict) and "tests" in data and "steps" in data and "cases" not in data


def _read(path: FsPath, file: str) -> tuple[str | None, Problem | None]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, Problem(f"larger than {MAX_FILE_BYTES} bytes", file=file, line=1, column=1)
        return path.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, Problem(f"cannot read: {reason}", file=file, line=1, column=1)


def load_test_file(
    path: str | FsPath, registry: Registry, scenarios: Mapping[str, Mapping[str, Any]]
) -> TestFile:
    """Read and load a test file; ``scenarios``: each test sandbox's actions by component
    (``{component: {action: arguments schema}}``). Raises ``FlowError`` with every problem."""
    file = str(path)
    text, problem = _read(FsPath(path), file)
    if text is None:
        assert problem is not None
        raise FlowError(f"{file}: cannot load test file", [problem])
    return load_test_text(text, file, registry, scenarios)


def load_test_text(
    text: str, file: str, registry: Registry, scenarios: Mapping[str, Mapping[str, Any]]
) -> TestFile:
    """``load_test_file`` for text; ``file`` names it and relative paths start from its folder."""
    doc = parse_yaml(text, file)
    loaded: TestFile | None = None
    if not doc.problems:
        if not isinstance(doc.data, dict):
            doc.problems.append(doc.problem((), "a flow test file must be a mapping"))
        elif has_tests(doc.data):
            # the flow's own cases: checked and placed as a test file's, in the flow's file
            own = YamlDocument(
                file,
                {"tests": doc.data["tests"]},
                doc.positions,
                doc.key_positions,
                doc.problems,
            )
            doc.problems.extend(schema_problems(own, _validator(embedded=True)).problems)
            loaded = _Compiler(own, registry, scenarios, cases="tests").compile()
        else:
            doc.problems.extend(schema_problems(doc, _validator()).problems)
            loaded = _Compiler(doc, registry, scenarios).compile()
    if doc.problems or loaded is None:
        # the file's own problems first, then those of the files it names (its flow, payloads)
        problems = sorted(
            set(doc.problems), key=lambda p: (p.file != file, p.file, p.line, p.column, p.message)
        )
        raise FlowError(f"{file}: {len(problems)} problem(s)", problems)
    return loaded


class _Compiler:
    def __init__(
        self,
        doc: YamlDocument,
        registry: Registry,
        scenarios: Mapping[str, Mapping[str, Any]],
        cases: str = "cases",
    ) -> None:
        #: where the cases are: ``cases`` in a test file, ``tests`` in a flow (its own flow)
        self.cases = cases
        self.doc = doc
        self.registry = registry
        self.scenarios = scenarios
        self.folder = FsPath(doc.file).parent
        self.data: dict[str, Any] = doc.data
        #: payload files and assertions met before (cases often share them)
        self._payloads: dict[FsPath, Any] = {}
        self._compiled: dict[str, Expression] = {}

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        where = key_path(path[:-1] if key else path)
        self.doc.problems.append(
            self.doc.problem(path, f"{where}: {message}" if where else message, key=key)
        )

    def place(self, path: Path, *, key: bool = False) -> Place:
        line, column = self.doc.where(path, key=key)
        return Place(self.doc.file, line, column)

    def compile(self) -> TestFile | None:
        flow, flow_path = self._flow()
        sandbox = self._sandbox(flow)
        base = self.data.get("config")
        base = base if isinstance(base, dict) else {}
        cases: list[Case] = []
        names: dict[str, Path] = {}
        raw_cases = self.data.get(self.cases)
        for index, raw in enumerate(raw_cases if isinstance(raw_cases, list) else []):
            path: Path = (self.cases, index)
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                continue
            name = raw["name"]
            if name in names:
                first = self.place(names[name])
                self.error((*path, "name"), f"a second case named {name!r} (the first: {first})")
                continue
            names[name] = (*path, "name")
            case = self._case(raw, path, base, flow, sandbox)
            if case is not None:
                cases.append(case)
        if flow is None or flow_path is None:
            return None
        return TestFile(self.doc.file, flow_path, flow, sandbox, tuple(cases))

    def _flow(self) -> tuple[Flow | None, str | None]:
        if self.cases == "tests":  # a flow's own tests
            return self._own_flow()
        written = self.data.get("flow")
        if not isinstance(written, str):
            return None, None
        target = FsPath(os.path.normpath(self.folder / written))
        if not target.is_file():
            self.error(("flow",), f"no flow file {written!r} (looked for {target})")
            return None, None
        try:
            return load_flow_file(target, self.registry), str(target)
        except FlowError as exc:
            self.error(
                ("flow",),
                f"the flow {written!r} does not load ({len(exc.problems)} problem(s) follow)",
            )
            self.doc.problems.extend(exc.problems)
            return None, None

    def _own_flow(self) -> tuple[Flow | None, str | None]:
        try:
            return load_flow_file(self.doc.file, self.registry), self.doc.file
        except FlowError as exc:
            self.doc.problems.extend(exc.problems)
            return None, None

    def _sandbox(self, flow: Flow | None) -> str | None:
        named = self.data.get("sandbox")
        if isinstance(named, str):
            if named not in self.scenarios:
                hint = did_you_mean(named, self.scenarios)
                offered = ", ".join(sorted(self.scenarios)) or "none"
                self.error(("sandbox",), f"no test sandbox {named!r}{hint} (offered: {offered})")
                return None
            return named
        component = getattr(flow.trigger, "component", None) if flow is not None else None
        return component if component in self.scenarios else None

    def _case(
        self,
        raw: dict[str, Any],
        path: Path,
        base: Mapping[str, Any],
        flow: Flow | None,
        sandbox: str | None,
    ) -> Case | None:
        starts = [k for k in ("payload", "payload_file", "scenario") if k in raw]
        if len(starts) > 1:
            self.error(
                (*path, starts[1]),
                "a case has one of payload, payload_file, scenario; this one has "
                + " and ".join(starts),
                key=True,
            )
        payload = raw.get("payload")
        if isinstance(raw.get("payload_file"), str):
            payload = self._payload_file(raw["payload_file"], (*path, "payload_file"))
        scenario = self._scenario(raw.get("scenario"), (*path, "scenario"), flow, sandbox)
        seed = self._scenario(raw.get("seed"), (*path, "seed"), flow, sandbox, seed=True)
        steps, requests = self._fixtures(raw.get("fixtures"), (*path, "fixtures"), flow)
        expect = self._expect(raw.get("expect"), (*path, "expect"))
        config = raw.get("config")
        state = raw.get("state")
        return Case(
            name=raw["name"],
            file=self.doc.file,
            place=self.place(path),
            config={**base, **(config if isinstance(config, dict) else {})},
            payload=payload,
            scenario=scenario,
            seed=seed,
            state=state if isinstance(state, dict) else None,
            step_fixtures=steps,
            request_fixtures=requests,
            expect=expect,
        )

    def _payload_file(self, written: str, path: Path) -> Any:
        target = FsPath(os.path.normpath(self.folder / written))
        if target in self._payloads:
            return copy.deepcopy(self._payloads[target])
        text, problem = _read(target, str(target))
        if text is None:
            self.error(path, f"{written!r}: {problem.message if problem else 'cannot read'}")
            return None
        doc = parse_yaml(text, str(target))  # JSON is YAML: one parser, positions for both
        if doc.problems:
            self.error(path, f"{written!r} does not parse ({len(doc.problems)} problem(s) follow)")
            self.doc.problems.extend(doc.problems)
        self._payloads[target] = doc.data
        return copy.deepcopy(doc.data)

    def _scenario(
        self, raw: Any, path: Path, flow: Flow | None, sandbox: str | None, *, seed: bool = False
    ) -> tuple[ScenarioAction, ...]:
        if not isinstance(raw, list):
            return ()
        if sandbox is None:
            offered = ", ".join(sorted(self.scenarios)) or "none"
            what = "seed data" if seed else "a scenario"
            self.error(
                path, f"{what} needs a test sandbox: name one with `sandbox:` (offered: {offered})"
            )
            return ()
        webhooks = getattr(flow.trigger, "receives_webhooks", False) if flow else True
        if not seed and not webhooks:
            self.error(
                path,
                "a scenario starts runs by webhook: this flow's trigger receives none"
                " (give a payload)",
            )
        vocabulary = self.scenarios[sandbox]
        out: list[ScenarioAction] = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or not item:
                continue  # the schema said so
            if len(item) > 1:
                written = " and ".join(map(str, item))
                self.error((*path, index), f"a scenario step is one action; this one has {written}")
                continue
            ((action, arguments),) = item.items()
            where: Path = (*path, index, action)
            if action not in vocabulary:
                hint = did_you_mean(action, vocabulary)
                known = ", ".join(sorted(vocabulary))
                self.error(
                    where, f"unknown scenario action {action!r}{hint} (known: {known})", key=True
                )
                continue
            arguments = {} if arguments is None else arguments
            bad = False
            for problem in Draft202012Validator(vocabulary[action]).iter_errors(arguments):
                self.error((*where, *problem.absolute_path), describe(problem))
                bad = True
            if not bad:
                out.append(ScenarioAction(action, dict(arguments), self.place(where, key=True)))
        return tuple(out)

    def _fixtures(
        self, raw: Any, path: Path, flow: Flow | None
    ) -> tuple[tuple[StepFixture, ...], tuple[RequestFixture, ...]]:
        steps: list[StepFixture] = []
        requests: list[RequestFixture] = []
        known = {step.id for step in flow.walk()} if flow is not None else None
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            where: Path = (*path, index)
            if not isinstance(item, dict):
                continue
            if ("step" in item) == ("request" in item):
                self.error(
                    where,
                    "a fixture has one of step (with output or error) or request (METHOD /path)",
                )
                continue
            if "step" in item:
                fixture = self._step_fixture(item, where, known)
                if fixture is not None:
                    steps.append(fixture)
            else:
                request = self._request_fixture(item, where)
                if request is not None:
                    requests.append(request)
        return tuple(steps), tuple(requests)

    def _step_fixture(
        self, item: dict[str, Any], where: Path, known: set[str] | None
    ) -> StepFixture | None:
        step = item["step"]
        extra = [k for k in _REQUEST_ONLY if k in item]
        for key in extra:
            self.error(
                (*where, key), f"{key!r} belongs to a request fixture, not a step's", key=True
            )
        if ("output" in item) == ("error" in item):
            self.error(where, "a step fixture has one of output or error")
            return None
        if not isinstance(step, str) or extra:
            return None
        if known is not None and step not in known:
            hint = did_you_mean(step, known)
            self.error((*where, "step"), f"the flow has no step {step!r}{hint}")
            return None
        error = item.get("error")
        return StepFixture(
            step=step,
            place=self.place(where),
            output=item.get("output"),
            error=dict(error) if isinstance(error, dict) else None,
        )

    def _request_fixture(self, item: dict[str, Any], where: Path) -> RequestFixture | None:
        for key in ("output", "error"):
            if key in item:
                self.error(
                    (*where, key), f"{key!r} belongs to a step fixture, not a request's", key=True
                )
        written = item["request"]
        match = _REQUEST.match(written) if isinstance(written, str) else None
        if match is None:
            return None  # the schema said so
        headers = item.get("headers")
        return RequestFixture(
            method=match.group(1),
            path=match.group(2).split("?", 1)[0],
            place=self.place(where),
            host=item.get("host") if isinstance(item.get("host"), str) else None,
            status=item.get("status", 200) if isinstance(item.get("status"), int) else 200,
            headers=tuple(sorted(headers.items())) if isinstance(headers, dict) else (),
            body=item.get("body"),
            times=item.get("times") if isinstance(item.get("times"), int) else None,
        )

    def _expect(self, raw: Any, path: Path) -> tuple[Assertion, ...]:
        out: list[Assertion] = []
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            where: Path = (*path, index)
            snapshot = False
            message = ""
            if isinstance(item, str):
                source = item
            elif isinstance(item, dict):
                kinds = [k for k in ("that", "snapshot") if k in item]
                if len(kinds) != 1:
                    self.error(where, "an assertion has one of that (CEL) or snapshot (CEL)")
                    continue
                snapshot = kinds[0] == "snapshot"
                where = (*where, kinds[0])
                source = item[kinds[0]]
                message = item.get("message", "") if isinstance(item.get("message"), str) else ""
            else:
                continue
            if not isinstance(source, str):
                continue
            assertion = self._assertion(source, where, message, snapshot)
            if assertion is not None:
                out.append(assertion)
        return tuple(out)

    def _assertion(
        self, source: str, where: Path, message: str, snapshot: bool
    ) -> Assertion | None:
        text = source.strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]  # written as in a flow: the braces are optional here
        try:
            expression = self._compiled.get(text) or compile_expression(text)
            self._compiled[text] = expression
        except ExpressionError as exc:
            self.error(where, f"assertion {source!r}: {exc}")
            return None
        unknown = sorted(expression.variables - set(ROOTS) - set(_BOUND.findall(text)))
        if unknown:
            name = unknown[0]
            self.error(
                where,
                f"assertion {source!r}: unknown name {name!r}{did_you_mean(name, ROOTS)}"
                f" (known: {', '.join(ROOTS)})",
            )
            return None
        return Assertion(text.strip(), expression, self.place(where), message, snapshot)
