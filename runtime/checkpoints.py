"""Durable steps: what an execution checkpoints as it runs, and how a resumed one continues.

Every step that finishes (an action, a branch decision, a loop's items and its end, a wait)
leaves a ``Checkpoint``. The engine hands them to a ``Checkpointer``, which writes them through
a ``CheckpointSink`` (the store, under the execution's lease) in the background, several at a
time: a step that only reads does not wait for the previous checkpoint's commit, a step that
changes something does (``Checkpointer.settle``), and so does the finish. A run that was
interrupted (a crash, a lost lease, a stopped worker) is claimed again with the checkpoints of
its earlier claims (``Checkpointer.resumed``): the engine takes a checkpointed step's outcome
instead of calling it again and continues at the step that was in flight.

A wait longer than ``suspend_after`` (``relay.sleep``, a retry's backoff) does not hold the run:
the engine raises ``Suspend``, the step is checkpointed as ``waiting`` with its wake-up time,
and the execution is put aside until then (``runtime.running``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal, Protocol

from attrs import define, field, frozen

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Seconds of waiting above which an execution on a store is suspended rather than held.
DEFAULT_SUSPEND_AFTER = 60.0
#: Seconds a checkpoint of a read may wait to be written (with what queues meanwhile); a step
#: that changes something has the queue written at once. An execution that ends sooner than
#: this writes no checkpoint at all: its outcome records every step.
WRITE_BEHIND = 0.05

CheckpointStatus = Literal["completed", "failed", "skipped", "reused", "running", "waiting"]


@frozen
class Checkpoint:
    """One step's outcome as far as it got.

    ``status`` is the record's, or ``running`` (a loop whose items are decided; a step that may
    not be repeated, about to be called) or ``waiting`` (a step suspended until ``wake_at``).
    ``value`` is what later steps read as ``steps.<id>`` (an action's output, ``{"branch":
    ...}``, a loop's results or items). ``record`` is the ``StepRecord.as_dict`` shape without
    scrubbing (the store encrypts the checkpoint). ``state`` holds the four state scopes when a
    step changed them. ``claim`` is the execution attempt that reached this point.
    """

    path: str
    seq: int
    status: CheckpointStatus
    claim: int
    record: dict[str, Any]
    value: Any = None
    state: dict[str, dict[str, Any]] | None = None
    wake_at: float | None = None
    #: for a ``waiting`` step: ``"complete"`` (it ends when the wait does: ``relay.sleep``)
    #: or ``"retry"`` (the next attempt is due then)
    then: str | None = None
    #: each connection's token generation (how often it was refreshed) at this point
    tokens: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as the store keeps it (encrypted: it holds step outputs)."""
        return {
            "path": self.path,
            "seq": self.seq,
            "status": self.status,
            "claim": self.claim,
            "record": self.record,
            "value": self.value,
            "state": self.state,
            "wake_at": self.wake_at,
            "then": self.then,
            "tokens": self.tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Back from ``as_dict``."""
        return cls(
            path=data["path"],
            seq=data["seq"],
            status=data["status"],
            claim=data["claim"],
            record=data["record"],
            value=data.get("value"),
            state=data.get("state"),
            wake_at=data.get("wake_at"),
            then=data.get("then"),
            tokens=data.get("tokens"),
        )


class CheckpointSink(Protocol):
    """Where checkpoints go: the store, under the execution's lease."""

    async def save(self, checkpoints: Sequence[Checkpoint]) -> bool:
        """Commit ``checkpoints`` (in one transaction where the store can); returns whether
        the execution has been asked to cancel. Raises when the lease is no longer held
        (``LeaseLost``): nothing is written then, and the run must stop."""
        ...


class Suspend(BaseException):
    """Raised by a wait that should not hold the run: the step waits until ``until``.

    A ``BaseException`` so that neither a retry policy nor the engine's failure handling
    takes it for a step's failure."""

    def __init__(self, until: float, then: str = "complete", output: Any = None) -> None:
        super().__init__(until)
        self.until = until
        self.then = then
        self.output = output
        #: the attempts made so far (a retry's backoff)
        self.attempts = 0


class Canceled(BaseException):
    """The execution was asked to cancel; raised at its next checkpoint."""


@define
class Checkpointer:
    """One execution's checkpoints: written behind the run, settled before side effects."""

    sink: CheckpointSink
    #: the execution attempt (claim) running now
    claim: int
    #: the checkpoints of earlier claims, by step path
    resumed: dict[str, Checkpoint] = field(factory=dict)
    #: seconds of waiting above which the run is suspended instead of held
    suspend_after: float = DEFAULT_SUSPEND_AFTER
    cancel_requested: bool = False
    _queue: list[Checkpoint] = field(factory=list, init=False)
    _flushing: asyncio.Task[None] | None = field(default=None, init=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False)
    _failure: BaseException | None = field(default=None, init=False)
    _seq: int = field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if self.resumed:
            self._seq = max(c.seq for c in self.resumed.values()) + 1

    @property
    def resuming(self) -> bool:
        """Whether earlier claims left checkpoints."""
        return bool(self.resumed)

    def next_seq(self) -> int:
        """The order of the next checkpoint in this execution."""
        self._seq += 1
        return self._seq

    def state(self) -> dict[str, dict[str, Any]] | None:
        """The state scopes as the latest checkpoint that changed them left them."""
        latest = None
        for checkpoint in self.resumed.values():
            if checkpoint.state is not None and (latest is None or checkpoint.seq > latest.seq):
                latest = checkpoint
        return None if latest is None else latest.state

    def add(self, checkpoint: Checkpoint, *, now: bool = False) -> None:
        """Queue ``checkpoint``; it is written in the background (with whatever else queues
        meanwhile, in one transaction) at once with ``now`` (a step that changed something:
        the window in which a crash repeats it is the commit's), else within
        ``WRITE_BEHIND`` seconds."""
        self._queue.append(checkpoint)
        if now:
            self._kick()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WRITE_BEHIND, self._kick)

    def _kick(self) -> None:
        """Start writing what is queued, unless a write is in flight (it goes on with it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._queue and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._queue and self._failure is None:
            batch, self._queue = self._queue, []
            try:
                if await self.sink.save(batch):
                    self.cancel_requested = True
            except Exception as exc:  # raised at the next step, settle or finish: the run stops
                self._failure = exc

    async def settle(self) -> None:
        """Wait until every queued checkpoint is committed; raise what a write raised (a lost
        lease), or ``Canceled`` when the execution was asked to cancel."""
        self._kick()
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
        if self._queue:  # queued after the last flush ended
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
            await asyncio.shield(self._flushing)
        self.check()

    async def finish(self) -> None:
        """Before the execution's outcome is written: wait for the write in flight and drop
        what has not been sent (the outcome records every step); raise as ``settle`` does,
        except for a cancel (the run has ended anyway)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
        if self._failure is not None:
            raise self._failure

    def abandon(self) -> None:
        """The run was interrupted (its claim is handed back or lost): write nothing more. A
        write already in flight is let finish (it is fenced by the lease, and cancelling a
        database call midway can leave its connection unusable)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def check(self) -> None:
        """Raise a failed write's error, or ``Canceled`` if a cancel was requested."""
        if self._failure is not None:
            raise self._failure
        if self.cancel_requested:
            raise Canceled()
