"""How many executions each instance has, by status, without reading them all.

Finished executions (the many) are counted by the rows the database's triggers append to
``execution_tallies`` as executions finish or are deleted (migration 0009); unfinished ones (the
few: pending, running, waiting, held) are counted directly through the status index.
``fold_tallies`` replaces a run of appended rows by their sums, keeping the table small; a read
is exact whether or not it has run.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, insert, select

from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.executions import UNFINISHED
from runtime.store.tables import execution_tallies, executions

#: Appended rows folded per transaction at most.
FOLD_BATCH = 10_000
#: Rows left unfolded: a read sums this many at most between folds (cheap), and a table of
#: already folded rows is not rewritten again and again.
FOLD_LEAST = 1_000


class Tallies(StoreBase):
    """The ``Store``'s execution counts."""

    async def execution_counts(self) -> dict[str, dict[str, int]]:
        """How many executions each instance has, by status (instances without any absent)."""
        t, c = execution_tallies.c, executions.c
        finished = select(t.instance, t.status, func.sum(t.n)).group_by(t.instance, t.status)
        unfinished = (
            select(c.instance, c.status, func.count())
            # named, not "not final": an IN list is a range of the status index per status
            # (executions without an instance are left out below, not by the query, which
            # would let the planner scan an index on the instance instead)
            .where(c.status.in_(UNFINISHED))
            .group_by(c.instance, c.status)
        )
        counts: dict[str, dict[str, int]] = {}
        async with self.engine.connect() as conn:
            for query in (finished, unfinished):
                for instance, status, count in await conn.execute(query):
                    if count and instance is not None:
                        counts.setdefault(instance, {})[status] = int(count)
        return counts

    async def fold_tallies(self, batch: int = FOLD_BATCH, least: int = FOLD_LEAST) -> int:
        """Replace up to ``batch`` of the oldest tally rows by one row per instance and status
        (their sum, when it is not zero), when there are more than ``least``; how many rows
        were folded. The rows are taken with ``DELETE .. RETURNING``: one statement reads and
        removes exactly the rows it sums, so a row a concurrent transaction appends meanwhile
        is never lost."""
        t = execution_tallies.c
        async with self.engine.connect() as conn:
            rows = int(
                (
                    await conn.execute(select(func.count()).select_from(execution_tallies))
                ).scalar_one()
            )
        if rows <= least:
            return 0
        oldest = select(t.id).order_by(t.id).limit(batch)
        async with writer(self.engine).begin() as conn:
            taken = (
                await conn.execute(
                    delete(execution_tallies)
                    .where(t.id.in_(oldest))
                    .returning(t.instance, t.status, t.n)
                )
            ).all()
            sums: dict[tuple[str, str], int] = defaultdict(int)
            for instance, status, n in taken:
                sums[instance, status] += int(n)
            folded = [{"instance": i, "status": s, "n": n} for (i, s), n in sums.items() if n]
            if folded:
                await conn.execute(insert(execution_tallies), folded)
        return len(taken)
