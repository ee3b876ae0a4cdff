"""The execution event feed: what happens to executions, as small events in order, read from
the store so that it sees every process writing to it.

Events (``ExecutionEvent.kind``): ``recorded`` (pending), ``started`` (claimed: running; again
after a resume), ``step`` (a step checkpointed or recorded: its path and status), ``waiting``
and ``finished`` (completed, failed or canceled). An event holds ids, the instance, statuses,
a step's path and a time; never a payload, an input or an output.

The feed polls: executions recorded since its cursor (by the ``created_at`` indexes), and the
unfinished executions it already knows (by id), with their checkpoints. It compares what it
reads with what it has shown and emits the difference. A feed on the same process as the
writers is woken at once by their writes (``Store.feed_signal``); one watching other
processes looks every ``poll`` seconds.

Each event has a key ``(time, execution id, kind, detail)``: its time is the store's (a
record, a claim, a finish) or the step record's end. A feed's cursor is the largest key it has
emitted; a feed started ``after`` a cursor emits only events whose key is larger, so a client
resuming with its last cursor gets neither repeats nor the events it saw. An event committed
out of order by more than the time between the client's last event and its disconnect (a
writer whose clock or transaction lags) sorts before the cursor and is not shown again on
resume; a connected feed shows it (it re-reads the last ``lag`` seconds of records).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from runtime.store.execution_feed import FeedRow, StepMark

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from runtime.store import Store

__all__ = [
    "EventFeed",
    "ExecutionEvent",
    "Key",
    "decode_cursor",
    "encode_cursor",
    "time_cursor",
]

EventKind = Literal["recorded", "started", "step", "waiting", "finished"]
#: The order of an execution's events at the same time.
RANK = {"recorded": 0, "started": 1, "step": 2, "waiting": 3, "finished": 4}
_FINAL = ("completed", "failed", "canceled")

#: ``(time, execution id, rank of the kind, detail)``: the order events are shown in.
Key = tuple[float, str, int, str]

#: Seconds between looks at the store when no write of this process wakes the feed.
POLL = 0.5
#: Seconds of records read again at each look: a record committed up to this late is shown.
LAG = 2.0
#: Executions read per look (a feed far behind catches up a page per look, without waiting).
PAGE = 1000
#: Seconds without events after which the feed yields an empty batch (a heartbeat).
HEARTBEAT = 15.0


@frozen
class ExecutionEvent:
    """One thing that happened to an execution (see the module docstring)."""

    kind: EventKind
    at: float
    execution_id: str
    instance: str | None
    #: the execution's status the event leaves it in
    status: str
    path: str | None = None
    step_status: str | None = None
    #: the claim (``started``, ``waiting``): 1 for the first run, more after a resume
    attempt: int | None = None

    @property
    def detail(self) -> str:
        """What tells apart two events of one kind of one execution."""
        if self.kind == "step":
            return f"{self.path}\x00{self.step_status}"
        if self.attempt is not None:
            return str(self.attempt)
        return ""

    def key(self) -> Key:
        """Where the event sorts among all events."""
        return (self.at, self.execution_id, RANK[self.kind], self.detail)

    def as_dict(self) -> dict[str, Any]:
        """The event as a client reads it."""
        shown: dict[str, Any] = {
            "kind": self.kind,
            "execution_id": self.execution_id,
            "instance": self.instance,
            "status": self.status,
            "at": self.at,
        }
        if self.kind == "step":
            shown["step"] = {"path": self.path, "status": self.step_status}
        if self.attempt is not None:
            shown["attempt"] = self.attempt
        return shown


def encode_cursor(key: Key) -> str:
    """``key`` as an opaque string (``repr`` of the time keeps every bit of the float)."""
    at, execution_id, rank, detail = key
    text = json.dumps([repr(at), execution_id, rank, detail], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key | None:
    """The key ``encode_cursor`` made ``cursor`` from, or ``None`` for any other string."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, execution_id, rank, detail = json.loads(raw)
        key = (float(at), execution_id, rank, detail)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    if not (
        math.isfinite(key[0])
        and isinstance(execution_id, str)
        and isinstance(rank, int)
        and isinstance(detail, str)
    ):
        return None
    return key


def time_cursor(t: float) -> Key:
    """The cursor before every event after time ``t``."""
    return (t, "", -1, "")


def events_of(row: FeedRow, steps: tuple[StepMark, ...]) -> list[ExecutionEvent]:
    """Every event the execution ``row`` has had so far, as far as the store still shows them
    (``steps``: its checkpoints while unfinished; its result's steps once finished)."""

    def event(kind: EventKind, at: float, status: str, **more: Any) -> ExecutionEvent:
        return ExecutionEvent(kind, at, row.id, row.instance, status, **more)

    found = [event("recorded", row.created_at, "pending")]
    last = row.created_at
    if row.started_at is not None:
        found.append(event("started", row.started_at, "running", attempt=row.attempts))
        last = max(last, row.started_at)
    for step in row.steps if row.status in _FINAL else steps:
        found.append(event("step", step.at, "running", path=step.path, step_status=step.status))
        last = max(last, step.at)
    if row.status == "waiting":
        found.append(event("waiting", last, "waiting", attempt=row.attempts))
    elif row.status in _FINAL:
        found.append(event("finished", row.finished_at or last, row.status))
    return found


class EventFeed:
    """The events of one subscriber (of one ``instance``, or all), after ``after`` (a
    cursor; default: from now). ``batches`` yields them; memory is bounded by a page of
    executions and the unfinished ones the feed follows."""

    def __init__(
        self,
        store: Store,
        *,
        instance: str | None = None,
        after: Key | None = None,
        poll: float = POLL,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._instance = instance
        self._poll = poll
        self._heartbeat = heartbeat
        self._monotonic = monotonic
        self._start = after if after is not None else time_cursor(clock())
        #: the largest key emitted: a client's cursor
        self.mark: Key = self._start
        self._created_after: tuple[float, str] = (self._start[0] - LAG, "")
        self._created_high: tuple[float, str] = self._created_after
        self._first = True
        self._behind = False
        #: what has been shown (or lies before the start) of each unfinished execution
        self._seen: dict[str, set[tuple[str, str]]] = {}
        self._step_at: dict[str, dict[tuple[str, str], float]] = {}
        #: finished executions still inside the re-read window: their record time
        self._done: dict[str, float] = {}

    async def batches(self) -> AsyncIterator[list[tuple[ExecutionEvent, Key]]]:
        """Each look's new events in order, each with the cursor after it; an empty batch
        after ``heartbeat`` seconds without any. Runs until the consumer stops."""
        signal = self._store.feed_signal
        signal.subscribers += 1
        try:
            quiet_since = self._monotonic()
            while True:
                seen = signal.generation  # before reading: a write meanwhile is not slept past
                batch = await self.look()
                if batch or self._monotonic() - quiet_since >= self._heartbeat:
                    quiet_since = self._monotonic()
                    yield batch
                if not self._behind:
                    await signal.wait(self._poll, seen)
        finally:
            signal.subscribers -= 1

    async def look(self) -> list[tuple[ExecutionEvent, Key]]:
        """Read the store once; the events not shown yet, in order."""
        store, instance = self._store, self._instance
        rows: dict[str, FeedRow] = {}
        if self._first:
            self._first = False
            for row in await store.feed_open_at(self._created_after[0], instance):
                rows[row.id] = row
        created = await store.feed_created(self._created_after, instance, PAGE)
        rows.update((r.id, r) for r in created if r.id not in self._done)
        self._advance(created)
        followed = [i for i in self._seen if i not in rows]
        rows.update((r.id, r) for r in await store.feed_rows(followed))
        for gone in set(followed) - rows.keys():  # pruned meanwhile
            self._forget(gone)
        marks = await self._checkpoints([r for r in rows.values() if r.status not in _FINAL])
        fresh: list[ExecutionEvent] = []
        for row in rows.values():
            seen = self._seen.setdefault(row.id, set())
            # the steps are read after the row: a row read before its claim committed has
            # its steps told at the next look, after the start they follow
            steps = marks.get(row.id, ()) if row.started_at is not None else ()
            for event in events_of(row, steps):
                if (event.kind, event.detail) in seen:
                    continue
                seen.add((event.kind, event.detail))
                if event.key() > self._start:
                    fresh.append(event)
            if row.status in _FINAL:
                self._forget(row.id)
                self._done[row.id] = row.created_at
        fresh.sort(key=ExecutionEvent.key)
        emitted = []
        for event in fresh:
            self.mark = max(self.mark, event.key())
            emitted.append((event, self.mark))
        return emitted

    def _advance(self, created: list[FeedRow]) -> None:
        """Move the window of records read: a page at a time while behind, then back to the
        last ``LAG`` seconds (to see records committed late)."""
        if created:
            last = (created[-1].created_at, created[-1].id)
            self._behind = len(created) == PAGE and last > self._created_high
            self._created_high = max(self._created_high, last)
        else:
            self._behind = False
        if self._behind:
            self._created_after = self._created_high
        else:
            self._created_after = max(self._created_after, (self._created_high[0] - LAG, ""))
        floor = self._created_after[0]
        for execution_id in [i for i, at in self._done.items() if at < floor]:
            del self._done[execution_id]

    async def _checkpoints(self, rows: list[FeedRow]) -> dict[str, tuple[StepMark, ...]]:
        """The checkpointed steps of the unfinished ``rows``, with their times (each step's
        time read once: the checkpoint is decrypted for it)."""
        if not rows:
            return {}
        found = await self._store.feed_steps([r.id for r in rows])
        wanted = []
        for execution_id, path, status, _seq in found:
            known = self._step_at.setdefault(execution_id, {})
            if (path, status) not in known:
                wanted.append((execution_id, path))
        times = await self._store.feed_step_times(wanted) if wanted else {}
        marks: dict[str, list[StepMark]] = {}
        for execution_id, path, status, _seq in found:
            known = self._step_at[execution_id]
            if (path, status) not in known:
                at = times.get((execution_id, path))
                if at is None:  # finished (or rewritten) between the two reads: next look
                    continue
                known[path, status] = at
            marks.setdefault(execution_id, []).append(StepMark(path, status, known[path, status]))
        return {k: tuple(v) for k, v in marks.items()}

    def _forget(self, execution_id: str) -> None:
        self._seen.pop(execution_id, None)
        self._step_at.pop(execution_id, None)
