"""Deliveries and executions: recorded before a webhook is answered, claimed under a lease.

Life of an execution: ``pending`` (recorded) -> ``running`` (claimed by a worker, with a lease
it renews while it runs) -> ``completed`` | ``failed`` | ``canceled``. A worker that dies
stops renewing; once its lease has run out the execution counts as unfinished again and any
worker may claim it (at-least-once running; the claim itself is exclusive).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runtime.errors import ConfigurationError
from runtime.store import sqliteops
from runtime.store.base import StoreBase
from runtime.store.db import dumps, insert_new, loads, new_id, now, writer
from runtime.store.records import ExecutionRow, Holder, LeaseLost
from runtime.store.state import SCOPES, _keys, write_state
from runtime.store.tables import deliveries, executions, instances
from runtime.store.tables import state as state_table

FINAL = ("completed", "failed", "canceled")

_d = deliveries.c
#: executions with their delivery, if any (``d_*`` columns; see ``ExecutionRow.from_row``)
_ROWS: Select[Any] = select(
    executions,
    *(c.label(f"d_{c.name}") for c in deliveries.columns if c.name != "execution_id"),
).select_from(executions.outerjoin(deliveries, _d.execution_id == executions.c.id))


def _claimable(t: float) -> Any:
    """Pending, or running under a lease that has run out (its worker is presumed dead)."""
    c = executions.c
    return or_(c.status == "pending", and_(c.status == "running", c.lease_until < t))


class ExecutionQueries(StoreBase):
    async def record_delivery(
        self,
        instance: str,
        dedupe_key: str,
        headers: dict[str, str],
        body: bytes,
        received_at: float,
        payload: Any = None,
        webhook_token: str | None = None,
    ) -> tuple[str, bool]:
        """Durably record a webhook delivery and its pending execution, in one transaction.

        ``payload`` is the trigger payload the verified delivery was shaped into (the
        execution's payload); the raw delivery stays available as ``ExecutionRow.delivery``.
        Returns ``(execution_id, is_new)``; a delivery whose ``dedupe_key`` this instance has
        seen returns the first one's execution id and ``False``. Committed when it returns.
        With ``webhook_token``, the instance must still have that webhook token (a delivery
        to the URL of an instance since undeployed and deployed again under the same name
        belongs to neither): ``ConfigurationError`` otherwise, as for an unknown instance.

        On SQLite the write joins a group commit (``runtime.store.groupcommit``): deliveries
        arriving together share one transaction and one fsync.
        """
        if self.group is not None:
            headers_text, payload_text = dumps(dict(headers)), dumps(payload)
            body_bytes = bytes(body)
            while True:
                try:
                    return await self.group.run(
                        partial(
                            sqliteops.record_delivery,
                            delivery_id=new_id(),
                            execution_id=new_id(),
                            instance=instance,
                            dedupe_key=dedupe_key,
                            headers=headers_text,
                            body=body_bytes,
                            received_at=received_at,
                            payload=payload_text,
                            webhook_token=webhook_token,
                        )
                    )
                except sqliteops.Retry:
                    continue
        while True:
            execution_id = new_id()
            async with writer(self.engine).begin() as conn:
                inserted = await conn.execute(
                    insert_new(
                        conn,
                        deliveries,
                        {
                            "id": new_id(),
                            "instance": instance,
                            "dedupe_key": dedupe_key,
                            "headers": dumps(dict(headers)),
                            "body": bytes(body),
                            "received_at": received_at,
                            "execution_id": execution_id,
                        },
                    )
                )
                if inserted.first() is not None:
                    flow_text, version = await _instance_flow(conn, instance, webhook_token)
                    await _insert_execution(
                        conn, execution_id, instance, flow_text, version, payload
                    )
                    return execution_id, True
                existing = await conn.scalar(
                    select(_d.execution_id).where(
                        _d.instance == instance, _d.dedupe_key == dedupe_key
                    )
                )
            # ``None``: the conflicting delivery was rolled back meanwhile; insert ours after all
            if existing is not None:
                return str(existing), False

    async def create_execution(
        self,
        instance: str | None,
        flow_text: str,
        flow_version: int,
        payload: Any,
        status: str = "pending",
        replay_of: str | None = None,
        reuse_outputs: dict[str, Any] | None = None,
    ) -> str:
        """Record an execution (a poll result, a manual run, a replay); returns its id.

        ``reuse_outputs`` (replays from a step): step outputs to take instead of running those
        steps; read back as ``ExecutionRow.replay_outputs``.
        """
        execution_id = new_id()
        if self.group is not None:
            await self.group.run(
                partial(
                    sqliteops.insert_execution,
                    execution_id=execution_id,
                    instance=instance,
                    flow_text=flow_text,
                    flow_version=flow_version,
                    payload=dumps(payload),
                    status=status,
                    replay_of=replay_of,
                    reuse_outputs=None if reuse_outputs is None else dumps(reuse_outputs),
                )
            )
            return execution_id
        async with writer(self.engine).begin() as conn:
            await _insert_execution(
                conn,
                execution_id,
                instance,
                flow_text,
                flow_version,
                payload,
                status,
                replay_of,
                reuse_outputs,
            )
        return execution_id

    async def claim_execution(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """Take the execution for ``worker``: ``None`` if another holds a live lease on it or
        it has finished. Exactly one of several concurrent claimants wins."""
        if self.group is not None:
            found = await self.group.run(
                partial(
                    sqliteops.claim,
                    execution_id=execution_id,
                    worker=worker,
                    lease_seconds=lease_seconds,
                )
            )
            return None if found is None else ExecutionRow.from_row(found)
        async with writer(self.engine).begin() as conn:
            row = await _claim(conn, execution_id, worker, lease_seconds)
            if row is None:
                return None
        return ExecutionRow.from_row(row._mapping)

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
        if self.group is not None:
            found = await self.group.run(
                partial(
                    sqliteops.claim_with_state,
                    execution_id=execution_id,
                    worker=worker,
                    lease_seconds=lease_seconds,
                    flow_name=flow_name,
                )
            )
            if found is None:
                return None
            mapping, documents, used = found
            loaded: dict[str, dict[str, Any]] = {scope: {} for scope in SCOPES}
            loaded.update({scope: loads(text) for scope, text in documents.items()})
            return ExecutionRow.from_row(mapping), loaded, used
        async with writer(self.engine).begin() as conn:
            row = await _claim(conn, execution_id, worker, lease_seconds, with_delivery=False)
            if row is None:
                return None
            instance = row._mapping["instance"]
            if flow_name is None:
                flow_name = (
                    await conn.scalar(
                        select(instances.c.flow_name).where(instances.c.name == instance)
                    )
                    if instance
                    else None
                ) or ""
            keys = _keys(instance, flow_name)
            state: dict[str, dict[str, Any]] = {scope: {} for scope in SCOPES}
            rows = await conn.execute(
                select(state_table.c.scope, state_table.c.key, state_table.c.data).where(
                    state_table.c.key.in_(set(keys.values()))
                )
            )
            for scope, key, data in rows:
                if keys.get(scope) == key:
                    state[scope] = loads(data)
        return ExecutionRow.from_row(row._mapping), state, flow_name

    async def renew_lease(
        self, execution_id: str, worker: str, lease_seconds: float, attempt: int | None = None
    ) -> bool:
        """Extend ``worker``'s lease (of claim ``attempt``, if given); ``False`` if it no
        longer holds the execution."""
        return await self._by_holder(
            execution_id, worker, attempt, lease_until=now() + lease_seconds
        )

    async def release_execution(
        self, execution_id: str, worker: str | None = None, attempt: int | None = None
    ) -> bool:
        """Hand a running execution back (graceful shutdown): pending again, claimable at once.
        With ``worker`` (and ``attempt``), only if that claim still holds it; ``False`` if
        nothing changed."""
        return await self._by_holder(
            execution_id, worker, attempt, status="pending", lease_until=None
        )

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
        if self.group is not None:
            scopes = {k: dumps(state[k] or {}) for k in SCOPES if k in state}
            await self.group.run(
                partial(
                    sqliteops.finish,
                    execution_id=execution_id,
                    status=status,
                    result=dumps(result),
                    execution_state=dumps(state.get("execution") or {}),
                    scopes=scopes,
                    flow_name=flow_name,
                    result_flow=str(result.get("flow", "")),
                    holder=holder,
                )
            )
            return
        c = executions.c
        where = [c.id == execution_id]
        if holder is not None:
            where += [
                c.status == "running",
                c.worker == holder.worker,
                c.attempts == holder.attempt,
            ]
        async with writer(self.engine).begin() as conn:
            done = await conn.execute(
                update(executions)
                .where(*where)
                .values(
                    status=status,
                    result=dumps(result),
                    state=dumps(state.get("execution") or {}),
                    finished_at=now(),
                    worker=None,
                    lease_until=None,
                )
                .returning(executions.c.instance)
            )
            found = done.one_or_none()
            if found is None:
                if holder is not None:
                    raise LeaseLost(execution_id, holder)
                raise LookupError(f"there is no execution {execution_id!r}")
            instance = found[0]
            if flow_name is None:
                flow_name = await conn.scalar(
                    select(instances.c.flow_name).where(instances.c.name == instance)
                )
                flow_name = flow_name or str(result.get("flow", ""))
            await write_state(conn, instance, flow_name, state)

    async def unfinished_executions(self) -> list[ExecutionRow]:
        """Pending ones, and running ones whose lease ran out: what to resume after a crash."""
        return await self._rows(_ROWS.where(_claimable(now())).order_by(executions.c.created_at))

    async def stalled_executions(
        self, created_before: float, limit: int = 1000
    ) -> list[tuple[str, str | None]]:
        """``(id, instance)`` of unfinished executions (as ``unfinished_executions`` finds
        them) recorded before ``created_before``, oldest first: what a sweep re-enqueues.
        Reads two columns only, so sweeping often stays cheap."""
        c = executions.c
        query = (
            select(c.id, c.instance)
            .where(_claimable(now()), c.created_at < created_before)
            .order_by(c.created_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(row.id, row.instance) for row in await conn.execute(query)]

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        rows = await self._rows(_ROWS.where(executions.c.id == execution_id))
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
        query = _ROWS.order_by(executions.c.created_at.desc()).limit(limit)
        if instance is not None:
            query = query.where(executions.c.instance == instance)
        if status is not None:
            query = query.where(executions.c.status == status)
        return await self._rows(query)

    async def _rows(self, query: Select[Any]) -> list[ExecutionRow]:
        async with self.engine.connect() as conn:
            return [ExecutionRow.from_row(r._mapping) for r in await conn.execute(query)]

    async def _by_holder(
        self, execution_id: str, worker: str | None, attempt: int | None, **values: Any
    ) -> bool:
        if self.group is not None:
            return bool(
                await self.group.run(
                    partial(
                        sqliteops.by_holder,
                        execution_id=execution_id,
                        worker=worker,
                        values=values,
                        attempt=attempt,
                    )
                )
            )
        c = executions.c
        where = [c.id == execution_id, c.status == "running"]
        if worker is not None:
            where.append(c.worker == worker)
        if attempt is not None:
            where.append(c.attempts == attempt)
        async with writer(self.engine).begin() as conn:
            result = await conn.execute(update(executions).where(*where).values(values))
            return bool(result.rowcount == 1)


async def _instance_flow(
    conn: AsyncConnection, instance: str, webhook_token: str | None = None
) -> tuple[str, int]:
    query = select(instances.c.flow_text, instances.c.flow_version).where(
        instances.c.name == instance
    )
    if webhook_token is not None:
        query = query.where(instances.c.webhook_token == webhook_token)
    row = (await conn.execute(query)).first()
    if row is None:
        raise ConfigurationError(f"there is no instance named {instance!r}")
    return row.flow_text, row.flow_version


async def _insert_execution(
    conn: AsyncConnection,
    execution_id: str,
    instance: str | None,
    flow_text: str,
    flow_version: int,
    payload: Any,
    status: str = "pending",
    replay_of: str | None = None,
    reuse_outputs: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        executions.insert().values(
            id=execution_id,
            instance=instance,
            status=status,
            flow_text=flow_text,
            flow_version=flow_version,
            payload=dumps(payload),
            created_at=now(),
            attempts=0,
            replay_of=replay_of,
            reuse_outputs=None if reuse_outputs is None else dumps(reuse_outputs),
        )
    )


async def _claim(
    conn: AsyncConnection,
    execution_id: str,
    worker: str,
    lease_seconds: float,
    with_delivery: bool = True,
) -> Any:
    """Claim in ``conn``'s transaction: the claimed row (with its delivery's ``d_*`` columns
    if ``with_delivery``), or ``None`` when someone else holds it or it is finished (the
    SQLAlchemy path; SQLite's group commit has its own)."""
    t = now()
    claim = (
        update(executions)
        .where(executions.c.id == execution_id, _claimable(t))
        .values(
            status="running",
            worker=worker,
            lease_until=t + lease_seconds,
            started_at=t,
            attempts=executions.c.attempts + 1,
        )
    )
    if not with_delivery:
        return (await conn.execute(claim.returning(*executions.columns))).one_or_none()
    claimed = await conn.execute(claim)
    if claimed.rowcount != 1:
        return None
    return (await conn.execute(_ROWS.where(executions.c.id == execution_id))).one()
