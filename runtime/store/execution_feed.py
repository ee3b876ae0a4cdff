"""What the execution event feed (``runtime.events``) reads, and the signal that wakes it.

The feed is derived from the rows every writer already keeps (``executions`` and
``execution_steps``), so it sees the work of every process on the database, Dramatiq workers on
other machines included, without a table of its own. The reads below take only the columns an
event shows (ids, instance, statuses, times, step paths): never a payload or an output.

Writes made through this process's ``Store`` also notify ``feed_signal``, so a feed in the same
process looks again at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import and_, or_, select

from runtime.checkpoints import Checkpoint
from runtime.store.executions import FINAL, ExecutionQueries
from runtime.store.tables import execution_steps, executions

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from sqlalchemy import ColumnElement

    from runtime.store.records import ExecutionRow, Holder

#: Statuses of an execution not finished yet.
#: a held execution (its instance paused) is followed too: its resume starts it
UNFINISHED = ("pending", "held", "running", "waiting")
#: Ids per ``IN (...)`` list (far under either engine's parameter limit).
_BATCH = 500


@frozen
class StepMark:
    """One step of an execution as the feed shows it: where, how it ended, and when."""

    path: str
    status: str
    at: float


@frozen
class FeedRow:
    """An execution as the feed reads it. ``steps`` are those its result records (finished
    executions only: an unfinished one's steps are its checkpoints)."""

    id: str
    instance: str | None
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    steps: tuple[StepMark, ...] = ()


def step_end(record: dict[str, Any]) -> float:
    """When a step record says its step ended: its start plus its duration. A result and a
    checkpoint of the same step hold the same record, so both give the same time."""
    started = float(record.get("started_at") or 0.0)
    return started + float(record.get("duration_ms") or 0.0) / 1000


def _result_steps(text: str | None) -> tuple[StepMark, ...]:
    if not text:
        return ()
    steps = json.loads(text).get("steps") or []
    return tuple(
        StepMark(str(s.get("path")), str(s.get("status")), step_end(s))
        for s in steps
        if isinstance(s, dict)
    )


_COLUMNS = (
    executions.c.id,
    executions.c.instance,
    executions.c.status,
    executions.c.created_at,
    executions.c.started_at,
    executions.c.finished_at,
    executions.c.attempts,
    executions.c.result,
)


class FeedSignal:
    """Tells the feeds of this process that the store changed. Each waiter waits on its own
    event loop; ``notify`` may be called from any task."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        #: feeds reading this store now (what a test of a disconnect looks at)
        self.subscribers = 0
        #: how many notifications there have been: a feed notes it before it reads, so a
        #: write notified while it reads is not waited past
        self.generation = 0

    def notify(self) -> None:
        """Wake every waiter."""
        self.generation += 1
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    async def wait(self, timeout: float, seen: int | None = None) -> None:  # noqa: ASYNC109 - a poll interval, not a cancel
        """Until ``notify`` or ``timeout`` seconds, whichever comes first; at once when there
        has been a notification since ``generation`` was ``seen``."""
        if seen is not None and self.generation != seen:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ExecutionFeed(ExecutionQueries):
    """The ``Store``'s reads for the event feed; its execution writes notify ``feed_signal``."""

    @property
    def feed_signal(self) -> FeedSignal:
        """The signal this store's writes notify (made on first use)."""
        found: FeedSignal | None = self.__dict__.get("_feed_signal")
        if found is None:
            found = self.__dict__["_feed_signal"] = FeedSignal()
        return found

    # -- reads ---------------------------------------------------------------------------

    async def feed_created(
        self, after: tuple[float, str], instance: str | None, limit: int
    ) -> list[FeedRow]:
        """Up to ``limit`` executions recorded after the ``(created_at, id)`` key ``after``,
        oldest first (the ``created_at`` indexes serve it)."""
        c = executions.c
        at, last = after
        where = [or_(c.created_at > at, and_(c.created_at == at, c.id > last))]
        query = select(*_COLUMNS).where(*where, *self._of(instance))
        return await self._feed_rows(query.order_by(c.created_at, c.id).limit(limit))

    async def feed_open_at(self, t: float, instance: str | None) -> list[FeedRow]:
        """The executions recorded up to ``t`` that were not finished at ``t``: those not
        finished now (the status indexes serve it) and those finished since (a scan of the
        finish times, made once when a feed starts)."""
        c = executions.c
        query = select(*_COLUMNS).where(
            c.created_at <= t,
            or_(c.status.in_(UNFINISHED), c.finished_at > t),
            *self._of(instance),
        )
        return await self._feed_rows(query)

    async def feed_rows(self, ids: Collection[str]) -> list[FeedRow]:
        """The executions ``ids`` as they are now (those pruned meanwhile left out)."""
        found: list[FeedRow] = []
        listed = list(ids)
        for i in range(0, len(listed), _BATCH):
            query = select(*_COLUMNS).where(executions.c.id.in_(listed[i : i + _BATCH]))
            found.extend(await self._feed_rows(query))
        return found

    async def feed_steps(self, ids: Collection[str]) -> list[tuple[str, str, str, int]]:
        """``(execution id, path, status, seq)`` of the checkpoints of ``ids``, in the order
        reached (plain columns: nothing decrypted)."""
        s = execution_steps.c
        found: list[tuple[str, str, str, int]] = []
        listed = list(ids)
        for i in range(0, len(listed), _BATCH):
            query = (
                select(s.execution_id, s.path, s.status, s.seq)
                .where(s.execution_id.in_(listed[i : i + _BATCH]))
                .order_by(s.execution_id, s.seq)
            )
            async with self.engine.connect() as conn:
                found.extend((r[0], r[1], r[2], int(r[3])) for r in await conn.execute(query))
        return found

    async def feed_step_times(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], float]:
        """When each checkpointed step ``(execution id, path)`` ended, from its record (the
        checkpoint is decrypted for it, and only the time kept)."""
        s = execution_steps.c
        found: dict[tuple[str, str], float] = {}
        for i in range(0, len(keys), _BATCH):
            wanted = keys[i : i + _BATCH]
            query = select(s.execution_id, s.path, s.checkpoint).where(
                or_(*(and_(s.execution_id == e, s.path == p) for e, p in wanted))
            )
            async with self.engine.connect() as conn:
                for execution_id, path, blob in await conn.execute(query):
                    checkpoint = Checkpoint.from_dict(self.keyring.decrypt_json(bytes(blob)))
                    found[execution_id, path] = step_end(checkpoint.record)
        return found

    def _of(self, instance: str | None) -> list[ColumnElement[bool]]:
        return [] if instance is None else [executions.c.instance == instance]

    async def _feed_rows(self, query: Any) -> list[FeedRow]:
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [
            FeedRow(
                id=r.id,
                instance=r.instance,
                status=r.status,
                created_at=float(r.created_at),
                started_at=r.started_at,
                finished_at=r.finished_at,
                attempts=int(r.attempts),
                steps=_result_steps(r.result) if r.status in FINAL else (),
            )
            for r in rows
        ]

    # -- writes that change what the feed shows: each notifies ----------------------------

    async def record_delivery(
        self,
        instance: str,
        dedupe_key: str | None,
        headers: dict[str, str],
        body: bytes,
        received_at: float,
        payload: Any = None,
        webhook_token: str | None = None,
        dedupe_window: float | None = None,
    ) -> tuple[str, bool]:
        """``ExecutionQueries.record_delivery``, then notify."""
        try:
            return await super().record_delivery(
                instance,
                dedupe_key,
                headers,
                body,
                received_at,
                payload,
                webhook_token,
                dedupe_window=dedupe_window,
            )
        finally:
            self.feed_signal.notify()

    async def create_execution(
        self,
        instance: str | None,
        flow_text: str,
        flow_version: int,
        payload: Any,
        status: str = "pending",
        replay_of: str | None = None,
        reused_outputs: dict[str, Any] | None = None,
    ) -> str:
        """``ExecutionQueries.create_execution``, then notify."""
        try:
            return await super().create_execution(
                instance, flow_text, flow_version, payload, status, replay_of, reused_outputs
            )
        finally:
            self.feed_signal.notify()

    async def claim_with_state(
        self,
        execution_id: str,
        worker: str,
        lease_seconds: float,
        flow_name: str | None = None,
    ) -> tuple[ExecutionRow, dict[str, dict[str, Any]], str] | None:
        """``ExecutionQueries.claim_with_state``, then notify."""
        try:
            return await super().claim_with_state(execution_id, worker, lease_seconds, flow_name)
        finally:
            self.feed_signal.notify()

    async def claim_execution(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """``ExecutionQueries.claim_execution``, then notify."""
        try:
            return await super().claim_execution(execution_id, worker, lease_seconds)
        finally:
            self.feed_signal.notify()

    async def finish_execution(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any],
        state: dict[str, Any],
        flow_name: str | None = None,
        holder: Holder | None = None,
    ) -> None:
        """``ExecutionQueries.finish_execution``, then notify."""
        try:
            await super().finish_execution(execution_id, status, result, state, flow_name, holder)
        finally:
            self.feed_signal.notify()

    async def save_checkpoints(
        self, execution_id: str, holder: Holder, checkpoints: Sequence[Checkpoint]
    ) -> bool:
        """``ExecutionQueries.save_checkpoints``, then notify."""
        try:
            return await super().save_checkpoints(execution_id, holder, checkpoints)
        finally:
            self.feed_signal.notify()

    async def suspend_execution(self, execution_id: str, holder: Holder, wake_at: float) -> None:
        """``ExecutionQueries.suspend_execution``, then notify."""
        try:
            await super().suspend_execution(execution_id, holder, wake_at)
        finally:
            self.feed_signal.notify()

    async def cancel_execution(
        self, execution_id: str, result: Callable[[ExecutionRow], dict[str, Any]]
    ) -> str:
        """``ExecutionQueries.cancel_execution``, then notify."""
        try:
            return await super().cancel_execution(execution_id, result)
        finally:
            self.feed_signal.notify()
