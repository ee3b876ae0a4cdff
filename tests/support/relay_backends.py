"""The services relay runs on in tests, each fresh per test: a PostgreSQL schema, a Redis
namespace, and the two setups made of them (SQLite with the in-process executor; PostgreSQL
with Dramatiq workers on Redis). An absent service skips the test (fails under CI=true)."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_DSN = f"postgresql://root@{PG_HOST}:{PG_PORT}/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
SETUPS = ["sqlite+inprocess", "postgresql+dramatiq"]
#: Dramatiq's recovery timings shortened through the variables an operator would set: a worker
#: whose heartbeat is 2 s old counts as dead, every broker command runs queue maintenance, and
#: a claim lasts 3 s without renewal.
SHORT_RECOVERY = {
    "RELAY_HEARTBEAT_TIMEOUT": "2",
    "RELAY_MAINTENANCE_CHANCE": "1000000",
    "RELAY_LEASE": "3",
    "RELAY_MIN_BACKOFF": "0.2",
    "RELAY_WORKER_GRACE": "5",
}


def service_available(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent, except under CI, where absence is a failure."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(message)


def schema_url(schema: str, driver: str = "postgresql+psycopg") -> str:
    """A database URL whose search_path is ``schema``."""
    return f"{driver}://root@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """The name of a fresh, empty PostgreSQL schema, dropped afterwards."""
    import psycopg

    require_service("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"relay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    with fresh_schema() as schema:
        yield schema_url(schema)


@contextlib.contextmanager
def store_url(backend: str, directory: Path, sqlite: str = "sqlite+aiosqlite") -> Iterator[str]:
    """A URL for an empty store on ``backend``: ``"sqlite"``, a file in ``directory`` (URL
    scheme ``sqlite``); ``"postgresql"``, a fresh schema, dropped afterwards."""
    if backend == "sqlite":
        yield f"{sqlite}:///{directory / 'relay.db'}"
        return
    with postgres_schema() as url:
        yield url


def pg_rows(schema: str, sql: str) -> list[tuple[object, ...]]:
    """Rows read straight from PostgreSQL (no relay code in between)."""
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return list(conn.execute(sql).fetchall())


@contextlib.contextmanager
def fresh_redis_namespace() -> Iterator[str]:
    """A fresh Redis key prefix; every key under it is deleted afterwards."""
    import redis

    require_service("Redis", REDIS_HOST, REDIS_PORT)
    namespace = f"relay-test-{uuid.uuid4().hex[:12]}"
    try:
        yield namespace
    finally:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def redis_namespace() -> Iterator[dict[str, str]]:
    """Environment for a private Redis namespace and queue, with short recovery timings."""
    with fresh_redis_namespace() as namespace:
        yield {
            "RELAY_REDIS_URL": REDIS_URL,
            "RELAY_REDIS_NAMESPACE": namespace,
            "RELAY_QUEUE": f"q-{namespace}",
            **SHORT_RECOVERY,
        }


@contextlib.contextmanager
def setup_env(setup: str, home: Path) -> Iterator[dict[str, str]]:
    """The environment every relay process of ``setup`` shares (beyond ``RELAY_HOME``)."""
    if setup == "sqlite+inprocess":
        yield {}
        return
    with postgres_schema() as url, redis_namespace() as queue:
        yield {"RELAY_DATABASE_URL": url, **queue}
