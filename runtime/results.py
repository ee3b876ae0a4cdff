"""What an execution leaves behind: its status, a record per step, outputs and state.

These are plain values (``as_dict`` is what is stored and printed); the engine builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from attrs import define, field

from runtime.errors import ApiError, InputValidationError, RelayError, StepFailed
from runtime.redaction import REDACTED, SECRET_KEYS, Redactor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from runtime.connections import ConnectionHandle
    from runtime.context import State

Status = Literal["completed", "failed", "canceled", "waiting"]
StepStatus = Literal["completed", "failed", "skipped", "reused", "waiting"]


@define
class StepRecord:
    """What one step did. ``inputs`` are redacted; ``error`` is ``{type, message, ...}``."""

    id: str
    path: str
    kind: str
    action: str | None
    status: StepStatus
    started_at: float
    finished_at: float
    attempts: int = 0
    inputs: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    #: Which claim of the execution (its attempt) ran this step, on a store: a step of a
    #: resumed execution that an earlier claim completed keeps that claim's number.
    claim: int | None = None

    def as_dict(self, scrub: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """The record as stored or printed: the output passed through ``scrub`` (by default,
        its secret-named keys redacted; ``ExecutionResult.as_dict`` passes its redactor's)."""
        out = {
            "id": self.id,
            "path": self.path,
            "kind": self.kind,
            "action": self.action,
            "status": self.status,
            "started_at": self.started_at,
            "duration_ms": round((self.finished_at - self.started_at) * 1000, 3),
            "attempts": self.attempts,
            "inputs": self.inputs,
            "output": (scrub or Redactor().value)(self.output),
            "error": self.error,
        }
        if self.claim is not None:
            out["claim"] = self.claim
        return out


@define
class ExecutionResult:
    """The outcome of one execution. In memory, ``outputs`` and the steps' outputs are what the
    actions returned and ``connections`` hold the (possibly refreshed) tokens; ``as_dict`` is
    what gets stored, printed or logged: tokens left out, every secret ``redactor`` (the
    runtime's) knows scrubbed (secrets learned after the run, e.g. a later refresh, included)."""

    id: str
    flow: str
    status: Status
    started_at: float
    finished_at: float
    steps: list[StepRecord]
    outputs: dict[str, Any]
    state: State
    error: dict[str, Any] | None = None
    #: status ``waiting``: when the suspended execution is due to go on
    wake_at: float | None = None
    connections: dict[str, ConnectionHandle] = field(factory=dict, repr=False)
    redactor: Redactor = field(factory=Redactor, repr=False, eq=False)

    @property
    def ok(self) -> bool:
        """Whether the execution completed."""
        return self.status == "completed"

    def step(self, path: str) -> StepRecord:
        """The record of the step at ``path``; a path that did not run is a ``StopIteration``."""
        return next(s for s in self.steps if s.path == path)

    def as_dict(self) -> dict[str, Any]:
        """The result as stored or printed (see the class)."""
        redactor = self.redactor
        memo: dict[int, tuple[Any, Any]] = {}

        def scrub(value: Any) -> Any:
            # a step's output is also in ``outputs``: walk each object once (kept alive in
            # ``memo`` so ids are not reused while it lives)
            found = memo.get(id(value))
            if found is None:
                found = memo[id(value)] = (value, redactor.value(value))
            return found[1]

        return {
            "id": self.id,
            "flow": self.flow,
            "status": self.status,
            "started_at": self.started_at,
            "duration_ms": round((self.finished_at - self.started_at) * 1000, 3),
            "error": self.error,
            "steps": [s.as_dict(scrub) for s in self.steps],
            "outputs": {
                k: REDACTED if SECRET_KEYS.match(k) and isinstance(v, str) and v else scrub(v)
                for k, v in self.outputs.items()
            },
            "connections": {
                name: {"component": h.component, "refreshes": h.refreshes}
                for name, h in self.connections.items()
            },
        }


def error_dict(exc: BaseException) -> dict[str, Any]:
    """An exception as recorded: relay errors keep their fields; others their type, which
    leads their message too (``ZeroDivisionError: division by zero``): a component's own
    exception says nothing without it."""
    cause = exc.cause if isinstance(exc, StepFailed) else exc
    kind = type(cause).__name__
    message = str(cause)
    if not isinstance(cause, RelayError):
        message = f"{kind}: {message}" if message else kind
    out: dict[str, Any] = {"type": kind, "message": message}
    if isinstance(cause, ApiError):
        out.update(cause.as_dict())
    if isinstance(cause, InputValidationError):
        out["problems"] = [{"path": p.path, "message": p.message} for p in cause.problems]
    return out


#: The keys of an execution document, in order (``relay run --json``, ``relay execution --json``).
DOCUMENT_KEYS = (
    "id",
    "flow",
    "instance",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "replay_of",
    "error",
    "payload",
    "steps",
    "outputs",
    "connections",
)


def execution_document(
    result: Mapping[str, Any] | None,
    *,
    payload: Any = None,
    id: str | None = None,
    instance: str | None = None,
    status: str | None = None,
    created_at: float | None = None,
    finished_at: float | None = None,
    replay_of: str | None = None,
) -> dict[str, Any]:
    """One execution as printed, in one shape whether it just ran here (``relay run``) or was
    read from the store (``relay execution``): ``result`` is ``ExecutionResult.as_dict()``
    (or ``None`` for one that has not finished); the rest is what the store knows of it."""
    result = dict(result or {})
    started = result.get("started_at")
    duration = result.get("duration_ms")
    if finished_at is None and started is not None and duration is not None:
        finished_at = round(started + duration / 1000, 6)
    doc = {
        "id": id or result.get("id"),
        "flow": result.get("flow"),
        "instance": instance,
        "status": status or result.get("status"),
        "created_at": created_at if created_at is not None else started,
        "started_at": started,
        "finished_at": finished_at,
        "duration_ms": duration,
        "replay_of": replay_of,
        "error": result.get("error"),
        "payload": payload,
        "steps": result.get("steps", []),
        "outputs": result.get("outputs", {}),
        "connections": result.get("connections", {}),
    }
    return {key: doc[key] for key in DOCUMENT_KEYS}
