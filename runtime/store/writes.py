"""The store's write seam: the hot path's write transactions, one interface for two backends.

A webhook delivery is recorded before it is answered, and every execution is claimed, renewed
and finished in write transactions of its own: these are the writes whose cost bounds the
server. ``Writes`` is what the ``Store`` calls for them; ``open_store`` picks the backend once:

- ``runtime.store.sqlalchemy_writes.SqlAlchemyWrites``: SQLAlchemy Core transactions
  (PostgreSQL, and SQLite databases group commit cannot open);
- ``runtime.store.grouped_writes.GroupCommitWrites``: plain ``sqlite3`` operations batched
  into shared transactions (SQLite files; ``runtime.store.groupcommit``).

Both take and return Python values and records (JSON encoding and row mapping are theirs),
commit before they return, and raise the same errors: ``NotFound`` for an instance that is
gone, ``LeaseLost`` for a holder that lost its lease, ``LookupError`` for an unknown
execution, ``StoreUnavailable`` when the database cannot be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runtime.store.records import ExecutionRow, Holder


class Writes(Protocol):
    """The hot path's write transactions (see the module docstring)."""

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
        """Record a delivery and its pending execution; ``(execution_id, is_new)``, the first
        delivery's execution (which counts it) for a ``dedupe_key`` seen less than
        ``dedupe_window`` seconds before. ``NotFound`` when the instance (with
        ``webhook_token``, if given) does not exist."""
        ...

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
        """Insert the execution ``execution_id``."""
        ...

    async def claim(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """Claim for ``worker``: the row with its delivery, or ``None`` (held or finished)."""
        ...

    async def claim_with_state(
        self, execution_id: str, worker: str, lease_seconds: float, flow_name: str | None
    ) -> tuple[ExecutionRow, dict[str, dict[str, Any]], str] | None:
        """Claim (the row without its delivery) and read the persistent state of its instance
        and ``flow_name`` (default: the instance's flow name, else ``""``) in one transaction:
        ``(row, state by scope, flow name used)``, or ``None`` when not claimed."""
        ...

    async def finish(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any],
        state: dict[str, Any],
        flow_name: str | None,
        holder: Holder | None,
    ) -> None:
        """Write the outcome and the persistent scopes present in ``state`` in one
        transaction, under ``flow_name`` (default: the instance's flow name, else
        ``result["flow"]``); with ``holder``, only while it holds the lease."""
        ...

    async def save_checkpoints(
        self, execution_id: str, holder: Holder, rows: Sequence[tuple[str, int, str, int, bytes]]
    ) -> bool:
        """Upsert checkpoint ``rows`` (path, seq, status, claim, encrypted checkpoint) in one
        transaction while ``holder`` holds the lease (``LeaseLost`` otherwise, nothing
        written); returns whether a cancel was asked for."""
        ...

    async def suspend(self, execution_id: str, holder: Holder, wake_at: float) -> None:
        """Set the running execution ``waiting`` until ``wake_at`` and drop its lease, while
        ``holder`` holds it (``LeaseLost`` otherwise)."""
        ...

    async def by_holder(
        self, execution_id: str, worker: str | None, attempt: int | None, values: dict[str, Any]
    ) -> bool:
        """Set ``values`` (``lease_until``, and ``status`` for a release) on the running
        execution, if ``worker`` (any, if ``None``) holds it under claim ``attempt`` (any, if
        ``None``); ``False`` if nothing changed."""
        ...

    async def close(self) -> None:
        """Release what the backend holds beyond the engine (a later write reopens it)."""
        ...
