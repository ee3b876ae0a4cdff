"""One execution of a flow: steps in order, branches, loops, retries, error policy, records.

The engine evaluates each step's inputs against ``{config, trigger, steps, loop, state}``,
validates them against the action's schema (every error at once), calls the action with a
``Context``, and records what happened (inputs redacted). Connection handles are shared by all
steps of the execution: a refreshed token is seen by every later step.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import traceback
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from runtime import expression_budget
from runtime.checkpoints import Canceled, Checkpoint, Suspend
from runtime.context import Context, State
from runtime.errors import (
    ExpressionError,
    InputValidationError,
    Problem,
    RelayError,
    StepFailed,
)
from runtime.expressions import ConfigCache, Template, render_value
from runtime.flows.model import ActionStep, BranchStep, Flow, LoopStep, Step
from runtime.inputs import CONNECTION_MARKER
from runtime.logs import BoundOnUse
from runtime.results import ExecutionResult, Status, StepRecord, StepStatus, error_dict
from runtime.retries import attempt
from runtime.schema_messages import kind_of

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from structlog.typing import FilteringBoundLogger

    from runtime.checkpoints import Checkpointer, CheckpointStatus
    from runtime.clock import Clock
    from runtime.connections import ConnectionHandle
    from runtime.http import AsyncClient, RequestLimiter
    from runtime.plans import ActionPlan, ActionPlans
    from runtime.redaction import Redactor

#: Seconds an execution runs steps before it lets the event loop run other work.
YIELD_EVERY = 0.01


class _Halt(Exception):
    """Internal: a step failed with on_error=fail; unwinds to the execution."""

    def __init__(self, error: StepFailed | None, recorded: dict[str, Any] | None = None) -> None:
        self.error = error
        #: a failure restored from a checkpoint: its recorded error (already redacted)
        self.recorded = recorded


class InterruptedStep(RelayError):
    """A step declared ``idempotent: false`` was in flight when its execution was
    interrupted: it is failed rather than sent again."""


@frozen
class ExecutionEnv:
    """What an execution uses of the runtime that runs it."""

    clock: Clock
    #: The runtime's logger (it scrubs the runtime's secrets).
    logger: FilteringBoundLogger
    plans: ActionPlans
    #: The pooled HTTP client of the running event loop.
    http_client: Callable[[], AsyncClient]
    #: Awaited with a connection's store key before each request made with it.
    request_limiter: RequestLimiter | None
    #: The runtime's secrets: scrubbed from records, including tokens refreshed mid-run.
    redactor: Redactor


@define
class Execution:
    """Runs one flow once (``Runtime.run`` builds one)."""

    env: ExecutionEnv
    flow: Flow
    config: dict[str, Any]
    connections: dict[str, ConnectionHandle]
    trigger: Any
    state: State = field(factory=State)
    #: 32 random hex digits (uuid4's length; drawn without building a UUID).
    id: str = field(factory=lambda: os.urandom(16).hex())
    instance: str | None = None
    records: list[StepRecord] = field(factory=list)
    #: For replays from a step: recorded outputs of the top-level steps before it.
    reused_outputs: dict[str, Any] = field(factory=dict)
    #: On a store: where the steps' checkpoints go, and those of earlier claims to resume from.
    checkpoints: Checkpointer | None = None
    #: When a suspended run is due to go on (status ``waiting``).
    wake_at: float | None = None
    #: What templates reading only ``config`` rendered to (``config`` is fixed for a run).
    _config_cache: ConfigCache = field(factory=dict, init=False, repr=False)
    #: The runtime's logger bound to this execution (on first use); step loggers add the path.
    _log: Any = field(default=None, init=False, repr=False)
    _http: Any = field(default=None, init=False, repr=False)
    _event_loop: Any = field(default=None, init=False, repr=False)
    #: The scope of templates reading only ``config`` (the same for every step of a run).
    _config_scope: dict[str, Any] = field(factory=dict, init=False, repr=False)
    #: ``Context.http`` clients, shared by the steps of this run (see ``Context``).
    _http_clients: dict[Any, Any] = field(factory=dict, init=False, repr=False)
    #: When the next step first lets the event loop run other work (``time.monotonic``).
    _yield_at: float = field(factory=lambda: time.monotonic() + YIELD_EVERY, init=False, repr=False)
    #: The state scopes as last checkpointed (JSON text), to checkpoint them only on change.
    _state_text: str = field(default="", init=False, repr=False)

    @property
    def redactor(self) -> Redactor:
        """The runtime's secrets, scrubbed from this execution's records."""
        return self.env.redactor

    def __attrs_post_init__(self) -> None:
        for handle in self.connections.values():
            self.redactor.add(handle.secrets)
        secret_config = [
            str(self.config[v.name])
            for v in self.flow.config
            if v.secret and self.config.get(v.name)
        ]
        self.redactor.add(secret_config)

    async def run(self) -> ExecutionResult:
        """Run the steps; a step's failure is in the result, never raised."""
        clock = self.env.clock
        started = clock.time()
        outputs: dict[str, Any] = {}
        status: Status = "completed"
        error: dict[str, Any] | None = None
        checkpoints = self.checkpoints
        if checkpoints is not None:
            self._resume_state(checkpoints)
        try:
            await self._steps(self.flow.steps, outputs, None, "")
        except _Halt as halt:
            status = "failed"
            if halt.error is None:
                error = halt.recorded
            else:
                error = self.redactor.value({"step": halt.error.step, **error_dict(halt.error)})
        except Suspend as suspended:
            status = "waiting"
            self.wake_at = suspended.until
        except Canceled:
            status = "canceled"
            error = {"type": "Canceled", "message": "the execution was canceled on request"}
        except BaseException:
            # interrupted (a shutdown, a lost lease, the store away): stop writing; the next
            # claim goes on from what landed
            if checkpoints is not None:
                checkpoints.abandon()
            raise
        if checkpoints is not None and status != "waiting":
            await checkpoints.finish()
        for handle in self.connections.values():  # a token refreshed by a handle opened elsewhere
            self.redactor.add(handle.secrets)
        # CancelledError is not caught: an interrupted execution (shutdown, a time limit) is
        # not finished, and its executor decides whether it is handed back or recorded.
        return ExecutionResult(
            id=self.id,
            flow=self.flow.name,
            status=status,
            started_at=started,
            finished_at=clock.time(),
            steps=self.records,
            outputs=dict(outputs),
            state=self.state,
            error=error,
            wake_at=self.wake_at,
            connections=self.connections,
            redactor=self.redactor,
        )

    def _scope(self, outputs: Mapping[str, Any], loop: Mapping[str, Any] | None) -> dict[str, Any]:
        return {
            "config": self.config,
            "trigger": self.trigger,
            "steps": outputs,
            "item": (loop or {}).get("item"),
            "index": (loop or {}).get("index"),
            "state": self.state.as_dict(),
        }

    async def _steps(
        self,
        steps: tuple[Step, ...],
        outputs: dict[str, Any],
        loop: dict[str, Any] | None,
        prefix: str,
    ) -> None:
        for step in steps:
            if time.monotonic() >= self._yield_at:
                # steps that never suspend (relay.value, a loop over a long list) would keep
                # the event loop from everything else for the whole run: give it a turn
                await asyncio.sleep(0)
                self._yield_at = time.monotonic() + YIELD_EVERY
            path = f"{prefix}{step.id}"
            checkpoints = self.checkpoints
            if checkpoints is not None:
                checkpoints.check()  # a cancel asked for meanwhile stops the run here
                restored = checkpoints.resumed.get(path)
                if restored is not None:
                    await self._resumed(step, restored, outputs, loop, path)
                    continue
            if not prefix and step.id in self.reused_outputs:
                outputs[step.id] = self.reused_outputs[step.id]
                now = self.env.clock.time()
                self._record(step.id, path, "reused", None, "reused", now, output=outputs[step.id])
                continue
            if isinstance(step, ActionStep):
                await self._action(step, outputs, loop, path)
            elif isinstance(step, BranchStep):
                await self._branch(step, outputs, loop, path)
            else:
                await self._loop(step, outputs, loop, path)

    async def _branch(
        self, step: BranchStep, outputs: dict[str, Any], loop: dict[str, Any] | None, path: str
    ) -> None:
        started = self.env.clock.time()
        chosen: tuple[str, tuple[Step, ...]] | None = None
        try:
            for case in step.cases:
                where = f"steps.{path}.{case.name}.when"
                if _truthy(await _render(case.when, self._scope(outputs, loop), where)):
                    chosen = (case.name, case.steps)
                    break
        except ExpressionError as exc:
            self._fail(step.id, path, "branch", started, exc, step.on_error, outputs)
            return
        if chosen is None:
            chosen = ("else", step.otherwise)
        outputs[step.id] = {"branch": chosen[0]}
        self._record(step.id, path, "branch", None, "completed", started, output=outputs[step.id])
        await self._steps(chosen[1], outputs, loop, f"{path}.{chosen[0]}.")

    async def _loop(
        self,
        step: LoopStep,
        outputs: dict[str, Any],
        loop: dict[str, Any] | None,
        path: str,
        items: list[Any] | None = None,
        started: float | None = None,
    ) -> None:
        """Run the loop; ``items`` (with ``started``) are those a resumed loop decided on."""
        if started is None:
            started = self.env.clock.time()
        if items is None:
            try:
                where = f"steps.{path}.for_each"
                found = await _render(step.items, self._scope(outputs, loop), where)
                if not isinstance(found, list):
                    raise ExpressionError(f"for_each needs a list, got {type(found).__name__}")
            except ExpressionError as exc:
                self._fail(step.id, path, "loop", started, exc, step.on_error, outputs)
                return
            items = found
            if self.checkpoints is not None:  # a resumed loop goes over the same items
                opened = StepRecord(step.id, path, "loop", None, "completed", started, started)
                self._save(opened, {"items": items, "started_at": started}, "running")
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            inner = dict(outputs)
            await self._steps(
                step.steps, inner, {"item": item, "index": index}, f"{path}[{index}]."
            )
            results.append({s.id: inner[s.id] for s in step.steps if s.id in inner})
        outputs[step.id] = {"results": results, "count": len(results)}
        self._record(
            step.id,
            path,
            "loop",
            None,
            "completed",
            started,
            output={"count": len(results)},
            value=outputs[step.id],
        )

    async def _resumed(
        self,
        step: Step,
        checkpoint: Checkpoint,
        outputs: dict[str, Any],
        loop: dict[str, Any] | None,
        path: str,
    ) -> None:
        """Continue from an earlier claim's checkpoint of ``step``: a finished step's outcome
        stands (it is not called again), an unfinished one goes on from where it was."""
        status = checkpoint.status
        if isinstance(step, LoopStep) and status == "running":
            value = checkpoint.value or {}
            started = value.get("started_at")
            await self._loop(step, outputs, loop, path, list(value.get("items") or []), started)
            return
        if isinstance(step, ActionStep) and status in ("running", "waiting"):
            if status == "waiting":
                wake_at = checkpoint.wake_at or 0.0
                if self.env.clock.time() < wake_at:  # claimed before its time: wait on
                    raise Suspend(wake_at, checkpoint.then or "complete", checkpoint.value)
                if checkpoint.then == "complete":
                    outputs[step.id] = checkpoint.value
                    record = self._restored(checkpoint, outputs[step.id])
                    record.status, record.finished_at = "completed", self.env.clock.time()
                    record.claim = self._claim()
                    self.records.append(record)
                    self._save(record, outputs[step.id])
                    return
            await self._action(step, outputs, loop, path, resume=checkpoint)
            return
        if isinstance(step, LoopStep) and self.checkpoints is not None:
            # a finished loop is not entered again: its steps' records come back from their
            # own checkpoints, in the order they were reached
            inner = f"{path}["
            done = [
                c
                for p, c in self.checkpoints.resumed.items()
                if p.startswith(inner) and c.status not in ("running", "waiting")
            ]
            self.records += [self._restored(c, c.value) for c in sorted(done, key=_seq)]
        record = self._restored(checkpoint, checkpoint.value)
        self.records.append(record)
        if status == "failed":
            if step.on_error == "continue":
                outputs[step.id] = checkpoint.value
                return
            raise _Halt(None, recorded={"step": path, **(record.error or {})})
        if status in ("completed", "reused"):
            outputs[step.id] = checkpoint.value
        if isinstance(step, BranchStep):
            name = (checkpoint.value or {}).get("branch", "else")
            cases = {case.name: case.steps for case in step.cases}
            await self._steps(cases.get(name, step.otherwise), outputs, loop, f"{path}.{name}.")

    def _restored(self, checkpoint: Checkpoint, value: Any) -> StepRecord:
        """The record a checkpoint kept (an action's output is its value)."""
        fields = dict(checkpoint.record)
        if fields.get("kind") == "action":
            fields["output"] = value
        return StepRecord(**fields)

    async def _action(
        self,
        step: ActionStep,
        outputs: dict[str, Any],
        loop: dict[str, Any] | None,
        path: str,
        resume: Checkpoint | None = None,
    ) -> None:
        clock = self.env.clock
        started = clock.time()
        if self._log is None:
            self._start()
        plan = self.env.plans.get(step)
        # the same context, in the same order, as binding all four at once
        log: Any = BoundOnUse(self._log, step=path, instance=self.instance)
        if step.when is not None and not await self._when(step, plan.ref, outputs, loop, path):
            return
        rendered: dict[str, Any] = {}
        attempts = 0
        checkpoints = self.checkpoints
        first = 1
        if resume is not None:
            started, first = _resumed_attempt(resume, started)
        try:
            scope = self._scope(outputs, loop) if plan.reads_run else self._config_scope
            if plan.budgeted:
                rendered = await expression_budget.render(
                    step.inputs, scope, f"steps.{path}.inputs", self._config_cache
                )
            else:
                rendered = render_value(step.inputs, scope, self._config_cache)
            params = self._bind_connections(plan.schema.validate(rendered), plan.connections)
            context = Context(
                execution_id=self.id,
                flow=self.flow.name,
                step=path,
                logger=log,
                clock=clock,
                http_client=self._http,
                state=self.state,
                instance=self.instance,
                loop=self._event_loop,
                request_limiter=self.env.request_limiter,
                http_clients=self._http_clients,
                keyed=True,
                suspend_after=None if checkpoints is None else checkpoints.suspend_after,
            )
            if resume is not None and resume.status == "running" and not step.idempotent:
                raise InterruptedStep(
                    "the step was in flight when its execution was interrupted; it is declared"
                    " `idempotent: false`, so it was not sent again"
                )
        except (RelayError, Exception) as exc:
            self._step_failed(step, plan, exc, rendered, outputs, path, started, attempts, log)
            return
        changes = False
        if checkpoints is not None and plan.action.changes(params):
            changes = True
            await self._before_change(checkpoints, step, plan.ref, path, started)
        try:
            if plan.direct and first == 1:
                # the common step, called directly: every frame between the engine and the
                # action is paid again on each suspension of the step's requests
                attempts = 1
                output = await plan.action.perform(context, params)
            else:
                output, attempts = await attempt(
                    step, plan.action.perform, context, params, log, self.env.clock, first
                )
        except Suspend as suspended:
            inputs = plan.recorded_inputs(rendered, self.redactor)
            await self._suspend(suspended, step, plan.ref, path, started, inputs, first)
            raise
        except (RelayError, Exception) as exc:  # any failure of a step is recorded, never raised
            self._step_failed(step, plan, exc, rendered, outputs, path, started, attempts, log)
            return
        outputs[step.id] = output
        _check_output(plan, output, log)
        record = StepRecord(
            id=step.id,
            path=path,
            kind="action",
            action=plan.ref,
            status="completed",
            started_at=started,
            finished_at=clock.time(),
            attempts=attempts,
            inputs=plan.recorded_inputs(rendered, self.redactor),
            output=output,  # scrubbed when the record leaves the process (as_dict)
            claim=self._claim(),
        )
        self.records.append(record)
        if checkpoints is not None:
            self._save(record, output, now=changes)

    async def _when(
        self,
        step: ActionStep,
        ref: str,
        outputs: dict[str, Any],
        loop: dict[str, Any] | None,
        path: str,
    ) -> bool:
        """Whether the step's ``when`` holds; a step it skips (or fails) is recorded here."""
        started = self.env.clock.time()
        when = step.when
        if when is None:
            return True
        try:
            scope = self._scope(outputs, loop)
            run_it = _truthy(await _render(when, scope, f"steps.{path}.when"))
        except ExpressionError as exc:
            self._fail(step.id, path, "action", started, exc, step.on_error, outputs, ref)
            return False
        if not run_it:
            self._record(step.id, path, "action", ref, "skipped", started)
        return run_it

    async def _before_change(
        self, checkpoints: Checkpointer, step: ActionStep, ref: str, path: str, started: float
    ) -> None:
        """What this step may change must not be repeated: the steps before it are committed
        first (a read goes ahead; after a crash it may be read again)."""
        await checkpoints.settle()
        if not step.idempotent:  # in flight from here on: a resume fails it
            marker = StepRecord(step.id, path, "action", ref, "completed", started, started)
            self._save(marker, None, "running")
            await checkpoints.settle()

    async def _suspend(
        self,
        suspended: Suspend,
        step: ActionStep,
        ref: str,
        path: str,
        started: float,
        inputs: Any,
        first: int,
    ) -> None:
        """Checkpoint the step as waiting until ``suspended.until``, committed before the run
        is put aside."""
        if self.checkpoints is None:
            raise RuntimeError("a step suspended outside a durable execution") from None
        waiting = StepRecord(
            id=step.id,
            path=path,
            kind="action",
            action=ref,
            status="waiting",
            started_at=started,
            finished_at=self.env.clock.time(),
            attempts=max(suspended.attempts, first),
            inputs=inputs,
            claim=self._claim(),
        )
        self.records.append(waiting)
        self._save(waiting, suspended.output, wake_at=suspended.until, then=suspended.then)
        await self.checkpoints.settle()

    def _step_failed(
        self,
        step: ActionStep,
        plan: Any,
        exc: BaseException,
        rendered: Any,
        outputs: dict[str, Any],
        path: str,
        started: float,
        attempts: int,
        log: Any,
    ) -> None:
        attempts = max(attempts, getattr(exc, "attempts", 1))
        if not isinstance(exc, RelayError):
            log.error("step raised", error=type(exc).__name__, where=_origin(exc))
            # the whole traceback only at debug (secrets scrubbed by the log pipeline)
            log.debug("step traceback", exception="".join(traceback.format_exception(exc)))
        inputs = plan.recorded_inputs(rendered, self.redactor)
        self._fail(
            step.id,
            path,
            "action",
            started,
            exc,
            step.on_error,
            outputs,
            plan.ref,
            inputs,
            attempts,
        )

    def _claim(self) -> int | None:
        return None if self.checkpoints is None else self.checkpoints.claim

    def _resume_state(self, checkpoints: Checkpointer) -> None:
        """Take the state scopes as the latest checkpoint left them."""
        latest = checkpoints.state()
        if latest is not None:
            self.state.execution = latest.get("execution", {})
            self.state.flow = latest.get("flow", {})
            self.state.cross_flow = latest.get("cross_flow", {})
            self.state.integration = latest.get("integration", {})
        self._state_text = _state_text(self.state)

    def _save(
        self,
        record: StepRecord,
        value: Any,
        status: CheckpointStatus | None = None,
        *,
        now: bool = False,
        **extra: Any,
    ) -> None:
        """Checkpoint ``record`` (``value`` is what later steps read as its output), with the
        state scopes when they changed since the last checkpoint."""
        checkpoints = self.checkpoints
        if checkpoints is None:
            return
        text = _state_text(self.state)
        state = None
        if text != self._state_text:
            self._state_text = text
            state = json.loads(text)  # a copy: later steps go on changing the scopes
        fields = {
            "id": record.id,
            "path": record.path,
            "kind": record.kind,
            "action": record.action,
            "status": record.status,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "attempts": record.attempts,
            "inputs": record.inputs,
            # an action's output is the checkpoint's value: kept once
            "output": None if record.kind == "action" else record.output,
            "error": record.error,
            "claim": record.claim,
        }
        checkpoints.add(
            Checkpoint(
                path=record.path,
                seq=checkpoints.next_seq(),
                status=status or record.status,
                claim=checkpoints.claim,
                record=fields,
                value=value,
                state=state,
                tokens={name: h.refreshes for name, h in self.connections.items()} or None,
                **extra,
            ),
            now=now,
        )

    def _start(self) -> None:
        """What every step of this execution shares, set up by its first action step (on the
        event loop that runs it)."""
        self._log = BoundOnUse(self.env.logger, flow=self.flow.name, execution_id=self.id)
        self._http = self.env.http_client()
        self._event_loop = asyncio.get_running_loop()
        self._config_scope = self._scope({}, None)

    def _bind_connections(self, params: dict[str, Any], inputs: frozenset[str]) -> dict[str, Any]:
        """``params`` (validation's own new dict) with the markers of its connection
        ``inputs`` replaced by their handles, in place."""
        for key in inputs:
            value = params.get(key)
            if isinstance(value, dict) and CONNECTION_MARKER in value:
                name = value[CONNECTION_MARKER]
                if name not in self.connections:
                    raise InputValidationError(
                        "unknown connection", [Problem(f"no connection {name!r}", path=key)]
                    ) from None
                params[key] = self.connections[name]
        return params

    def _fail(
        self,
        step_id: str,
        path: str,
        kind: str,
        started: float,
        exc: BaseException,
        on_error: str,
        outputs: dict[str, Any],
        action: str | None = None,
        inputs: Any = None,
        attempts: int = 1,
    ) -> None:
        failure = StepFailed(path, exc)
        error = self.redactor.value(error_dict(failure))
        value = {"error": error} if on_error == "continue" else None
        self._record(
            step_id,
            path,
            kind,
            action,
            "failed",
            started,
            attempts=attempts,
            inputs=inputs,
            error=error,
            value=value,
        )
        if on_error == "continue":
            outputs[step_id] = value
            return
        raise _Halt(failure)

    def _record(
        self,
        step_id: str,
        path: str,
        kind: str,
        action: str | None,
        status: StepStatus,
        started: float,
        value: Any = None,
        **extra: Any,
    ) -> None:
        """Record a step's outcome (and checkpoint it, with ``value`` as what later steps read;
        by default its output)."""
        record = StepRecord(
            id=step_id,
            path=path,
            kind=kind,
            action=action,
            status=status,
            started_at=started,
            finished_at=self.env.clock.time(),
            claim=self._claim(),
            **extra,
        )
        self.records.append(record)
        if self.checkpoints is not None:
            self._save(record, record.output if value is None else value)


async def _render(template: Template, scope: Mapping[str, Any], where: str) -> Any:
    """A ``when`` or ``for_each`` value; a budgeted one is evaluated within the budget."""
    if template.budgeted:
        return await expression_budget.render(template, scope, where)
    return template.render(scope)


def _truthy(value: Any) -> bool:
    # no truthiness: a `when` giving "no" or 0 would otherwise run its step
    if not isinstance(value, bool):
        raise ExpressionError(f"when must give true or false, not {kind_of(value)}")
    return value


def _seq(checkpoint: Checkpoint) -> int:
    return checkpoint.seq


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
#: The state scopes of most executions: none holds anything.
_EMPTY_STATE = _ENCODE({"execution": {}, "flow": {}, "cross_flow": {}, "integration": {}})


def _state_text(state: State) -> str:
    """The state scopes as JSON text, to see whether a step changed them (empty scopes, the
    common case, without encoding them)."""
    if not (state.execution or state.flow or state.cross_flow or state.integration):
        return _EMPTY_STATE
    return _ENCODE(state.as_dict())


def _resumed_attempt(resume: Checkpoint, started: float) -> tuple[float, int]:
    """When a resumed step started, and the attempt it goes on with (after a retry's
    backoff: the next one)."""
    started = resume.record.get("started_at", started)
    if resume.status == "waiting":
        return started, int(resume.record.get("attempts") or 0) + 1
    return started, 1


def _origin(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


def _check_output(plan: ActionPlan, output: Any, log: Any) -> None:
    """Log a sampled output that does not match the action's ``output_schema``: the
    component's defect, so the flow goes on, told."""
    if plan.output is None:
        return
    mismatch = plan.output.sampled(output)
    if mismatch is not None:
        log.warning(
            "action output does not match its output_schema", action=plan.ref, problem=mismatch
        )
