"""The two setups relay runs on, for tests parametrised over both: SQLite with the in-process
executor, and PostgreSQL with Dramatiq workers on Redis. Each test gets a fresh PostgreSQL
schema and a fresh Redis namespace; absent services skip (fail under CI=true)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_DSN = f"postgresql://root@{PG_HOST}:{PG_PORT}/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
SETUPS = ["sqlite+inprocess", "postgresql+dramatiq"]


def require(name: str, host: str, port: int) -> None:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError:
        message = f"{name} is not reachable on {host}:{port}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (required under CI=true)")
        pytest.skip(message)


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    require("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"relay_setup_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://root@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def redis_namespace() -> Iterator[dict[str, str]]:
    """Environment for a private Redis namespace and queue, with short recovery timings."""
    import redis

    require("Redis", REDIS_HOST, REDIS_PORT)
    namespace = f"relay-setup-{uuid.uuid4().hex[:12]}"
    try:
        yield {
            "RELAY_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "RELAY_REDIS_NAMESPACE": namespace,
            "RELAY_QUEUE": f"q-{namespace}",
            "RELAY_HEARTBEAT_TIMEOUT": "2",
            "RELAY_MAINTENANCE_CHANCE": "1000000",
            "RELAY_LEASE": "3",
            "RELAY_MIN_BACKOFF": "0.2",
            "RELAY_WORKER_GRACE": "5",
        }
    finally:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def setup_env(setup: str, home: Path) -> Iterator[dict[str, str]]:
    """The environment every relay process of ``setup`` shares (beyond ``RELAY_HOME``)."""
    if setup == "sqlite+inprocess":
        yield {}
        return
    with postgres_schema() as url, redis_namespace() as queue:
        yield {"RELAY_DATABASE_URL": url, **queue}
