"""Store fixtures: every store test runs on a SQLite file and on the real PostgreSQL.

Each PostgreSQL test gets a schema of its own (created here, dropped afterwards) selected via
``search_path`` in the URL, so parallel runs and leftovers never meet.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio

from runtime.store import Keyring, Store, open_store
from runtime.store.groupcommit import GroupCommit
from runtime.store.grouped_writes import GroupCommitWrites

from ..conftest import require_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_DSN = f"postgresql://root@{PG_HOST}:{PG_PORT}/test"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pg_schema_url(schema: str, driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://root@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (skips when PostgreSQL is absent, fails under CI)."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"relay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL for an empty database on ``backend``."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    return pg_schema_url(request.getfixturevalue("pg_schema"))


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest_asyncio.fixture
async def store(db_url: str, tmp_path: Path, keyring: Keyring) -> AsyncIterator[Store]:
    s = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    yield s
    await s.close()


def pg_rows(schema: str, sql: str) -> list[tuple[object, ...]]:
    """Rows read straight from PostgreSQL (no relay code in between)."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return list(conn.execute(sql).fetchall())


def group_of(store: Store) -> GroupCommit | None:
    """The group commit ``store`` writes its hot path through (``None``: it writes through
    SQLAlchemy)."""
    writes = store.writes
    return writes.group if isinstance(writes, GroupCommitWrites) else None


FLOW = "name: Booking follow-up\ntrigger: {webhook: {}}\nsteps: []\n"


async def make_instance(store: Store, name: str = "acme", token: str | None = None) -> None:
    await store.create_instance(
        name,
        "Booking follow-up",
        "flows/booking.yaml",
        FLOW,
        {"organization": "org-1"},
        token or f"hook-{name}",
    )
