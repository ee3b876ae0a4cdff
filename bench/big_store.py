"""A store holding a million executions, made in seconds by the database itself (a recursive
CTE on SQLite, ``generate_series`` on PostgreSQL) rather than row by row from Python.

The rows look like a busy installation's history: ``INSTANCES`` instances, one execution every
``SPACING`` seconds ending now, 95% completed, 4% failed, 1% canceled, each with a small
result. Figures that need a big store (listing, retention, the dashboard) share this."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import text

from runtime.store.db import writer

if TYPE_CHECKING:
    from runtime.store import Store

INSTANCES = 10
SPACING = 2.0  # seconds between executions: a million span ~23 days
MILLION = 1_000_000

# the status cycles over every instance's own executions (``i / INSTANCES``), so each
# instance has the same mix
_STATUS = (
    "CASE WHEN ({i} / {n}) % 100 < 4 THEN 'failed' WHEN ({i} / {n}) % 100 = 4 THEN 'canceled' "
    "ELSE 'completed' END"
)
_RESULT = (
    "CASE WHEN ({i} / {n}) % 100 < 4 THEN "
    '\'{{"ok": false, "error": {{"message": "calendar unavailable \' || {i} || \'"}}}}\' '
    'ELSE \'{{"ok": true, "steps": []}}\' END'
)
_PG_ID = "lpad(to_hex(i), 32, '0')"
_SQLITE_ID = "printf('%032x', i)"
_COLUMNS = (
    "id, instance, status, flow_text, flow_version, payload, result, created_at, started_at, "
    "finished_at, attempts"
)


def _select(i: str, hex_id: str, start: float) -> str:
    created = f"{start} + {i} * {SPACING}"
    status, result = _STATUS.format(i=i, n=INSTANCES), _RESULT.format(i=i, n=INSTANCES)
    return (
        f"SELECT {hex_id}, 'bench-' || ({i} % {INSTANCES}), {status}, '', 1, '{{}}', {result}, "
        f"{created}, {created} + 0.01, {created} + 0.05, 1"
    )


async def fill(store: Store, count: int = MILLION, *, now: float | None = None) -> float:
    """Insert ``count`` finished executions ending at ``now`` (default: the wall clock);
    returns the seconds it took."""
    began = time.perf_counter()
    start = (now if now is not None else time.time()) - count * SPACING
    engine = store.engine
    if engine.dialect.name == "postgresql":
        query = (
            f"INSERT INTO executions ({_COLUMNS}) "
            f"{_select('i', _PG_ID, start)} "
            f"FROM generate_series(0, {count - 1}) AS i"
        )
    else:
        query = (
            f"INSERT INTO executions ({_COLUMNS}) "
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1}) "  # noqa: E501
            f"{_select('i', _SQLITE_ID, start)} FROM n"
        )
    async with writer(engine).begin() as conn:
        await conn.execute(text(query))
        # PostgreSQL's autovacuum would analyze the table soon after; relay never runs
        # SQLite's ANALYZE, so its planner keeps its default estimates here too
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE executions"))
    return time.perf_counter() - began
