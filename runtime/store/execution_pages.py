"""Executions a page at a time, newest first, by keyset: each page continues strictly after
the ``(created_at, id)`` of the last row of the one before.

A keyset, unlike an offset, does not move when rows are inserted while someone pages: a row
recorded meanwhile sorts before the first page (it is newer), so every row that existed when
paging began is returned exactly once. The per-instance, the per-instance-and-status and the
time index (``executions(instance, created_at)``, ``(instance, status, created_at, id)`` and
``(created_at)``) serve the filters and the ordering (``make bench``'s listing figure records
the plans on a million executions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import JSON, and_, cast, func, or_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from runtime.store.base import StoreBase
from runtime.store.queries import ROWS
from runtime.store.records import ExecutionRow
from runtime.store.tables import executions

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Select


@frozen
class ExecutionFilter:
    """Which executions a page holds: each given field narrows it (``error``: the error
    message contains this text, ignoring case)."""

    instance: str | None = None
    status: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    error: str | None = None
    flow_version: int | None = None


class ExecutionPages(StoreBase):
    """The ``Store``'s paged execution listing."""

    async def page_executions(
        self,
        where: ExecutionFilter,
        limit: int,
        after: tuple[float, str] | None = None,
    ) -> list[ExecutionRow]:
        """Up to ``limit`` executions matching ``where``, newest first, continuing after the
        ``(created_at, id)`` key ``after`` (the last row of the previous page)."""
        query = self.page_query(where, limit, after)
        async with self.engine.connect() as conn:
            return [ExecutionRow.from_row(r._mapping) for r in await conn.execute(query)]

    def page_query(
        self, where: ExecutionFilter, limit: int, after: tuple[float, str] | None = None
    ) -> Select[Any]:
        """The statement of ``page_executions`` (what its query plan is read from)."""
        c = executions.c
        conditions: list[ColumnElement[bool]] = []
        if where.instance is not None:
            conditions.append(c.instance == where.instance)
        if where.status is not None:
            conditions.append(c.status == where.status)
        if where.flow_version is not None:
            conditions.append(c.flow_version == where.flow_version)
        if where.created_after is not None:
            conditions.append(c.created_at > where.created_after)
        if where.created_before is not None:
            conditions.append(c.created_at < where.created_before)
        if where.error:
            conditions.append(self._error_contains(where.error))
        if after is not None:
            at, last = after
            # the first term is implied by the second; it is the range an index can seek to
            # (neither engine makes one of the OR)
            conditions.append(c.created_at <= at)
            conditions.append(or_(c.created_at < at, and_(c.created_at == at, c.id < last)))
        return ROWS.where(*conditions).order_by(c.created_at.desc(), c.id.desc()).limit(limit)

    def _error_contains(self, text: str) -> ColumnElement[bool]:
        """The recorded error message (``result.error.message``) contains ``text``; the result
        column is JSON text, read as JSON by each engine's own functions."""
        result = executions.c.result
        if self.engine.dialect.name == "postgresql":
            message: Any = cast(result, JSONB)["error"]["message"].astext
        else:
            message = type_coerce(result, JSON)["error"]["message"].as_string()
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(message).like(f"%{escaped}%", escape="\\")
