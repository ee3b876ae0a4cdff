"""Retention: finished executions (with their step records and delivery bodies) older than a
policy, or beyond a number per instance, are deleted in small batches.

A policy is written as ``RELAY_RETENTION`` is: comma-separated ``name=value`` pairs, e.g.
``completed=30d,failed=90d,keep=10000``. ``completed``, ``failed`` and ``canceled`` are the ages
(durations: ``12h``, ``30d``) past which executions that ended so are deleted; ``keep`` is how
many finished executions each instance keeps at most, newest first. Unfinished executions
(pending, running, waiting) are never deleted. With no policy nothing is.

Each batch is one short transaction (at most ``batch`` executions), so pruning a large store
never holds the write lock long enough to stall webhook ingest; a caller can pause between
batches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import delete, func, select

from runtime.durations import parse_duration
from runtime.errors import ConfigurationError
from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.tables import deliveries, execution_steps, executions

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

#: The statuses an age may be given for (the finished ones).
AGED = ("completed", "failed", "canceled")
#: Executions deleted per transaction.
BATCH = 500


@frozen
class RetentionPolicy:
    """How long finished executions are kept (seconds by final status) and how many per
    instance at most."""

    ages: dict[str, float]
    keep: int | None = None

    @property
    def empty(self) -> bool:
        """Whether the policy keeps everything."""
        return not self.ages and self.keep is None

    @classmethod
    def parse(cls, text: str, where: str = "RELAY_RETENTION") -> RetentionPolicy:
        """The policy ``text`` states; a ``ConfigurationError`` naming ``where`` and the part
        that is wrong otherwise."""
        ages: dict[str, float] = {}
        keep: int | None = None
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = (s.strip() for s in part.partition("="))
            if not sep or not value:
                raise ConfigurationError(f"{where}: {part!r} is not name=value")
            if name == "keep":
                if not value.isdigit() or int(value) < 1:
                    raise ConfigurationError(f"{where}: keep={value!r} is not a whole number >= 1")
                keep = int(value)
            elif name in AGED:
                try:
                    seconds = parse_duration(value)
                except ValueError:
                    seconds = math.nan
                if not (0 < seconds < math.inf):
                    raise ConfigurationError(
                        f"{where}: {name}={value!r} is not a duration (e.g. 12h, 30d)"
                    )
                ages[name] = seconds
            else:
                known = ", ".join((*AGED, "keep"))
                raise ConfigurationError(f"{where}: unknown setting {name!r} (known: {known})")
        return cls(ages, keep)


@frozen
class Pruned:
    """What a prune deleted (or, for a dry run, would delete), by reason."""

    by_age: dict[str, int]
    beyond_keep: int

    @property
    def total(self) -> int:
        """Executions deleted (or that would be)."""
        return sum(self.by_age.values()) + self.beyond_keep


class RetentionQueries(StoreBase):
    """The ``Store``'s pruning."""

    async def prune(
        self,
        policy: RetentionPolicy,
        now: float,
        *,
        dry_run: bool = False,
        batch: int = BATCH,
        between: Callable[[], Awaitable[None]] | None = None,
    ) -> Pruned:
        """Delete what ``policy`` no longer keeps at ``now``, ``batch`` executions a
        transaction (``between`` is awaited between transactions); with ``dry_run``, count it
        only."""
        c = executions.c
        by_age: dict[str, int] = {}
        for status, age in policy.ages.items():
            cutoff = now - age
            # created before the cutoff (the index narrows by it) and finished before it too:
            # an execution that waited long is kept for the policy's time after it ended
            where = self.aged_where(status, cutoff)
            by_age[status] = await self._prune_where(where, dry_run, batch, between)
        beyond = 0
        if policy.keep is not None:
            async with self.engine.connect() as conn:
                names = [r[0] for r in await conn.execute(select(c.instance).distinct())]
            for name in names:
                beyond += await self._prune_beyond(name, policy.keep, dry_run, batch, between)
        return Pruned(by_age, beyond)

    def aged_where(self, status: str, cutoff: float) -> list[Any]:
        """The executions of ``status`` a policy's age deletes at ``cutoff``: created and
        finished before it."""
        c = executions.c
        return [self._status_is(status), c.created_at < cutoff, c.finished_at < cutoff]

    @staticmethod
    def batch_query(where: list[Any], batch: int, since: float | None = None) -> Any:
        """One pruning batch: the oldest ``batch`` executions ``where`` selects, from ``since``
        on (ids and times)."""
        c = executions.c
        bounded = where if since is None else [*where, c.created_at >= since]
        return select(c.id, c.created_at).where(*bounded).order_by(c.created_at).limit(batch)

    def _status_is(self, status: str) -> Any:
        """``status = :status`` for a pruning batch, which must walk the time index (oldest
        first, LIMIT batch). On SQLite the status goes through an expression no index serves:
        its planner, which relay never gives statistics, would otherwise take the status index
        and sort every execution of that status for each batch. PostgreSQL's, which has them,
        walks the time index by itself (and misjudges the expression)."""
        c = executions.c
        if self.engine.dialect.name == "sqlite":
            return func.coalesce(c.status, "") == status
        return c.status == status

    async def _prune_where(
        self,
        where: list[Any],
        dry_run: bool,
        batch: int,
        between: Callable[[], Awaitable[None]] | None,
    ) -> int:
        if dry_run:
            async with self.engine.connect() as conn:
                return int((await conn.execute(select(func.count()).where(*where))).scalar_one())
        total = 0
        # a pass walks the time index once: what an earlier batch skipped (kept by the policy)
        # lies before the last deleted row's time and is not read again
        since: float | None = None
        while True:
            deleted, last = await self._delete_batch(self.batch_query(where, batch, since))
            total += deleted
            if deleted < batch:
                return total
            since = last
            if between is not None:
                await between()

    async def _prune_beyond(
        self,
        instance: str | None,
        keep: int,
        dry_run: bool,
        batch: int,
        between: Callable[[], Awaitable[None]] | None,
    ) -> int:
        """Finished executions of ``instance`` older than its ``keep`` newest finished ones."""
        c = executions.c
        mine = c.instance.is_(None) if instance is None else c.instance == instance
        finished = [mine, c.status.in_(AGED)]
        if dry_run:
            async with self.engine.connect() as conn:
                count = (await conn.execute(select(func.count()).where(*finished))).scalar_one()
            return max(0, int(count) - keep)
        total = 0
        while True:
            query = (
                select(c.id)
                .where(*finished)
                .order_by(c.created_at.desc(), c.id.desc())
                .offset(keep)
                .limit(batch)
            )
            deleted, _ = await self._delete_batch(query)
            total += deleted
            if deleted < batch:
                return total
            if between is not None:
                await between()

    async def _delete_batch(self, query: Any) -> tuple[int, Any]:
        """Delete the executions ``query`` selects (their ids first), with their deliveries
        and checkpoints, in one transaction; how many were deleted, and the last row's second
        column when it has one."""
        async with writer(self.engine).begin() as conn:
            rows = list(await conn.execute(query))
            ids = [row[0] for row in rows]
            if not ids:
                return 0, None
            await conn.execute(delete(deliveries).where(deliveries.c.execution_id.in_(ids)))
            await conn.execute(
                delete(execution_steps).where(execution_steps.c.execution_id.in_(ids))
            )
            await conn.execute(delete(executions).where(executions.c.id.in_(ids)))
        return len(ids), rows[-1][1] if len(rows[-1]) > 1 else None
