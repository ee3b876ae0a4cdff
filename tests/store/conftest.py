"""Store fixtures: every store test runs on a SQLite file and on the real PostgreSQL.

Each PostgreSQL test gets a schema of its own (created here, dropped afterwards) selected via
``search_path`` in the URL, so parallel runs and leftovers never meet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from relay_backends import fresh_schema, store_url

from runtime.store import Keyring, Store, open_store
from runtime.store.groupcommit import GroupCommit
from runtime.store.grouped_writes import GroupCommitWrites

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (skips when PostgreSQL is absent, fails under CI)."""
    with fresh_schema() as schema:
        yield schema


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database on ``backend``."""
    with store_url(backend, tmp_path) as url:
        yield url


@pytest_asyncio.fixture
async def store(db_url: str, tmp_path: Path, keyring: Keyring) -> AsyncIterator[Store]:
    s = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    yield s
    await s.close()


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
