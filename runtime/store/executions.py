"""Deliveries and executions: recorded before a webhook is answered, claimed under a lease.

Life of an execution: ``pending`` (recorded) -> ``running`` (claimed by a worker, with a lease
it renews while it runs) -> ``completed`` | ``failed`` | ``canceled``. A worker that dies
stops renewing; once its lease has run out the execution counts as unfinished again and any
worker may claim it (at-least-once running; the claim itself is exclusive). While it runs it
checkpoints each step (``execution_steps``, under its lease), so a new claim goes on from the
step in flight. A long wait puts it aside as ``waiting`` (no lease) until ``wake_at``, when it
may be claimed again; a cancel ends a pending or waiting one at once, and asks a running one
to stop at its next checkpoint. A delivery to a paused instance is recorded ``held``: never
claimed until the instance's resume makes it ``pending`` (``runtime.store.lifecycle``).

The writes go through the store's ``Writes`` backend (``runtime.store.writes``); the reads
here are SQLAlchemy on both backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, func, select, update

from runtime.checkpoints import Checkpoint
from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.queries import ROWS, claimable
from runtime.store.records import ExecutionRow, Holder
from runtime.store.tables import execution_steps, executions
from runtime.store.values import dumps, new_id, now

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: The statuses of a finished execution.
FINAL = ("completed", "failed", "canceled")
#: The statuses of executions yet to finish.
UNFINISHED = ("pending", "held", "running", "waiting")


class ExecutionQueries(StoreBase):
    """The ``Store``'s delivery and execution methods."""

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
        """Durably record a webhook delivery and its pending execution, in one transaction.

        ``payload`` is the trigger payload the verified delivery was shaped into (the
        execution's payload); the raw delivery stays available as ``ExecutionRow.delivery``.
        Returns ``(execution_id, is_new)``; a delivery whose ``dedupe_key`` this instance has
        seen returns the first one's execution id and ``False``, and is counted on the first
        (``times_seen``, ``last_seen_at``). A key first seen ``dedupe_window`` seconds or more
        before ``received_at`` has expired: the delivery is new (and the key its). A ``None``
        key is no identity: the delivery is always new. Committed when it returns.
        With ``webhook_token``, the instance must still have that webhook token (a delivery
        to the URL of an instance since undeployed and deployed again under the same name
        belongs to neither): ``NotFound`` otherwise, as for an unknown instance.

        On a SQLite file the write joins a group commit (``runtime.store.groupcommit``):
        deliveries arriving together share one transaction and one fsync.
        """
        return await self.writes.record_delivery(
            instance,
            dedupe_key,
            headers,
            body,
            received_at,
            payload,
            webhook_token,
            dedupe_window,
        )

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
        """Record an execution (a poll result, a manual run, a replay); returns its id.

        ``reused_outputs`` (replays from a step): step outputs to take instead of running those
        steps; read back as ``ExecutionRow.reused_outputs``.
        """
        execution_id = new_id()
        await self.writes.insert_execution(
            execution_id,
            instance,
            flow_text,
            flow_version,
            payload,
            status,
            replay_of,
            reused_outputs,
        )
        return execution_id

    async def claim_execution(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """Take the execution for ``worker``: ``None`` if another holds a live lease on it or
        it has finished. Exactly one of several concurrent claimants wins."""
        return await self.writes.claim(execution_id, worker, lease_seconds)

    async def claim_with_state(
        self,
        execution_id: str,
        worker: str,
        lease_seconds: float,
        flow_name: str | None = None,
    ) -> tuple[ExecutionRow, dict[str, dict[str, Any]], str] | None:
        """``claim_execution`` and, in the same transaction, ``load_state`` for the
        execution's instance and ``flow_name`` (default: the instance's flow name). Returns
        ``(row, state, flow name used)``, or ``None`` when not claimed. The row is the
        execution's own (``delivery`` is ``None``: running an execution does not need it, and
        the claim reads it back in the same statement that takes it)."""
        return await self.writes.claim_with_state(execution_id, worker, lease_seconds, flow_name)

    async def renew_lease(
        self, execution_id: str, worker: str, lease_seconds: float, attempt: int | None = None
    ) -> bool:
        """Extend ``worker``'s lease (of claim ``attempt``, if given); ``False`` if it no
        longer holds the execution."""
        values = {"lease_until": now() + lease_seconds}
        return await self.writes.by_holder(execution_id, worker, attempt, values)

    async def release_execution(
        self, execution_id: str, worker: str | None = None, attempt: int | None = None
    ) -> bool:
        """Hand a running execution back (graceful shutdown): pending again, claimable at once.
        With ``worker`` (and ``attempt``), only if that claim still holds it; ``False`` if
        nothing changed."""
        values = {"status": "pending", "lease_until": None}
        return await self.writes.by_holder(execution_id, worker, attempt, values)

    async def finish_execution(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any],
        state: dict[str, Any],
        flow_name: str | None = None,
        holder: Holder | None = None,
    ) -> None:
        """Record the outcome and, in the same transaction, the persistent state scopes.

        With ``holder`` (the claim that ran it), the outcome is written only while that claim
        still holds the lease, checked in the UPDATE itself: a holder whose lease lapsed and
        was taken over gets ``LeaseLost`` and nothing (outcome or state) is written.

        ``result`` is ``ExecutionResult.as_dict()`` (already redacted); ``state`` is
        ``State.as_dict()``: ``execution`` stays with this row, ``flow``/``cross_flow``/
        ``integration`` go to the instance's and flow's scopes (``runtime.store.state``), under
        ``flow_name`` (default: the instance's flow name, else ``result["flow"]``).
        """
        if status not in FINAL:
            raise ValueError(f"status must be one of {FINAL}, not {status!r}")
        await self.writes.finish(execution_id, status, result, state, flow_name, holder)

    async def save_checkpoints(
        self, execution_id: str, holder: Holder, checkpoints: Sequence[Checkpoint]
    ) -> bool:
        """Commit ``checkpoints`` (encrypted: they hold step outputs and state) in one
        transaction while ``holder`` holds the lease; ``LeaseLost`` otherwise, and nothing is
        written. Returns whether a cancel has been asked for."""
        encrypt = self.keyring.encrypt_json
        rows = [(c.path, c.seq, c.status, c.claim, encrypt(c.as_dict())) for c in checkpoints]
        return await self.writes.save_checkpoints(execution_id, holder, rows)

    async def load_checkpoints(self, execution_id: str) -> list[Checkpoint]:
        """The execution's checkpoints (left by its claims so far), in the order reached."""
        c = execution_steps.c
        query = select(c.checkpoint).where(c.execution_id == execution_id).order_by(c.seq)
        async with self.engine.connect() as conn:
            blobs = [row.checkpoint for row in await conn.execute(query)]
        return [Checkpoint.from_dict(self.keyring.decrypt_json(bytes(b))) for b in blobs]

    async def suspend_execution(self, execution_id: str, holder: Holder, wake_at: float) -> None:
        """Put the running execution aside as ``waiting`` until ``wake_at`` (its checkpoints
        are committed), dropping its lease; ``LeaseLost`` if ``holder`` no longer holds it."""
        await self.writes.suspend(execution_id, holder, wake_at)

    async def wake_due(self, t: float, limit: int = 1000) -> list[tuple[str, str | None]]:
        """Make the waiting executions whose time has come at ``t`` pending again; returns
        their ``(id, instance)``, each woken by one caller only."""
        c = executions.c
        due = select(c.id).where(c.status == "waiting", c.wake_at <= t).limit(limit)
        async with writer(self.engine).begin() as conn:
            ids = [row.id for row in await conn.execute(due)]
            if not ids:
                return []
            woken = await conn.execute(
                update(executions)
                .where(c.id.in_(ids), c.status == "waiting")
                .values(status="pending")
                .returning(c.id, c.instance)
            )
            return [(row.id, row.instance) for row in woken]

    async def wake_execution(self, execution_id: str, t: float) -> bool:
        """Make the execution pending if it waits for a time that has come at ``t``; whether
        it did (only one caller does)."""
        c = executions.c
        async with writer(self.engine).begin() as conn:
            woken = await conn.execute(
                update(executions)
                .where(c.id == execution_id, c.status == "waiting", c.wake_at <= t)
                .values(status="pending")
            )
            return bool(woken.rowcount == 1)

    async def next_wake(self) -> float | None:
        """The earliest wake-up time among waiting executions, if any wait."""
        c = executions.c
        query = select(func.min(c.wake_at)).where(c.status == "waiting")
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return None if found is None else float(found)

    async def cancel_execution(
        self, execution_id: str, result: Callable[[ExecutionRow], dict[str, Any]]
    ) -> str:
        """Cancel the execution: a pending, waiting or held one is recorded ``canceled`` at once
        (``result`` makes its result from its row) and ``"canceled"`` returned; a running one is
        asked to stop at its next checkpoint (``"requested"``); a finished one is left alone
        (``"finished"``). ``LookupError`` for an unknown id."""
        c = executions.c
        async with writer(self.engine).begin() as conn:
            found = (await conn.execute(ROWS.where(c.id == execution_id))).one_or_none()
            if found is None:
                raise LookupError(f"there is no execution {execution_id!r}")
            row = ExecutionRow.from_row(found._mapping)
            if row.status in ("pending", "waiting", "held"):
                ended = await conn.execute(
                    update(executions)
                    .where(c.id == execution_id, c.status == row.status)
                    .values(
                        status="canceled",
                        result=dumps(result(row)),
                        finished_at=now(),
                        worker=None,
                        lease_until=None,
                    )
                )
                if ended.rowcount == 1:
                    steps = execution_steps.c
                    await conn.execute(
                        delete(execution_steps).where(steps.execution_id == execution_id)
                    )
                    return "canceled"
                row = ExecutionRow.from_row(
                    (await conn.execute(ROWS.where(c.id == execution_id))).one()._mapping
                )
            if row.status == "running":
                await conn.execute(
                    update(executions)
                    .where(c.id == execution_id, c.status == "running")
                    .values(cancel_requested=1)
                )
                return "requested"
            return "finished"

    async def unfinished_executions(self) -> list[ExecutionRow]:
        """Pending ones, and running ones whose lease ran out: what to resume after a crash."""
        return await self._rows(ROWS.where(claimable(now())).order_by(executions.c.created_at))

    async def stalled_executions(
        self, created_before: float, limit: int = 1000
    ) -> list[tuple[str, str | None]]:
        """``(id, instance)`` of unfinished executions (as ``unfinished_executions`` finds
        them) recorded before ``created_before``, oldest first: what a sweep re-enqueues.
        Reads two columns only, so sweeping often stays cheap."""
        c = executions.c
        query = (
            select(c.id, c.instance)
            .where(claimable(now()), c.created_at < created_before)
            .order_by(c.created_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(row.id, row.instance) for row in await conn.execute(query)]

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        """The execution ``execution_id`` with its delivery, or ``None``."""
        rows = await self._rows(ROWS.where(executions.c.id == execution_id))
        return rows[0] if rows else None

    async def executions_with_prefix(self, prefix: str, limit: int = 2) -> tuple[int, list[str]]:
        """How many execution ids start with ``prefix``, and up to ``limit`` of them. Ids are
        hex digits: any other prefix matches nothing (and needs no LIKE escaping)."""
        if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
            return 0, []
        c = executions.c
        matching = c.id.like(prefix + "%")
        async with self.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).where(matching))).scalar_one()
            ids = [r.id for r in await conn.execute(select(c.id).where(matching).limit(limit))]
        return int(count), ids

    async def list_executions(
        self, instance: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionRow]:
        """Newest first."""
        query = ROWS.order_by(executions.c.created_at.desc()).limit(limit)
        if instance is not None:
            query = query.where(executions.c.instance == instance)
        if status is not None:
            query = query.where(executions.c.status == status)
        return await self._rows(query)

    async def _rows(self, query: Select[Any]) -> list[ExecutionRow]:
        async with self.engine.connect() as conn:
            return [ExecutionRow.from_row(r._mapping) for r in await conn.execute(query)]
