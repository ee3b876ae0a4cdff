"""The hot path's write transactions as plain ``sqlite3`` operations, for ``GroupCommit``.

Each function here takes a ``sqlite3.Connection`` already inside a write transaction (see
``runtime.store.groupcommit``) and does what its SQLAlchemy counterpart in
``runtime.store.sqlalchemy_writes`` does, statement for statement, on the same schema
(``runtime.store.tables``). Values are converted by the callers (JSON text via ``dumps``), so
a row reads back through SQLAlchemy exactly as if SQLAlchemy had written it.

Dedupe: inside one transaction a second delivery with the same ``(instance, dedupe_key)``
conflicts with the first's (uncommitted) row, so duplicates within a batch and against
committed rows both come back as the first delivery's execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import NotFound
from runtime.store.queries import row_sql, state_keys, stored_scopes
from runtime.store.records import Holder, LeaseLost
from runtime.store.tables import executions
from runtime.store.values import now

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

_INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, instance, dedupe_key, headers, body, received_at, execution_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_DELIVERY_EXECUTION = (
    "SELECT id, execution_id, received_at FROM deliveries WHERE instance = ? AND dedupe_key = ?"
)
_SEEN_AGAIN = (
    "UPDATE deliveries SET times_seen = times_seen + 1,"
    " last_seen_at = MAX(COALESCE(last_seen_at, received_at), ?) WHERE id = ?"
)
_RELEASE_KEY = "UPDATE deliveries SET dedupe_key = NULL WHERE id = ?"
_INSTANCE_FLOW = (
    "SELECT flow_text, flow_version, webhook_token, status FROM instances WHERE name = ?"
)
_INSERT_EXECUTION = (
    "INSERT INTO executions (id, instance, status, flow_text, flow_version, payload, created_at,"
    " attempts, replay_of, reused_outputs) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
_CLAIM = (
    "UPDATE executions SET status = 'running', worker = ?, lease_until = ?, started_at = ?,"
    " attempts = attempts + 1"
    " WHERE id = ? AND (status = 'pending' OR (status = 'running' AND lease_until < ?))"
)
#: The claim that also hands back the execution's own columns (not its delivery's): one
#: statement where ``claim`` needs two.
_CLAIM_RETURNING = _CLAIM + " RETURNING " + ", ".join(c.name for c in executions.columns)
_FINISH = (
    "UPDATE executions SET status = ?, result = ?, state = ?, finished_at = ?, worker = NULL,"
    " lease_until = NULL WHERE id = ?"
)
#: ``_FINISH`` by the lease's holder only (fencing, in the same statement as the write).
_FINISH_HELD = _FINISH + " AND status = 'running' AND worker = ? AND attempts = ?"
_EXECUTION_INSTANCE = "SELECT instance FROM executions WHERE id = ?"
#: Takes the execution's row lock if (and only if) the holder still holds the lease: the
#: fence of a checkpoint write, in its own transaction.
_FENCE = (
    "UPDATE executions SET lease_until = lease_until"
    " WHERE id = ? AND status = 'running' AND worker = ? AND attempts = ?"
    " RETURNING cancel_requested"
)
_UPSERT_STEP = (
    "INSERT INTO execution_steps (execution_id, path, seq, status, claim, checkpoint, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (execution_id, path) DO UPDATE SET"
    " seq = excluded.seq, status = excluded.status, claim = excluded.claim,"
    " checkpoint = excluded.checkpoint, created_at = excluded.created_at"
)
_SUSPEND = (
    "UPDATE executions SET status = 'waiting', wake_at = ?, worker = NULL, lease_until = NULL"
    " WHERE id = ? AND status = 'running' AND worker = ? AND attempts = ?"
)
_DROP_STEPS = "DELETE FROM execution_steps WHERE execution_id = ?"
_FLOW_NAME = "SELECT flow_name FROM instances WHERE name = ?"
_STATE_ONE = "SELECT scope, key, data FROM state WHERE key IN (?)"
_STATE_TWO = "SELECT scope, key, data FROM state WHERE key IN (?, ?)"
_UPSERT_STATE = (
    "INSERT INTO state (scope, key, data, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (scope, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at"
)


def record_delivery(
    conn: sqlite3.Connection,
    delivery_id: str,
    execution_id: str,
    instance: str,
    dedupe_key: str | None,
    headers: str,
    body: bytes,
    received_at: float,
    payload: str,
    webhook_token: str | None = None,
    dedupe_window: float | None = None,
) -> tuple[str, bool]:
    """Record a webhook delivery and its pending execution (held, when the instance is paused):
    ``(execution id, True)``, or the first delivery's ``(execution id, False)`` for a duplicate
    ``dedupe_key`` (counted on the first: ``times_seen``, ``last_seen_at``). A key first seen
    ``dedupe_window`` seconds or more before ``received_at`` is released, and the delivery is
    new. An unknown instance (or a wrong webhook token) is ``NotFound``."""
    row = conn.execute(_INSTANCE_FLOW, (instance,)).fetchone()
    if row is None or (webhook_token is not None and row[2] != webhook_token):
        raise NotFound("instance", instance)
    values = (delivery_id, instance, dedupe_key, headers, body, received_at, execution_id)
    inserted = conn.execute(_INSERT_DELIVERY, values).rowcount
    if inserted != 1 and dedupe_key is not None:
        existing = conn.execute(_DELIVERY_EXECUTION, (instance, dedupe_key)).fetchone()
        if existing is None:  # conflicted on a random id (never in practice): let the caller retry
            raise Retry()
        if dedupe_window is None or received_at < existing[2] + dedupe_window:
            conn.execute(_SEEN_AGAIN, (received_at, existing[0]))
            return str(existing[1]), False
        conn.execute(_RELEASE_KEY, (existing[0],))
        inserted = conn.execute(_INSERT_DELIVERY, values).rowcount
    if inserted != 1:
        raise Retry()
    status = "held" if row[3] == "paused" else "pending"
    insert_execution(conn, execution_id, instance, row[0], row[1], payload, status)
    return execution_id, True


class Retry(Exception):
    """The operation should be run again with fresh ids."""


def insert_execution(
    conn: sqlite3.Connection,
    execution_id: str,
    instance: str | None,
    flow_text: str,
    flow_version: int,
    payload: str,
    status: str = "pending",
    replay_of: str | None = None,
    reused_outputs: str | None = None,
) -> None:
    """Insert an execution row (pending unless told otherwise), created now."""
    conn.execute(
        _INSERT_EXECUTION,
        (
            execution_id,
            instance,
            status,
            flow_text,
            flow_version,
            payload,
            now(),
            replay_of,
            reused_outputs,
        ),
    )


def _one_row(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    """The cursor's next row by column name, or ``None``."""
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def execution_row(conn: sqlite3.Connection, execution_id: str) -> dict[str, Any] | None:
    """The ``executions`` row of ``execution_id`` by column name, or None."""
    return _one_row(conn.execute(row_sql(), (execution_id,)))


def _claim_args(execution_id: str, worker: str, lease_seconds: float) -> tuple[Any, ...]:
    """The parameters of ``_CLAIM`` (and ``_CLAIM_RETURNING``) for a claim made now."""
    t = now()
    return (worker, t + lease_seconds, t, execution_id, t)


def claim(
    conn: sqlite3.Connection, execution_id: str, worker: str, lease_seconds: float
) -> dict[str, Any] | None:
    """Claim the execution for ``worker`` for ``lease_seconds``: its row, or None when it is
    not claimable (neither pending nor running on an expired lease)."""
    claimed = conn.execute(_CLAIM, _claim_args(execution_id, worker, lease_seconds)).rowcount
    if claimed != 1:
        return None
    return execution_row(conn, execution_id)


def claim_with_state(
    conn: sqlite3.Connection,
    execution_id: str,
    worker: str,
    lease_seconds: float,
    flow_name: str | None,
) -> tuple[dict[str, Any], dict[str, str], str] | None:
    """``claim`` (the execution's columns only: running it does not need its delivery), then
    the persistent state documents (JSON text by scope) of the execution's instance and
    ``flow_name`` (default: the instance's flow name), and that flow name."""
    row = _one_row(conn.execute(_CLAIM_RETURNING, _claim_args(execution_id, worker, lease_seconds)))
    if row is None:
        return None
    instance = row["instance"]
    if flow_name is None:
        found = conn.execute(_FLOW_NAME, (instance,)).fetchone() if instance else None
        flow_name = found[0] if found else ""
    return row, load_state(conn, instance, flow_name), flow_name


def load_state(conn: sqlite3.Connection, instance: str | None, flow_name: str) -> dict[str, str]:
    """The persistent state documents (JSON text by scope) of ``instance`` and ``flow_name``."""
    keys = state_keys(instance, flow_name)
    wanted = sorted(set(keys.values()))  # one or two names
    return stored_scopes(conn.execute(_STATE_ONE if len(wanted) == 1 else _STATE_TWO, wanted), keys)


def finish(
    conn: sqlite3.Connection,
    execution_id: str,
    status: str,
    result: str,
    execution_state: str,
    scopes: dict[str, str],
    flow_name: str | None,
    result_flow: str,
    holder: Holder | None = None,
) -> None:
    """Record the outcome and the persistent scopes (``scopes``: JSON text by scope name);
    with ``holder``, only while it holds the lease (``LeaseLost`` otherwise, nothing written)."""
    params: tuple[Any, ...] = (status, result, execution_state, now(), execution_id)
    if holder is None:
        done = conn.execute(_FINISH, params).rowcount
    else:
        done = conn.execute(_FINISH_HELD, (*params, holder.worker, holder.attempt)).rowcount
    if done != 1:
        if holder is not None:
            raise LeaseLost(execution_id, holder)
        raise LookupError(f"there is no execution {execution_id!r}")
    conn.execute(_DROP_STEPS, (execution_id,))  # the result records every step now
    if not scopes:
        return
    instance = conn.execute(_EXECUTION_INSTANCE, (execution_id,)).fetchone()[0]
    if flow_name is None:
        found = conn.execute(_FLOW_NAME, (instance,)).fetchone() if instance else None
        flow_name = (found[0] if found else None) or result_flow
    t = now()
    for scope, key in state_keys(instance, flow_name).items():
        if scope in scopes:
            conn.execute(_UPSERT_STATE, (scope, key, scopes[scope], t))


def save_checkpoints(
    conn: sqlite3.Connection,
    execution_id: str,
    holder: Holder,
    rows: Sequence[tuple[str, int, str, int, bytes]],
) -> bool:
    """Write checkpoint ``rows`` (path, seq, status, claim, encrypted checkpoint) while
    ``holder`` holds the lease (``LeaseLost`` otherwise, nothing written); whether a cancel
    was asked for."""
    fenced = conn.execute(_FENCE, (execution_id, holder.worker, holder.attempt)).fetchone()
    if fenced is None:
        raise LeaseLost(execution_id, holder)
    t = now()
    conn.executemany(
        _UPSERT_STEP,
        [
            (execution_id, path, seq, status, claim, blob, t)
            for path, seq, status, claim, blob in rows
        ],
    )
    return bool(fenced[0])


def suspend(conn: sqlite3.Connection, execution_id: str, holder: Holder, wake_at: float) -> None:
    """Put the running execution aside as ``waiting`` until ``wake_at``, giving up its lease;
    only while ``holder`` holds it (``LeaseLost`` otherwise)."""
    params = (wake_at, execution_id, holder.worker, holder.attempt)
    if conn.execute(_SUSPEND, params).rowcount != 1:
        raise LeaseLost(execution_id, holder)


_BY_HOLDER = {
    ("lease_until",): "UPDATE executions SET lease_until = ? WHERE id = ? AND status = 'running'",
    ("status", "lease_until"): (
        "UPDATE executions SET status = ?, lease_until = ? WHERE id = ? AND status = 'running'"
    ),
}


def by_holder(
    conn: sqlite3.Connection,
    execution_id: str,
    worker: str | None,
    values: dict[str, Any],
    attempt: int | None = None,
) -> bool:
    """``UPDATE executions SET values`` where ``worker`` (any, if ``None``) runs it, under the
    claim ``attempt`` if given; the columns are those ``renew_lease`` and ``release_execution``
    set."""
    sql = _BY_HOLDER[tuple(values)]
    params = [*values.values(), execution_id]
    if worker is not None:
        sql += " AND worker = ?"
        params.append(worker)
    if attempt is not None:
        sql += " AND attempts = ?"
        params.append(attempt)
    return bool(conn.execute(sql, params).rowcount == 1)
