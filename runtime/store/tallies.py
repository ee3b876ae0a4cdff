"""How many executions each instance has, by status and by the hour they were created in,
without reading them.

Finished executions (the many) are counted by the rows the database's triggers append to
``execution_tallies`` as executions finish or are deleted (migrations 0009 and 0011), each with
the clock hour the execution was created in; unfinished ones (the few: pending, running,
waiting, held) are counted directly through the status index. ``fold_tallies`` moves the
appended rows into ``execution_tally_sums`` (one row per instance, status and hour, added to,
never rewritten) and merges the hours older than ``KEPT_HOURS`` into one, so the sums stay a
few rows per instance. A read is exact whether or not a fold has run.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, cast, delete, exists, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.executions import UNFINISHED
from runtime.store.tables import execution_tallies, execution_tally_sums, executions

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncConnection

#: Appended rows folded per transaction at most.
FOLD_BATCH = 10_000
#: Appended rows left unfolded: a read sums this many at most between folds (cheap).
FOLD_LEAST = 1_000
#: Hours kept apart in the sums (the overview draws 24); older ones are summed in ``EARLIER``.
KEPT_HOURS = 48
#: The hour that holds every hour before the kept ones.
EARLIER = 0
HOUR = 3600

Counts = dict[tuple[str, str, int], int]


def hour_of(seconds: float) -> int:
    """The clock hour (hours since the epoch) a UNIX time falls in."""
    return int(seconds // HOUR)


class Tallies(StoreBase):
    """The ``Store``'s execution counts."""

    async def execution_counts(self) -> dict[str, dict[str, int]]:
        """How many executions each instance has, by status (instances without any absent)."""
        counts: dict[str, dict[str, int]] = {}
        for (instance, status, _hour), n in (await self._counted(None, None)).items():
            by_status = counts.setdefault(instance, {})
            by_status[status] = by_status.get(status, 0) + n
        return _without_zeros(counts)

    async def execution_activity(self, first: int, hours: int) -> dict[str, dict[str, list[int]]]:
        """Executions created in the ``hours`` clock hours from hour ``first`` on (see
        ``hour_of``), by instance and status, a count per hour (oldest first): what the
        dashboard's charts draw. Hours older than ``KEPT_HOURS`` before the last fold read as
        empty (their counts are merged)."""
        found: dict[str, dict[str, list[int]]] = {}
        for (instance, status, hour), n in (await self._counted(first, first + hours)).items():
            if n:
                series = found.setdefault(instance, {}).setdefault(status, [0] * hours)
                series[hour - first] += n
        return found

    async def _counted(self, first: int | None, end: int | None) -> Counts:
        """Counts by instance, status and hour, of hours in ``[first, end)`` (all when
        ``None``): the sums, the appended tallies and the unfinished executions."""
        s, t, c = execution_tally_sums.c, execution_tallies.c, executions.c
        sums = select(s.instance, s.status, s.hour, s.n)
        appended = select(t.instance, t.status, t.hour, func.sum(t.n)).group_by(
            t.instance, t.status, t.hour
        )
        async with self.engine.connect() as conn:
            hour = _hour_column(conn, c.created_at)
            # named, not "not final": an IN list is a range of the status index per status
            # (executions without an instance are left out below, not by the query, which
            # would let the planner scan an index on the instance instead)
            unfinished = (
                select(c.instance, c.status, hour, func.count())
                .where(c.status.in_(UNFINISHED))
                .group_by(c.instance, c.status, hour)
            )
            if first is not None and end is not None:
                sums = sums.where(s.hour >= first, s.hour < end)
                appended = appended.where(t.hour >= first, t.hour < end)
                unfinished = unfinished.where(
                    c.created_at >= first * HOUR, c.created_at < end * HOUR
                )
            counts: Counts = defaultdict(int)
            for query in (sums, appended, unfinished):
                for instance, status, at, n in await conn.execute(query):
                    if instance is not None:
                        counts[instance, status, int(at)] += int(n)
        return counts

    async def fold_tallies(
        self, batch: int = FOLD_BATCH, least: int = FOLD_LEAST, now: float | None = None
    ) -> int:
        """Move up to ``batch`` of the oldest appended tallies into the sums when there are more
        than ``least``, and merge up to ``batch`` sums of hours older than ``KEPT_HOURS`` before
        ``now`` into ``EARLIER``; how many rows were moved or merged. The rows are taken with
        ``DELETE .. RETURNING``: one statement reads and removes exactly the rows it adds, so a
        row a concurrent transaction appends meanwhile is never lost."""
        t, s = execution_tallies.c, execution_tally_sums.c
        horizon = hour_of(time.time() if now is None else now) - KEPT_HOURS
        aged = (s.hour > EARLIER) & (s.hour < horizon)
        async with self.engine.connect() as conn:
            appended = int(
                (
                    await conn.execute(select(func.count()).select_from(execution_tallies))
                ).scalar_one()
            )
            merging = bool((await conn.execute(select(exists().where(aged)))).scalar_one())
        moved = 0
        if appended > least:
            oldest = select(t.id).order_by(t.id).limit(batch)
            async with writer(self.engine).begin() as conn:
                taken = (
                    await conn.execute(
                        delete(execution_tallies)
                        .where(t.id.in_(oldest))
                        .returning(t.instance, t.status, t.hour, t.n)
                    )
                ).all()
                await _add(conn, taken, horizon)
            moved += len(taken)
        if merging:
            keys = select(s.instance, s.status, s.hour).where(aged).limit(batch)
            async with writer(self.engine).begin() as conn:
                taken = (
                    await conn.execute(
                        delete(execution_tally_sums)
                        .where(tuple_(s.instance, s.status, s.hour).in_(keys))
                        .returning(s.instance, s.status, s.hour, s.n)
                    )
                ).all()
                await _add(conn, taken, horizon)
            moved += len(taken)
        return moved


async def _add(conn: AsyncConnection, rows: Any, horizon: int) -> None:
    """Add ``(instance, status, hour, n)`` rows to the sums, hours before ``horizon`` to
    ``EARLIER``; sums that reach zero go."""
    added: Counts = defaultdict(int)
    for instance, status, hour, n in rows:
        added[instance, status, hour if hour >= horizon else EARLIER] += int(n)
    values = [
        {"instance": i, "status": st, "hour": h, "n": n} for (i, st, h), n in added.items() if n
    ]
    if not values:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(execution_tally_sums).values(values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["instance", "status", "hour"],
            set_={"n": execution_tally_sums.c.n + stmt.excluded.n},
        )
    )
    await conn.execute(delete(execution_tally_sums).where(execution_tally_sums.c.n == 0))


def _hour_column(conn: AsyncConnection, seconds: ColumnElement[Any]) -> ColumnElement[Any]:
    """The clock hour of a time column (PostgreSQL's cast rounds, SQLite's truncates)."""
    if conn.dialect.name == "postgresql":
        return cast(func.floor(seconds / HOUR), Integer)
    return cast(seconds / HOUR, Integer)


def _without_zeros(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    kept = {i: {st: n for st, n in by.items() if n} for i, by in counts.items()}
    return {i: by for i, by in kept.items() if by}
