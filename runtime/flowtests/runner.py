"""Run flow test cases: each in a fresh sandbox, token store and state, its run started by a
payload or by the signed webhooks a scenario makes the sandbox send; then its assertions.

``Session`` holds what the cases share (the components, the test sandboxes on offer); each
case gets its own runtime view (``Runtime.using``) with its own clock, hosts and recorder.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import define, field

from runtime import expression_budget
from runtime.api import Runtime
from runtime.clock import ManualClock
from runtime.connections import InMemoryTokenStore
from runtime.context import State
from runtime.declarations import WebhookRequest
from runtime.errors import ExpressionError, FlowError, Problem, RelayError
from runtime.flowtests import coverage
from runtime.flowtests.doubles import FixturePlans, Recorder
from runtime.flowtests.explain import explain, show
from runtime.flowtests.loader import MAX_FILE_BYTES, load_test_file
from runtime.flowtests.scope import assertion_scope
from runtime.logs import runtime_logger
from runtime.redaction import Redactor
from runtime.transport import InterceptingRouter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from runtime.expressions import Expression
    from runtime.flowtests.model import Case, ScenarioAction, TestFile
    from runtime.results import ExecutionResult

#: Every case starts at this time (2026-01-01T00:00:00Z): seed data, ids, signatures and the
#: outputs built from them are the same on every run, so snapshots can hold them.
START = 1_767_225_600.0
#: Where a scenario's trigger is deployed (the sandbox sends its webhooks here).
HOOK_URL = "https://relay.test/hooks/flow-test"
#: Most runs one case may start (each run's changes may send webhooks that start more).
MAX_RUNS = 50


@define
class Failure:
    """One assertion that did not hold."""

    assertion: str
    place: str
    message: str
    seen: list[str] = field(factory=list)


@define
class CaseResult:
    """What one case did: ``outcome`` passed, failed (an assertion) or error (it could not
    run: bad config, a scenario action the sandbox refused, no run started)."""

    id: str
    file: str
    name: str
    outcome: str
    seconds: float
    failures: list[Failure] = field(factory=list)
    error: str = ""
    #: The last run's steps: path, action or kind, status, attempts, ms, error message.
    timeline: list[dict[str, Any]] = field(factory=list)
    #: The flow file and the coverage items the case's runs reached.
    flow: str = ""
    reached: list[coverage.Item] = field(factory=list)
    #: Snapshot values observed (``--update`` writes them).
    snapshots: dict[str, Any] = field(factory=dict)
    runs: int = 0
    #: The last run's error (``step``, ``message``) when it failed.
    run_error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the case passed."""
        return self.outcome == "passed"


def snapshot_file(test_file: str) -> Path:
    """Where a test file's snapshots live: beside it, ``NAME.snapshots.json``."""
    path = Path(test_file)
    return path.with_name(path.name.rsplit(".", 1)[0] + ".snapshots.json")


def read_snapshots(test_file: str) -> dict[str, dict[str, Any]]:
    """The stored snapshots of a test file, by case name then assertion (none: empty)."""
    path = snapshot_file(test_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise FlowError(
            f"{path}: unreadable snapshots", [_problem(str(path), f"unreadable snapshots: {exc}")]
        ) from None
    return data if isinstance(data, dict) else {}


def write_snapshots(test_file: str, observed: Mapping[str, Mapping[str, Any]]) -> Path:
    """Merge ``observed`` (case -> assertion -> value) into the test file's snapshots."""
    stored = read_snapshots(test_file)
    for case, values in observed.items():
        stored.setdefault(case, {}).update(values)
    path = snapshot_file(test_file)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _problem(file: str, message: str) -> Problem:
    return Problem(message=message, file=file, line=1, column=1)


class Session:
    """What the cases of one suite share: a runtime (its components and hosts) and the test
    sandboxes the installed plugins offer (``flow_test_sandboxes``)."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime = runtime or Runtime()
        self.sandboxes: dict[str, Callable[..., Any]] = {}
        for offered in self.runtime.plugin_manager.hook.flow_test_sandboxes():
            for name, factory in (offered or {}).items():
                self.sandboxes.setdefault(name, factory)  # the first offer of a name wins
        self._files: dict[str, TestFile] = {}

    def scenarios(self) -> dict[str, Mapping[str, Any]]:
        """Each test sandbox's scenario actions with their arguments' schemas."""
        return {name: getattr(f, "scenario_schema", {}) for name, f in self.sandboxes.items()}

    def load(self, path: str) -> TestFile:
        """Load (once) a test file; ``FlowError`` with every problem."""
        found = self._files.get(path)
        if found is None:
            found = self._files[path] = load_test_file(
                path, self.runtime.registry, self.scenarios()
            )
        return found

    def new_sandbox(self, name: str, clock: ManualClock) -> Any:
        """A fresh test sandbox of component ``name`` on ``clock``."""
        return self.sandboxes[name](clock)

    def case_runtime(
        self, clock: ManualClock, sandbox: Any, recorder: Recorder, case: Case | None = None
    ) -> Runtime:
        """A runtime view for one case: its own tokens, clock, hosts (the sandbox's first),
        a router that shows every request to ``recorder``, and the case's step fixtures."""
        base = self.runtime
        rt = base.using(token_store=InMemoryTokenStore())
        # the case's own secrets: a redactor shared by every case would grow with the suite
        # (every case's tokens), and scrubbing each record would slow down with it
        rt.redactor = Redactor()
        rt.logger = runtime_logger(base.logger, rt.redactor)
        recorder.redactor = rt.redactor
        rt.clock = clock
        rt.hosts = {**base.hosts, **(sandbox.hosts if sandbox is not None else {})}
        rt.router = InterceptingRouter(rt.hosts, recorder)
        if case is not None and case.step_fixtures:
            fixtures = {f.step: f for f in case.step_fixtures}
            rt.action_plans = FixturePlans(base.registry, base.action_plans, fixtures)
        return rt

    async def run(
        self, file: TestFile, case: Case, snapshots: Mapping[str, Any] | None = None
    ) -> CaseResult:
        """Run one case in a fresh sandbox; never raises for what the case does."""
        started = time.perf_counter()
        result = CaseResult(case.id, case.file, case.name, "passed", 0.0, flow=file.flow_path)
        clock = ManualClock(now=START)
        sandbox = self.new_sandbox(file.sandbox, clock) if file.sandbox else None
        recorder = Recorder(case.request_fixtures)
        rt = self.case_runtime(clock, sandbox, recorder, case)
        try:
            runs = await self._runs(rt, file, case, sandbox)
        except _CaseError as exc:
            result.outcome, result.error = "error", str(exc)
            runs = []
        except RelayError as exc:  # config that does not resolve, a trigger that refuses
            message = rt.redactor.text(str(exc))
            result.outcome, result.error = "error", f"{type(exc).__name__}: {message}"
            runs = []
        finally:
            await rt.aclose()
        if runs:
            result.runs = len(runs)
            doc = runs[-1][1].as_dict()
            result.timeline = _timeline(doc)
            if doc["error"] is not None:
                error = doc["error"]
                result.run_error = {"step": error.get("step"), "message": error.get("message")}
            result.reached = sorted(coverage.hits(file.flow, [r for _, r in runs]))
            facts = sandbox.facts() if sandbox is not None else None
            scope = assertion_scope(runs, recorder.requests, case.config, facts, doc)
            await _check(case, scope, snapshots or {}, result)
        result.seconds = time.perf_counter() - started
        return result

    async def _runs(
        self, rt: Runtime, file: TestFile, case: Case, sandbox: Any
    ) -> list[tuple[Any, ExecutionResult]]:
        flow = file.flow
        await _act(sandbox, case.seed)
        scope, handles = await rt.resolve_config(flow, case.config)
        # copies: a run changes its state and may change its payload; the case runs again
        state = State(**copy.deepcopy(case.state or {}))
        if not case.scenario:
            payload = copy.deepcopy(case.payload) if case.payload is not None else {}
            run = await rt.run(
                flow, config=scope, connections=handles, payload=payload, state=state
            )
            return [(payload, run)]
        trigger: Any = flow.trigger
        inputs = trigger.render_inputs((scope, handles))
        deployed = await rt.deploy_trigger(trigger.ref, inputs, webhook_url=HOOK_URL)
        await _act(sandbox, case.scenario)
        runs: list[tuple[Any, ExecutionResult]] = []
        seen = 0
        while True:  # the runs' own changes may send more webhooks: those start runs too
            deliveries = await sandbox.webhooks(HOOK_URL)
            fresh, seen = deliveries[seen:], len(deliveries)
            if not fresh:
                break
            for delivery in fresh:
                event = await rt.webhook_event(
                    trigger.ref, inputs, WebhookRequest(**delivery), deploy_state=deployed
                )
                if event is None:
                    continue  # an event the flow did not select
                if len(runs) >= MAX_RUNS:
                    raise _CaseError(
                        f"{case.place}: more than {MAX_RUNS} runs (do the flow's changes "
                        "trigger it again and again?)"
                    )
                payload = {**dict(event.payload), "branch": event.branch}
                run = await rt.run(
                    flow, config=scope, connections=handles, payload=payload, state=state
                )
                runs.append((payload, run))
                # the instance's next run: a fresh execution scope, the others carried on
                state = State(
                    flow=state.flow, cross_flow=state.cross_flow, integration=state.integration
                )
        if not runs:
            raise _CaseError(
                f"{case.place}: the scenario started no run ({len(deliveries)} webhook(s) "
                "delivered, none the flow's trigger accepted)"
            )
        return runs


class _CaseError(Exception):
    """A case that could not run (not an assertion that failed)."""


async def _act(sandbox: Any, actions: tuple[ScenarioAction, ...]) -> None:
    for action in actions:
        try:
            await sandbox.act(action.action, action.arguments)
        except ValueError as exc:
            raise _CaseError(f"{action.place}: scenario action {action.action}: {exc}") from None


def _timeline(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for record in doc["steps"]:
        error = record["error"] or {}
        out.append(
            {
                "path": record["path"],
                "what": record["action"] or record["kind"],
                "status": record["status"],
                "attempts": record["attempts"],
                "ms": record["duration_ms"],
                "error": error.get("message", ""),
            }
        )
    return out


async def _check(
    case: Case, scope: Mapping[str, Any], snapshots: Mapping[str, Any], result: CaseResult
) -> None:
    for assertion in case.expect:
        expression = assertion.expression
        try:
            if expression.budgeted:  # it iterates: bounded as a flow's expressions are
                value = await expression_budget.evaluate(expression, scope, str(assertion.place))
            else:
                value = expression.evaluate(scope)
        except ExpressionError as exc:
            result.failures.append(
                Failure(assertion.source, str(assertion.place), f"could not be evaluated: {exc}")
            )
            continue
        if assertion.snapshot:
            result.snapshots[assertion.source] = value
            if assertion.source not in snapshots:
                message = "no snapshot stored yet (run `relay test --update` to store it)"
                result.failures.append(
                    Failure(
                        assertion.source, str(assertion.place), message, [f"  gave {show(value)}"]
                    )
                )
            elif snapshots[assertion.source] != value:
                result.failures.append(
                    Failure(
                        assertion.source,
                        str(assertion.place),
                        "differs from its snapshot (`relay test --update` stores the new value)",
                        [
                            f"  stored {show(snapshots[assertion.source])}",
                            f"  gave   {show(value)}",
                        ],
                    )
                )
            continue
        if value is not True:
            message = assertion.message or (
                "was false" if value is False else f"gave {show(value)}, not true"
            )
            seen = explain(assertion.source, scope) if _cheap(expression, scope) else []
            result.failures.append(Failure(assertion.source, str(assertion.place), message, seen))
    if result.failures:
        result.outcome = "failed"


def _cheap(expression: Expression, scope: Mapping[str, Any]) -> bool:
    """Whether evaluating ``expression``'s parts again (to explain a failure) costs little:
    an iterating one only within the inline budget."""
    if not expression.budgeted:
        return True
    inline = expression_budget.current_budget().inline
    return expression_budget.estimate(expression, expression.bindings(scope), inline) <= inline


def discover(paths: Iterable[str]) -> list[str]:
    """The test files under ``paths``: a file as given; in a folder, every ``test_*.yaml`` /
    ``test_*.yml`` in a folder named ``tests`` beneath it (``flows/tests/test_x.yaml``), and
    every flow beneath it with a ``tests:`` section."""
    found: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            found.extend(str(p) for p in files if is_test_file(p) or has_tests_section(p))
        elif path.exists():
            found.append(str(path))
        else:
            raise FlowError(
                f"{given}: no such file or folder", [_problem(given, "no such file or folder")]
            )
    return list(dict.fromkeys(found))


def is_test_file(path: Path) -> bool:
    """Whether ``path`` is a flow test file by name: ``tests/test_*.yaml`` (or ``.yml``)."""
    return (
        path.is_file()
        and path.parent.name == "tests"
        and path.name.startswith("test_")
        and path.suffix in (".yaml", ".yml")
    )


#: A flow with tests has top-level ``steps:`` and ``tests:`` (a quick look, before parsing).
_TESTS = re.compile(r"^tests\s*:", re.M)
_STEPS = re.compile(r"^steps\s*:", re.M)


def has_tests_section(path: Path) -> bool:
    """Whether the YAML file at ``path`` looks like a flow with a ``tests:`` section."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(MAX_FILE_BYTES)
    except OSError:
        return False
    return _TESTS.search(head) is not None and _STEPS.search(head) is not None
