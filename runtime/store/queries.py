"""The queries and mappings the store's modules share: both write backends
(``runtime.store.writes``) and the reads.

The SQLAlchemy path runs these as Core statements; the SQLite group commit compiles the same
ones to SQL text for ``sqlite3`` (``row_sql``), so an execution reads back identically
whichever path wrote it. The state scopes' keys are decided here once (see
``runtime.store.state`` for what each scope means).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.dialects import sqlite

from runtime.store.tables import deliveries, executions
from runtime.store.values import loads

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The persistent state scopes (the ``execution`` scope lives with its execution row).
SCOPES = ("flow", "cross_flow", "integration")

#: executions with their delivery, if any (``d_*`` columns; see ``ExecutionRow.from_row``)
ROWS: Select[Any] = select(
    executions,
    *(c.label(f"d_{c.name}") for c in deliveries.columns if c.name != "execution_id"),
).select_from(executions.outerjoin(deliveries, deliveries.c.execution_id == executions.c.id))


def claimable(t: float) -> Any:
    """Pending, or running under a lease that has run out at ``t`` (its worker is presumed
    dead). A waiting execution is not: it is made pending when its time comes on the
    runtime's clock (``Store.wake_due``), which may not be the store's."""
    c = executions.c
    return or_(c.status == "pending", and_(c.status == "running", c.lease_until < t))


@functools.cache
def row_sql() -> str:
    """``ROWS`` for one execution (parameter ``execution_id``) as SQLite SQL text."""
    query = ROWS.where(executions.c.id == bindparam("execution_id"))
    return str(query.compile(dialect=sqlite.dialect()))


def state_keys(instance: str | None, flow_name: str) -> dict[str, str]:
    """The key each persistent scope is stored under for ``instance`` running ``flow_name``."""
    # a run without an instance (``relay run``) has only the integration scope to keep
    per_instance = {} if instance is None else {"flow": instance, "cross_flow": instance}
    return {**per_instance, "integration": flow_name}


def state_documents(documents: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every persistent scope's document from the stored JSON text by scope (empty where
    none is stored)."""
    found: dict[str, dict[str, Any]] = {scope: {} for scope in SCOPES}
    found.update({scope: loads(text) for scope, text in documents.items()})
    return found


def stored_scopes(rows: Any, keys: Mapping[str, str]) -> dict[str, str]:
    """The JSON text by scope among ``(scope, key, data)`` ``rows``, keeping only the rows
    under the key ``keys`` gives their scope (a flow name may equal an instance name)."""
    return {scope: data for scope, key, data in rows if keys.get(scope) == key}
