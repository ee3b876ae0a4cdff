"""Group commit for SQLite: the hot path's write transactions, many per commit.

A webhook delivery must be on disk before it is answered, and every execution is claimed and
finished in write transactions of its own. SQLite admits one writer at a time and a commit with
``synchronous=FULL`` costs an fsync, so one transaction per call (and SQLAlchemy's statement
machinery around each) caps the server at a few hundred writes per second.

``GroupCommit.run(op)`` queues ``op`` (a plain function of a ``sqlite3.Connection``); the
queued operations run in ONE ``BEGIN IMMEDIATE`` .. ``COMMIT`` (an operation that raises is
undone alone and its caller gets the exception; the others commit; see ``_attempt``). Callers
are resumed only after ``COMMIT`` returned, so "committed when it returns" still holds for every
store method built on it. Operations that arrive while a batch is committing form the next
batch: at low load a batch is one operation and waits for nothing; under load batches grow by
themselves (no timer).

Where each part runs (measured under a webhook burst; see BENCHMARKS.md): the statements run
on the event loop's thread, and only ``COMMIT`` (the fsync) runs on a thread of its own. The
statements are short (5-20 us an operation here), while running them on the commit thread made
every ``sqlite3`` call give up the GIL and win it back from the busy loop (~110 us an operation
under load). The connection's busy timeout is 0, so ``BEGIN IMMEDIATE`` on the loop never
sleeps: when another process holds SQLite's write lock, that batch runs whole on the commit
thread, which waits out the lock (up to the usual busy timeout) while the loop goes on.

Batches run in arrival order and take the same per-process write lock as the store's
SQLAlchemy writers (``runtime.store.db.writer``), so the two never contend in SQLite's busy
handler; other processes are excluded by SQLite's write lock as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.store.db import SQLITE_BUSY_TIMEOUT_MS, switch_to_wal, write_lock

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]

#: Most operations in one transaction (bounds the latency one batch adds to the next).
MAX_BATCH = 512


def sqlite_file(url: URL) -> str | None:
    """The database file of a SQLite ``url`` that group commit can open, else ``None`` (not
    SQLite, in-memory, or a URL with options this module would not reproduce)."""
    if url.get_backend_name() != "sqlite" or url.query:
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class GroupCommit:
    """One writer thread and connection for a SQLite file; see the module docstring."""

    def __init__(self, path: str, engine: AsyncEngine, max_batch: int = MAX_BATCH) -> None:
        self.path = path
        self._engine = engine
        self._max_batch = max_batch
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: batches committed and operations in them, and the batches that waited for
        #: another process's write lock (for tests and profiling)
        self.batches = 0
        self.operations = 0
        self.waited = 0

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in a write transaction; returns once that transaction has committed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # a store used from a new event loop: whatever the old one queued died with it
            self._loop, self._pending, self._flusher = loop, [], None
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((op, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush(), name="relay sqlite group commit")
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending and self._loop is loop:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                ops = [op for op, _ in batch]
                try:
                    async with write_lock(self._engine):
                        outcomes = await self._batch(loop, ops)
                except BaseException as exc:  # the batch did not commit: every caller hears
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(_copy(exc))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue  # its caller was cancelled; the work is committed regardless
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            if self._loop is loop:
                self._flusher = None
                # interrupted (the loop is closing): callers still waiting get a new flusher
                self._pending = [(op, f) for op, f in self._pending if not f.done()]
                if self._pending:
                    self._flusher = loop.create_task(self._flush())

    async def _batch(
        self, loop: asyncio.AbstractEventLoop, ops: list[Op]
    ) -> list[tuple[bool, Any]]:
        """One transaction over ``ops``: statements here, ``COMMIT`` on the commit thread."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="relay-commit")
        pool = self._pool
        conn = self._conn
        if conn is None:  # opening may wait for another process (switching to WAL)
            conn = await loop.run_in_executor(pool, self._connection)
        failed: dict[int, Exception] = {}
        try:
            outcomes = None
            while outcomes is None:
                outcomes = self._attempt(conn, ops, failed, commit=False)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            # another process writes: the whole batch waits for it on the commit thread
            self.waited += 1
            return await loop.run_in_executor(pool, self._commit_waiting, ops)
        try:
            await loop.run_in_executor(pool, conn.execute, "COMMIT")
        except BaseException:
            if conn.in_transaction:
                await loop.run_in_executor(pool, conn.execute, "ROLLBACK")
            raise
        self._counted(ops)
        return outcomes

    def _counted(self, ops: list[Op]) -> None:
        self.batches += 1
        self.operations += len(ops)

    # -- the commit thread -----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE below
                check_same_thread=False,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            switch_to_wal(conn.execute)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=0")  # the loop must not sleep in BEGIN (above)
            self._conn = conn
        return self._conn

    def _commit_waiting(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        """The whole batch, ``COMMIT`` included, waiting out another writer's lock."""
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        try:
            failed: dict[int, Exception] = {}
            while True:
                outcomes = self._attempt(conn, ops, failed)
                if outcomes is not None:
                    self._counted(ops)
                    return outcomes
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    def _attempt(
        self,
        conn: sqlite3.Connection,
        ops: list[Op],
        failed: dict[int, Exception],
        commit: bool = True,
    ) -> list[tuple[bool, Any]] | None:
        """One transaction over ``ops`` (skipping those in ``failed``), committed if
        ``commit``, else left open for the caller to commit. An operation that raises having
        written nothing fails alone; one that raises after writing is added to ``failed`` and
        the whole transaction is rolled back (``None``: run it again). A database error rolls
        back and fails the batch. (Cheaper than a savepoint around every operation.)"""
        outcomes: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for index, op in enumerate(ops):
                if index in failed:
                    outcomes.append((False, failed[index]))
                    continue
                before = conn.total_changes
                try:
                    outcomes.append((True, op(conn)))
                except sqlite3.Error:
                    raise
                except Exception as exc:
                    if conn.total_changes != before:
                        failed[index] = exc
                        conn.execute("ROLLBACK")
                        return None
                    outcomes.append((False, exc))
            if commit:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        """Wait for queued work, then close the connection and stop the thread (like
        ``AsyncEngine.dispose``: a later call starts them again)."""
        flusher = self._flusher
        if flusher is not None and self._loop is asyncio.get_running_loop():
            await asyncio.gather(flusher, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is not None:
            # synchronously (closing a connection is quick): a cancelled close still closes
            pool.submit(self._close_connection)
            pool.shutdown(wait=True)


def _copy(exc: BaseException) -> BaseException:
    """The exception to give each caller of a failed batch (a cancellation becomes an error:
    the callers were not cancelled, the batch was)."""
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError("the store's commit was interrupted")
    return exc


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite answered SQLITE_BUSY (another connection holds the lock it needs)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
