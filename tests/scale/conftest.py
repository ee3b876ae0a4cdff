"""Scale-out fixtures: the web tier in-process, ``relay worker`` as real OS processes.

Everything runs against the real PostgreSQL (a fresh schema per test) and the real Redis (a
fresh key namespace and queue per test). Dramatiq's recovery timings are shortened through the
same environment variables an operator would set: a worker whose heartbeat is 2 s old counts as
dead, every broker command runs queue maintenance, and a claim lasts 3 s without renewal.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
import redis
from relay_backends import (
    REDIS_URL,
    SHORT_RECOVERY,
    fresh_redis_namespace,
    postgres_schema,
)
from relay_processes import RELAY, relay_env
from relay_service_support import CONFIG, body, sign
from relay_waiting import until

from runtime import Runtime, Service, create_app, open_store
from runtime.executors.dramatiq import DramatiqExecutor, QueueSettings

if TYPE_CHECKING:
    from runtime.store import Keyring


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL for a fresh PostgreSQL schema (skips without PostgreSQL, fails under CI)."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A fresh Redis key namespace, deleted afterwards (skips without Redis, fails under CI)."""
    with fresh_redis_namespace() as namespace:
        yield namespace


class Cluster:
    """The web tier (app + Dramatiq executor, in this process) and its worker processes."""

    def __init__(
        self, home: Path, env: dict[str, str], relay: Service, executor: DramatiqExecutor
    ) -> None:
        self.home = home
        self.env = env
        self.relay = relay
        self.executor = executor
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(relay, executor)),
            base_url="http://relay.test",
        )
        self.queue = QueueSettings.from_env(env)
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def store(self) -> Any:
        return self.relay.store

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """``relay worker ARGS`` with this cluster's environment (plus ``env``)."""
        return self.start("worker", *args, **env)

    def start(self, command: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """``relay COMMAND ARGS`` as a process of this cluster (stopped at the end)."""
        log = open(self.home / f"{command}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [RELAY, command, *args], env={**self.env, **env}, stdout=log, stderr=log
        )
        self.processes.append(process)
        return process

    def worker_logs(self) -> str:
        logs = sorted(self.home.glob("*.log"))
        return "\n".join(f"{p.name}: {p.read_text(errors='replace')[-2000:]}" for p in logs)

    async def wait_for_brokers(self, count: int) -> None:
        """Until ``count`` worker processes have talked to Redis (they heartbeat on fetch)."""
        key = f"{self.queue.namespace}:__heartbeats__"

        async def ready() -> bool:
            return int(await asyncio.to_thread(self.redis.zcard, key)) >= count

        await until(ready, f"{count} worker process(es) polling Redis")

    async def deploy(self, flow: str, name: str, config: dict[str, Any] | None = None) -> str:
        path = self.home / f"{name}.yaml"
        path.write_text(flow)
        if config is None:  # flows made from the plain one take its webhook secret
            config = dict(CONFIG) if "config.hookSecret" in flow else {}
        instance = await self.relay.deploy(path, config, name)
        return "/webhooks/" + instance.webhook_token

    async def post(self, url: str, n: int, pause: float = 0.0) -> httpx.Response:
        """One signed delivery, named by its number (``Idempotency-Key``): the same number
        again is a duplicate."""
        payload = body(n, pause)
        headers = {**sign(payload), "Idempotency-Key": f"n-{n}"}
        return await self.client.post(url, content=payload, headers=headers)

    async def all_finished(self, count: int, instance: str | None = None) -> list[Any]:
        """Until ``count`` executions of ``instance`` exist and all are finished."""

        async def finished() -> list[Any] | None:
            rows = await self.store.list_executions(instance=instance, limit=10_000)
            done = [r for r in rows if r.status in ("completed", "failed", "canceled")]
            return rows if len(rows) == count and len(done) == count else None

        try:
            rows: list[Any] = await until(finished, f"{count} finished executions")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nworker logs:\n{self.worker_logs()}") from None
        return rows

    async def queue_drained(self) -> None:
        """Until no message of the queue (ready, delayed or unacknowledged) is left in Redis."""
        ns, queue = self.queue.namespace, self.queue.queue
        hashes = [f"{ns}:{queue}.msgs", f"{ns}:{queue}.DQ.msgs"]

        async def drained() -> bool:
            sizes = [await asyncio.to_thread(self.redis.hlen, h) for h in hashes]
            return sum(sizes) == 0

        await until(drained, "the queue to drain")

    async def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        await self.client.aclose()
        self.redis.close()


@pytest.fixture
def cluster_env(
    tmp_path: Path, pg_url: str, redis_namespace: str, keyring: Keyring
) -> dict[str, str]:
    """What every process of one test's deployment shares, as an operator would set it."""
    return relay_env(
        tmp_path,
        RELAY_DATABASE_URL=pg_url,
        RELAY_SECRET_KEYS=keyring.keys[0],
        RELAY_REDIS_URL=REDIS_URL,
        RELAY_REDIS_NAMESPACE=redis_namespace,
        RELAY_QUEUE=f"q-{redis_namespace}",
        **SHORT_RECOVERY,
    )


@pytest_asyncio.fixture
async def cluster(
    tmp_path: Path, cluster_env: dict[str, str], pg_url: str, keyring: Keyring
) -> AsyncIterator[Cluster]:
    store = await open_store(pg_url, data_dir=tmp_path, keyring=keyring)
    runtime = Runtime()
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = DramatiqExecutor(relay, QueueSettings.from_env(cluster_env))
    await executor.start()
    cluster = Cluster(tmp_path, cluster_env, relay, executor)
    try:
        yield cluster
    finally:
        await cluster.close()
        await executor.shutdown(1)
        await relay.aclose()
        await runtime.aclose()
        await store.close()
