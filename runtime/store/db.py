"""Engines and the few things that differ between SQLite and PostgreSQL.

Everything engine-specific lives here, so the query modules read the same on both:

- SQLite runs in WAL mode (readers never block the writer, so a second process can work
  alongside) with ``synchronous=FULL`` (a commit is on disk when it returns: a webhook is
  answered only after its delivery is durable) and a busy timeout (a writer waits for another
  instead of failing at once).
- SQLite write transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads
  and then writes can fail with "database is locked" without waiting, because its snapshot is
  stale; taking the write lock up front makes it queue behind the busy timeout instead.
- ``upsert`` hands out the dialect's ``INSERT .. ON CONFLICT`` construct (both engines support
  the same clause).
- The database's own errors (disk full, read-only, a corrupt file) leave the store as
  ``StoreUnavailable``, one line naming the database (see ``translate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from sqlalchemy import ColumnElement, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runtime.errors import ConfigurationError, RelayError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: The execution option that makes a SQLite transaction ``BEGIN IMMEDIATE``.
WRITE = "relay_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000
DATABASE_FILE = "relay.db"

#: Drivers relay uses for each backend when a URL names only the backend.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def default_data_dir() -> Path:
    """``$RELAY_HOME``, else the user's data directory (``platformdirs``, e.g.
    ``~/.local/share/relay``): never the current directory, so a command run elsewhere finds
    the same store."""
    home = os.environ.get("RELAY_HOME")
    return Path(home) if home else Path(platformdirs.user_data_dir("relay"))


class StoreUnavailable(RelayError):
    """The database cannot be used right now (disk full, read-only, moved, corrupt): nothing
    was written; the operator must look at the database named in the message. The server
    answers 503 with ``Retry-After`` instead of acknowledging."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        #: the database (file or masked URL) and what is wrong with it
        self.where = where
        self.reason = reason


#: SQLite result codes whose meaning is "the file is not (or no longer) a usable database".
_CORRUPT = ("not a database", "malformed", "corrupt")


def translate(exc: BaseException, where: str) -> StoreUnavailable | None:
    """The relay error for a database failure ``exc`` of the database ``where`` (one line), or
    ``None`` when ``exc`` is not one (constraint violations stay what they are: the store's
    callers handle those)."""
    orig = getattr(exc, "orig", None) or exc
    if type(orig).__module__.startswith("psycopg"):
        if isinstance(exc, OperationalError):
            return StoreUnavailable(where, f"the database is unavailable: {_first_line(orig)}")
        return None
    # not IntegrityError or ProgrammingError: a constraint or a bug is not the database's state
    failed = isinstance(orig, sqlite3.OperationalError | OSError)
    if not failed and type(orig) is not sqlite3.DatabaseError:
        return None
    text = _first_line(orig)
    if any(mark in text.lower() for mark in _CORRUPT):
        return StoreUnavailable(where, f"not a relay database or corrupt ({text})")
    return StoreUnavailable(where, f"the database cannot be written or read: {text}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resolve_url(url: str | None, data_dir: Path) -> URL:
    """The URL to connect to: the SQLite file in ``data_dir`` by default; plain ``sqlite://``
    and ``postgresql://`` URLs get relay's async driver."""
    if url is None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return make_url(f"sqlite+aiosqlite:///{data_dir / DATABASE_FILE}")
    try:
        parsed = make_url(url)
    except ArgumentError:  # the text is not echoed: it may hold a password
        raise ConfigurationError(
            "the database URL (RELAY_DATABASE_URL) is not a URL: use sqlite:///PATH or "
            "postgresql://USER@HOST[:PORT]/DATABASE"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r} in RELAY_DATABASE_URL: "
            "relay runs on SQLite or PostgreSQL"
        )
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def masked(url: URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def switch_to_wal(execute: Any) -> None:
    """``PRAGMA journal_mode=WAL`` through ``execute``, waiting out other writers.

    Switching a new (rollback-journal) database to WAL needs an exclusive lock. While another
    process holds the write lock (two processes opening a fresh store at once: one is already
    migrating), SQLite answers "database is locked" at once instead of calling the busy
    handler, because waiting could deadlock. So wait here, up to the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)  # at connect only, and only while another process writes


def create_engine(url: URL) -> AsyncEngine:
    """An async engine for ``url``, configured as the module docstring explains."""
    if url.get_backend_name() != "sqlite":
        # pre-ping: a worker idle across a database restart reconnects instead of failing once
        engine = create_async_engine(url, pool_pre_ping=True)
        _translating(engine, masked(url))
        return engine
    engine = create_async_engine(url)
    sync_engine = engine.sync_engine
    _translating(engine, url.database or masked(url))

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # stop the driver from issuing its own (deferred) BEGIN: ``_begin`` below does it
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        switch_to_wal(cursor.execute)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _translating(engine: AsyncEngine, where: str) -> None:
    """Raise ``StoreUnavailable`` in place of the driver's database failures on ``engine``."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _handle_error(context: Any) -> None:
        if context.is_pre_ping:
            return  # the pool reconnects: not a failure anyone sees
        found = translate(context.sqlalchemy_exception or context.original_exception, where)
        if found is not None:
            raise found from context.original_exception


class _Writer:
    """``writer(engine).begin()``: a write transaction. On SQLite, writers of one process also
    queue on an asyncio lock: SQLite admits one writer at a time anyway, and its busy handler
    waits by sleeping (up to 100 ms a turn), which under load costs far more than queueing."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(**{WRITE: True})
        self._lock = write_lock(engine) if engine.dialect.name == "sqlite" else None

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        if self._lock is None:
            async with self._engine.begin() as conn:
                yield conn
            return
        async with self._lock, self._engine.begin() as conn:
            yield conn


_WRITE_LOCKS: dict[tuple[int, int], asyncio.Lock] = {}


def write_lock(engine: AsyncEngine) -> asyncio.Lock:
    """The per-process lock every writer of ``engine`` on this event loop queues on (SQLite)."""
    key = (id(engine.sync_engine), id(asyncio.get_running_loop()))
    lock = _WRITE_LOCKS.get(key)
    if lock is None:
        lock = _WRITE_LOCKS[key] = asyncio.Lock()
    return lock


def writer(engine: AsyncEngine) -> _Writer:
    """Write transactions on ``engine``: SQLite's begin IMMEDIATE, queued per process."""
    return _Writer(engine)


def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    keys: list[str],
    *,
    where: ColumnElement[bool] | None = None,
) -> Any:
    """``INSERT values``, or on a conflict over ``keys`` update the other values (only where
    ``where`` holds): the dialect's ``ON CONFLICT .. DO UPDATE``, the same on both engines.
    Returns the key of a row inserted or updated (no row: the conflict was left alone)."""
    changes = {k: v for k, v in values.items() if k not in keys}
    stmt = _insert(conn, table, values).on_conflict_do_update(
        index_elements=keys, set_=changes, where=where
    )
    return stmt.returning(*table.primary_key.columns)


def upsert_many(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> Any:
    """``INSERT rows`` in one statement, each conflicting row over ``keys`` updated to the
    new values instead (``ON CONFLICT .. DO UPDATE SET col = excluded.col``)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(rows)
    changed = [name for name in rows[0] if name not in keys]
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in changed}
    )


def insert_new(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> Any:
    """``INSERT values .. ON CONFLICT DO NOTHING``, returning the key of an inserted row (no
    row: it existed). RETURNING, because psycopg reports no rowcount for these inserts."""
    stmt = _insert(conn, table, values).on_conflict_do_nothing()
    return stmt.returning(*table.primary_key.columns)


def _insert(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(values)
