"""The hot path's writes on a SQLite file, group-committed: the ``Writes`` of SQLite.

Each call encodes its values here (JSON text via ``dumps``), queues one plain ``sqlite3``
operation (``runtime.store.sqliteops``) on the file's ``GroupCommit``, and maps what comes back
to records; calls arriving together share one transaction and one fsync. SQLite's failures
leave as ``StoreUnavailable``, as the engine's do.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.store import sqliteops
from runtime.store.db import translate
from runtime.store.groupcommit import GroupCommit
from runtime.store.queries import SCOPES, state_documents
from runtime.store.records import ExecutionRow, Holder
from runtime.store.values import dumps, new_id

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class TranslatingGroupCommit(GroupCommit):
    """Group commit whose SQLite failures leave as ``StoreUnavailable`` (as the engine's do)."""

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """See ``GroupCommit.run``."""
        try:
            return await super().run(op)
        except (sqlite3.Error, OSError) as exc:
            found = translate(exc, self.path)
            if found is None:
                raise
            raise found from exc


class GroupCommitWrites:
    """``runtime.store.writes.Writes`` on the SQLite file ``path`` (``engine``'s database)."""

    def __init__(self, path: str, engine: AsyncEngine) -> None:
        #: the file's group commit: its counters say how the writes were batched
        self.group = TranslatingGroupCommit(path, engine)

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
        headers_text, payload_text = dumps(dict(headers)), dumps(payload)
        body_bytes = bytes(body)
        while True:
            try:
                return await self.group.run(
                    partial(
                        sqliteops.record_delivery,
                        delivery_id=new_id(),
                        execution_id=new_id(),
                        instance=instance,
                        dedupe_key=dedupe_key,
                        headers=headers_text,
                        body=body_bytes,
                        received_at=received_at,
                        payload=payload_text,
                        webhook_token=webhook_token,
                        dedupe_window=dedupe_window,
                    )
                )
            except sqliteops.Retry:
                continue

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
        await self.group.run(
            partial(
                sqliteops.insert_execution,
                execution_id=execution_id,
                instance=instance,
                flow_text=flow_text,
                flow_version=flow_version,
                payload=dumps(payload),
                status=status,
                replay_of=replay_of,
                reused_outputs=None if reused_outputs is None else dumps(reused_outputs),
            )
        )

    async def claim(
        self, execution_id: str, worker: str, lease_seconds: float
    ) -> ExecutionRow | None:
        """See ``Writes.claim``."""
        found = await self.group.run(
            partial(
                sqliteops.claim,
                execution_id=execution_id,
                worker=worker,
                lease_seconds=lease_seconds,
            )
        )
        return None if found is None else ExecutionRow.from_row(found)

    async def claim_with_state(
        self, execution_id: str, worker: str, lease_seconds: float, flow_name: str | None
    ) -> tuple[ExecutionRow, dict[str, dict[str, Any]], str] | None:
        """See ``Writes.claim_with_state``."""
        found = await self.group.run(
            partial(
                sqliteops.claim_with_state,
                execution_id=execution_id,
                worker=worker,
                lease_seconds=lease_seconds,
                flow_name=flow_name,
            )
        )
        if found is None:
            return None
        mapping, documents, used = found
        return ExecutionRow.from_row(mapping), state_documents(documents), used

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
        scopes = {k: dumps(state[k] or {}) for k in SCOPES if k in state}
        await self.group.run(
            partial(
                sqliteops.finish,
                execution_id=execution_id,
                status=status,
                result=dumps(result),
                execution_state=dumps(state.get("execution") or {}),
                scopes=scopes,
                flow_name=flow_name,
                result_flow=str(result.get("flow", "")),
                holder=holder,
            )
        )

    async def save_checkpoints(
        self, execution_id: str, holder: Holder, rows: Sequence[tuple[str, int, str, int, bytes]]
    ) -> bool:
        """See ``Writes.save_checkpoints``."""
        return await self.group.run(
            partial(sqliteops.save_checkpoints, execution_id=execution_id, holder=holder, rows=rows)
        )

    async def suspend(self, execution_id: str, holder: Holder, wake_at: float) -> None:
        """See ``Writes.suspend``."""
        await self.group.run(
            partial(sqliteops.suspend, execution_id=execution_id, holder=holder, wake_at=wake_at)
        )

    async def by_holder(
        self, execution_id: str, worker: str | None, attempt: int | None, values: dict[str, Any]
    ) -> bool:
        """See ``Writes.by_holder``."""
        return bool(
            await self.group.run(
                partial(
                    sqliteops.by_holder,
                    execution_id=execution_id,
                    worker=worker,
                    values=values,
                    attempt=attempt,
                )
            )
        )

    async def close(self) -> None:
        """Wait for queued writes, then close the file's connection and commit thread."""
        await self.group.close()
