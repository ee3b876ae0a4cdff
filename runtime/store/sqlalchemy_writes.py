"""The hot path's writes as SQLAlchemy Core transactions: the ``Writes`` of PostgreSQL (and of
SQLite databases group commit cannot open). Each call is one transaction of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, select, update

from runtime.errors import NotFound
from runtime.store.db import insert_new, upsert_many, writer
from runtime.store.queries import ROWS, claimable, state_documents, state_keys, stored_scopes
from runtime.store.records import ExecutionRow, Holder, LeaseLost
from runtime.store.state import write_state
from runtime.store.tables import deliveries, execution_steps, executions, instances
from runtime.store.tables import state as state_table
from runtime.store.values import dumps, new_id, now

c_steps = execution_steps.c

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SqlAlchemyWrites:
    """``runtime.store.writes.Writes`` on an async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record_delivery(
        self,
        instance: str,
        dedupe_key: str | None,
        headers: dict[str, str],
        body: bytes,
        received_at: float,
        payload: Any,
        webhook_token: str | None,
        dedupe_window: float | None = None,
    ) -> tuple[str, bool]:
        """See ``Writes.record_delivery``."""
        d = deliveries.c
        while True:
            execution_id = new_id()
            async with writer(self.engine).begin() as conn:
                values = {
                    "id": new_id(),
                    "instance": instance,
                    "dedupe_key": dedupe_key,
                    "headers": dumps(dict(headers)),
                    "body": bytes(body),
                    "received_at": received_at,
                    "execution_id": execution_id,
                }
                inserted = (await conn.execute(insert_new(conn, deliveries, values))).first()
                existing = None
                if inserted is None and dedupe_key is not None:
                    existing = (
                        await conn.execute(
                            select(d.id, d.execution_id, d.received_at).where(
                                d.instance == instance, d.dedupe_key == dedupe_key
                            )
                        )
                    ).first()
                    if existing is None:
                        continue  # rolled back meanwhile (or an id collided): insert again
                    expired = dedupe_window is not None and (
                        received_at >= existing[2] + dedupe_window
                    )
                    if not expired:
                        last = func.coalesce(d.last_seen_at, d.received_at)
                        await conn.execute(
                            update(deliveries)
                            .where(d.id == existing[0])
                            .values(
                                times_seen=d.times_seen + 1,
                                last_seen_at=case((last > received_at, last), else_=received_at),
                            )
                        )
                        return str(existing[1]), False
                    # the key outlived the window: it is this delivery's now
                    await conn.execute(
                        update(deliveries).where(d.id == existing[0]).values(dedupe_key=None)
                    )
                    values["id"] = new_id()
                    inserted = (await conn.execute(insert_new(conn, deliveries, values))).first()
                if inserted is not None:
                    flow_text, version, status = await _instance_flow(conn, instance, webhook_token)
                    await _insert_execution(
                        conn, execution_id, instance, flow_text, version, dumps(payload), status
                    )
                    return execution_id, True
            # nothing inserted after a release: another delivery took the key meanwhile (it is
            # the original now) or an id collided; try again

    async def insert_execution(
        self,
        execution_id: str,
        instance: str | None,
        flow_text: str,
        flow_version: int,
        payload: Any,
        status: str,
        replay_of: str | None,
        reused_outputs: dict[str, Any] | None,
    ) -> None:
        """See ``Writes.insert_execution``."""
        async with writer(self.engine).begin() as conn:
            await _insert_execution(
                conn,
                execution_id,
                instance,
                flow_text,
                flow_version,
                dumps(payload),
                status,
                replay_of,
                None if reused_outputs is None else dumps(reused_outputs),
            )

    async def claim(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """See ``Writes.claim``."""
        async with writer(self.engine).begin() as conn:
            claimed = await conn.execute(_claim(execution_id, worker, lease_seconds))
            if claimed.rowcount != 1:
                return None
            row = (await conn.execute(ROWS.where(executions.c.id == execution_id))).one()
        return ExecutionRow.from_row(row._mapping)

    async def claim_with_state(
        self, execution_id: str, worker: str, lease_seconds: float, flow_name: str | None
    ) -> tuple[ExecutionRow, dict[str, dict[str, Any]], str] | None:
        """See ``Writes.claim_with_state``."""
        claim = _claim(execution_id, worker, lease_seconds).returning(*executions.columns)
        async with writer(self.engine).begin() as conn:
            row = (await conn.execute(claim)).one_or_none()
            if row is None:
                return None
            instance = row._mapping["instance"]
            if flow_name is None:
                flow_name = (await _flow_name(conn, instance) if instance else None) or ""
            keys = state_keys(instance, flow_name)
            c = state_table.c
            rows = await conn.execute(
                select(c.scope, c.key, c.data).where(c.key.in_(set(keys.values())))
            )
            documents = stored_scopes(rows, keys)
        return ExecutionRow.from_row(row._mapping), state_documents(documents), flow_name

    async def finish(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any],
        state: dict[str, Any],
        flow_name: str | None,
        holder: Holder | None,
    ) -> None:
        """See ``Writes.finish``."""
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
                .returning(c.instance)
            )
            found = done.one_or_none()
            if found is None:
                if holder is not None:
                    raise LeaseLost(execution_id, holder)
                raise LookupError(f"there is no execution {execution_id!r}")
            instance = found[0]
            # the result records every step now
            await conn.execute(delete(execution_steps).where(c_steps.execution_id == execution_id))
            if flow_name is None:
                flow_name = await _flow_name(conn, instance) or str(result.get("flow", ""))
            await write_state(conn, instance, flow_name, state)

    async def save_checkpoints(
        self, execution_id: str, holder: Holder, rows: Sequence[tuple[str, int, str, int, bytes]]
    ) -> bool:
        """See ``Writes.save_checkpoints``."""
        async with writer(self.engine).begin() as conn:
            # the fence takes the execution's row lock: a claim taking it over waits for this
            # transaction, or this one finds the lease gone
            fenced = (
                await conn.execute(
                    update(executions)
                    .where(*_held(execution_id, holder))
                    .values(lease_until=executions.c.lease_until)
                    .returning(executions.c.cancel_requested)
                )
            ).one_or_none()
            if fenced is None:
                raise LeaseLost(execution_id, holder)
            t = now()
            values = [
                {
                    "execution_id": execution_id,
                    "path": path,
                    "seq": seq,
                    "status": status,
                    "claim": claim,
                    "checkpoint": blob,
                    "created_at": t,
                }
                for path, seq, status, claim, blob in rows
            ]
            await conn.execute(upsert_many(conn, execution_steps, values, ["execution_id", "path"]))
        return bool(fenced[0])

    async def suspend(self, execution_id: str, holder: Holder, wake_at: float) -> None:
        """See ``Writes.suspend``."""
        async with writer(self.engine).begin() as conn:
            done = await conn.execute(
                update(executions)
                .where(*_held(execution_id, holder))
                .values(status="waiting", wake_at=wake_at, worker=None, lease_until=None)
            )
            if done.rowcount != 1:
                raise LeaseLost(execution_id, holder)

    async def by_holder(
        self, execution_id: str, worker: str | None, attempt: int | None, values: dict[str, Any]
    ) -> bool:
        """See ``Writes.by_holder``."""
        c = executions.c
        where = [c.id == execution_id, c.status == "running"]
        if worker is not None:
            where.append(c.worker == worker)
        if attempt is not None:
            where.append(c.attempts == attempt)
        async with writer(self.engine).begin() as conn:
            result = await conn.execute(update(executions).where(*where).values(values))
            return bool(result.rowcount == 1)

    async def close(self) -> None:
        """Nothing to release: the ``Store`` disposes of the engine."""


async def _flow_name(conn: AsyncConnection, instance: str | None) -> str | None:
    found = await conn.scalar(select(instances.c.flow_name).where(instances.c.name == instance))
    return None if found is None else str(found)


async def _instance_flow(
    conn: AsyncConnection, instance: str, webhook_token: str | None
) -> tuple[str, int, str]:
    """The instance's flow text and version, and the status a delivery's execution starts in
    (``held`` while the instance is paused)."""
    c = instances.c
    # a share lock on PostgreSQL (SQLite serializes writers anyway): a resume, which updates
    # this row before it releases the held executions, waits for this delivery to commit, so
    # a delivery that saw the instance paused is always among those released
    query = (
        select(c.flow_text, c.flow_version, c.status)
        .where(c.name == instance)
        .with_for_update(read=True)
    )
    if webhook_token is not None:
        query = query.where(c.webhook_token == webhook_token)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("instance", instance)
    return row.flow_text, row.flow_version, "held" if row.status == "paused" else "pending"


async def _insert_execution(
    conn: AsyncConnection,
    execution_id: str,
    instance: str | None,
    flow_text: str,
    flow_version: int,
    payload: str,
    status: str = "pending",
    replay_of: str | None = None,
    reused_outputs: str | None = None,
) -> None:
    await conn.execute(
        executions.insert().values(
            id=execution_id,
            instance=instance,
            status=status,
            flow_text=flow_text,
            flow_version=flow_version,
            payload=payload,
            created_at=now(),
            attempts=0,
            replay_of=replay_of,
            reused_outputs=reused_outputs,
        )
    )


def _held(execution_id: str, holder: Holder) -> list[Any]:
    """The execution, while ``holder``'s claim holds it."""
    c = executions.c
    return [
        c.id == execution_id,
        c.status == "running",
        c.worker == holder.worker,
        c.attempts == holder.attempt,
    ]


def _claim(execution_id: str, worker: str, lease_seconds: float) -> Any:
    """The claiming ``UPDATE``, made now: it matches no row when someone else holds the
    execution or it has finished."""
    t = now()
    return (
        update(executions)
        .where(executions.c.id == execution_id, claimable(t))
        .values(
            status="running",
            worker=worker,
            lease_until=t + lease_seconds,
            started_at=t,
            attempts=executions.c.attempts + 1,
        )
    )
