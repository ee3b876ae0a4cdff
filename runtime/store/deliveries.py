"""Deliveries as an operator reads them: what each instance accepted (with how often it came
again) and what it rejected (counted by reason and minute, never a body), newest first.

Accepted deliveries are the ``deliveries`` rows (a duplicate is counted on its original:
``times_seen``, ``last_seen_at``); rejected ones are ``delivery_rejections`` rows, one per
instance, minute and reason, each instance keeping at most ``REJECTIONS_KEPT`` of them (the
oldest go when more are written). A listing is one order over both: ``(at, tiebreak)``
descending, where ``at`` is a delivery's ``received_at`` or a rejection row's minute, and the
tiebreak ``a:ID`` or ``r:REASON``; a page continues strictly after the last key of the one
before (a keyset: rows recorded while paging never shift a page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.tables import deliveries, delivery_rejections, executions, instances

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from sqlalchemy import ColumnElement

#: Rejection rows (minute x reason) each instance keeps at most.
REJECTIONS_KEPT = 1000
#: Rows released or deleted per pruning transaction.
PRUNE_BATCH = 500

#: What a listing may be narrowed to.
Outcome = Literal["accepted", "duplicate", "rejected", "ignored"]


@frozen
class DeliveryEntry:
    """One line of an instance's deliveries: an accepted delivery (with its duplicates
    counted), or the rejections of one reason in one minute."""

    #: ignored: accepted and not run (an event the flow does not select), counted as
    #: rejections are
    outcome: Literal["accepted", "rejected", "ignored"]
    #: accepted: when it first arrived; rejected: the first rejection of the row
    received_at: float
    #: the keyset position: ``(received_at or minute, "a:ID" or "r:REASON")``
    key: tuple[float, str]
    #: accepted: how many times it arrived (1: no duplicate); rejected: how many were rejected
    times_seen: int
    last_seen_at: float | None
    id: str | None = None
    execution_id: str | None = None
    execution_status: str | None = None
    #: the identity duplicates are recognised by (``None``: none, or released by the window)
    dedupe_key: str | None = None
    #: rejected: why, and the HTTP status it was answered with
    reason: str | None = None
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as the API, the dashboard and ``relay deliveries --json`` show it (its
        keyset position left out)."""
        return {
            "outcome": self.outcome,
            "received_at": self.received_at,
            "times_seen": self.times_seen,
            "last_seen_at": self.last_seen_at,
            "id": self.id,
            "execution_id": self.execution_id,
            "execution_status": self.execution_status,
            "dedupe_key": self.dedupe_key,
            "reason": self.reason,
            "status": self.status,
        }


@frozen
class RejectionCount:
    """Rejections of ``instance`` for ``reason`` (answered ``status``) in the minute starting
    at ``minute``: ``count`` of them, the first and last at these times."""

    instance: str
    minute: float
    reason: str
    status: int
    count: int
    first_at: float
    last_at: float


class DeliveryQueries(StoreBase):
    """The ``Store``'s delivery listing, rejection counts and their pruning."""

    async def page_deliveries(
        self,
        instance: str,
        outcome: Outcome | None,
        limit: int,
        after: tuple[float, str] | None = None,
    ) -> list[DeliveryEntry]:
        """Up to ``limit`` deliveries of ``instance``, newest first, continuing after the key
        ``after`` (the last entry's ``key`` on the page before). ``duplicate``: the accepted
        deliveries that arrived more than once."""
        found: list[DeliveryEntry] = []
        async with self.engine.connect() as conn:
            if outcome in (None, "accepted", "duplicate"):
                found += await self._accepted(conn, instance, outcome == "duplicate", limit, after)
            if outcome in (None, "rejected", "ignored"):
                found += await self._rejected(conn, instance, outcome, limit, after)
        found.sort(key=lambda e: e.key, reverse=True)
        return found[:limit]

    async def _accepted(
        self,
        conn: Any,
        instance: str,
        duplicates_only: bool,
        limit: int,
        after: tuple[float, str] | None,
    ) -> list[DeliveryEntry]:
        d, e = deliveries.c, executions.c
        where: list[ColumnElement[bool]] = [d.instance == instance]
        if duplicates_only:
            where.append(d.times_seen > 1)
        if after is not None:
            at, tiebreak = after
            if tiebreak.startswith("a:"):
                where.append(
                    or_(d.received_at < at, and_(d.received_at == at, d.id < tiebreak[2:]))
                )
            else:  # "a:..." sorts before "r:...": a delivery at the same time comes after it
                where.append(d.received_at <= at)
        query = (
            select(
                d.id,
                d.received_at,
                d.times_seen,
                d.last_seen_at,
                d.execution_id,
                d.dedupe_key,
                e.status,
            )
            .select_from(deliveries.outerjoin(executions, e.id == d.execution_id))
            .where(*where)
            .order_by(d.received_at.desc(), d.id.desc())
            .limit(limit)
        )
        return [
            DeliveryEntry(
                outcome="accepted",
                received_at=float(r.received_at),
                key=(float(r.received_at), "a:" + r.id),
                times_seen=int(r.times_seen),
                last_seen_at=r.last_seen_at,
                id=r.id,
                execution_id=r.execution_id,
                execution_status=r.status,
                dedupe_key=r.dedupe_key,
            )
            for r in await conn.execute(query)
        ]

    async def _rejected(
        self,
        conn: Any,
        instance: str,
        outcome: Outcome | None,
        limit: int,
        after: tuple[float, str] | None,
    ) -> list[DeliveryEntry]:
        r = delivery_rejections.c
        where: list[ColumnElement[bool]] = [r.instance == instance]
        if outcome == "rejected":
            where.append(r.status >= 400)
        elif outcome == "ignored":
            where.append(r.status < 400)
        if after is not None:
            at, tiebreak = after
            if tiebreak.startswith("r:"):
                where.append(or_(r.minute < at, and_(r.minute == at, r.reason < tiebreak[2:])))
            else:  # "r:..." sorts after "a:...": a row of the same minute came before it
                where.append(r.minute < at)
        query = (
            select(delivery_rejections)
            .where(*where)
            .order_by(r.minute.desc(), r.reason.desc())
            .limit(limit)
        )
        return [
            DeliveryEntry(
                outcome="rejected" if row.status >= 400 else "ignored",
                received_at=float(row.first_at),
                key=(float(row.minute), "r:" + row.reason),
                times_seen=int(row.count),
                last_seen_at=float(row.last_at),
                reason=row.reason,
                status=int(row.status),
            )
            for row in await conn.execute(query)
        ]

    async def record_rejections(
        self, counts: Iterable[RejectionCount], *, keep: int = REJECTIONS_KEPT
    ) -> None:
        """Add ``counts`` to the rejection rows (one transaction), then drop each instance's
        rows beyond its ``keep`` newest. Counts for an instance no longer deployed are not
        kept."""
        rows = list(counts)
        if not rows:
            return
        async with writer(self.engine).begin() as conn:
            names = {row.instance for row in rows}
            found = await conn.execute(select(instances.c.name).where(instances.c.name.in_(names)))
            known = {name for (name,) in found}
            for row in rows:
                if row.instance in known:
                    await conn.execute(_add(conn.dialect.name, row))
            for name in sorted(known):
                await _keep_newest(conn, name, keep)

    async def prune_deliveries(
        self,
        now: float,
        window: float,
        *,
        batch: int = PRUNE_BATCH,
        between: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Release the dedupe keys first seen ``window`` seconds or more before ``now`` and
        delete rejection rows older than that, ``batch`` rows a transaction; how many."""
        d, r = deliveries.c, delivery_rejections.c
        cutoff = now - window
        total = 0
        while True:
            async with writer(self.engine).begin() as conn:
                ids = [
                    row[0]
                    for row in await conn.execute(
                        select(d.id)
                        .where(d.dedupe_key.is_not(None), d.received_at <= cutoff)
                        .limit(batch)
                    )
                ]
                if ids:
                    await conn.execute(
                        update(deliveries).where(d.id.in_(ids)).values(dedupe_key=None)
                    )
                old = await conn.execute(delete(delivery_rejections).where(r.last_at <= cutoff))
            total += len(ids) + max(0, old.rowcount or 0)
            if len(ids) < batch:
                return total
            if between is not None:
                await between()


def _add(dialect_name: str, row: RejectionCount) -> Any:
    """Insert ``row``, or add its count to the row already there (one statement: two
    processes counting the same minute and reason both land)."""
    r = delivery_rejections.c
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(delivery_rejections).values(
        instance=row.instance,
        minute=row.minute,
        reason=row.reason,
        status=row.status,
        count=row.count,
        first_at=row.first_at,
        last_at=row.last_at,
    )
    earliest = func.least if dialect_name == "postgresql" else func.min
    latest = func.greatest if dialect_name == "postgresql" else func.max
    return stmt.on_conflict_do_update(
        index_elements=["instance", "minute", "reason"],
        set_={
            "count": r.count + stmt.excluded.count,
            "status": stmt.excluded.status,
            "first_at": earliest(r.first_at, stmt.excluded.first_at),
            "last_at": latest(r.last_at, stmt.excluded.last_at),
        },
    )


async def _keep_newest(conn: Any, instance: str, keep: int) -> None:
    """Delete ``instance``'s rejection rows beyond its ``keep`` newest."""
    r = delivery_rejections.c
    edge = (
        await conn.execute(
            select(r.minute, r.reason)
            .where(r.instance == instance)
            .order_by(r.minute.desc(), r.reason.desc())
            .offset(keep)
            .limit(1)
        )
    ).first()
    if edge is None:
        return
    minute, reason = edge
    await conn.execute(
        delete(delivery_rejections).where(
            r.instance == instance,
            or_(r.minute < minute, and_(r.minute == minute, r.reason <= reason)),
        )
    )
