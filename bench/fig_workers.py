"""Figure 6, scale-out: executions per second with 1 and 2 ``relay worker`` processes.

The store is PostgreSQL (a fresh schema on 127.0.0.1:5432), the queue Redis (127.0.0.1:6379,
a fresh namespace). N executions of a one-step flow are recorded, the workers are started and
warmed up on one execution, then all N ids are enqueued at once; the rate is N over the time
from the first enqueue to the last finished execution in the store. The ratio 2 workers / 1
worker says how much a second process adds on this machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import PYTHON, Figure, fmt_rate, median, spread

PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
#: The flow's concurrency is above the workers' 16 threads: the figure measures scale-out, not
#: the limit (with the default 10, threads wait for slots; see BENCHMARKS.md).
FLOW = """\
name: bench workers
concurrency: 100
steps:
  - id: answer
    action: relay.value
    inputs:
      value: ${{ trigger.n }}
"""
RELAY = str(Path(PYTHON).parent / "relay")


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _schema(action: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://root@{PG[0]}:{PG[1]}/test", autocommit=True) as conn:
        conn.execute(f'{action} SCHEMA "{name}"' + (" CASCADE" if action == "DROP" else ""))


async def _one_run(processes: int, count: int) -> float:
    """Executions per second completed by ``processes`` worker processes."""
    from runtime import Runtime, Service, open_store
    from runtime.executors.dramatiq import DramatiqExecutor, QueueSettings
    from runtime.store import Keyring

    schema = f"relay_bench_{uuid.uuid4().hex[:10]}"
    namespace = f"relay-bench-{uuid.uuid4().hex[:10]}"
    _schema("CREATE", schema)
    home = Path(tempfile.mkdtemp(prefix="relay-bench-workers-"))
    keyring = Keyring.generate()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
        "RELAY_HOME": str(home),
        "RELAY_DATABASE_URL": (
            f"postgresql+psycopg://root@{PG[0]}:{PG[1]}/test?options=-csearch_path%3D{schema}"
        ),
        "RELAY_SECRET_KEYS": keyring.keys[0],
        "RELAY_REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "RELAY_REDIS_NAMESPACE": namespace,
        "RELAY_QUEUE": f"q-{namespace}",
    }
    store = await open_store(env["RELAY_DATABASE_URL"], data_dir=home, keyring=keyring)
    runtime = Runtime()
    relay = Service(runtime, store)
    flow = home / "flow.yaml"
    flow.write_text(FLOW)
    instance = await relay.deploy(flow, {}, "bench")
    settings = QueueSettings.from_env(env)
    executor = DramatiqExecutor(relay, settings)
    await executor.start()
    worker = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed part; Popen does not wait
        [RELAY, "worker", "--processes", str(processes), "--threads", "8"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def record(n: int) -> str:
            return await store.create_execution(
                instance.name, instance.flow_text, instance.flow_version, {"n": n}
            )

        warm = await record(-1)
        await executor.submit(warm, instance.name)
        await _until_done(store, [warm], 120)
        ids = [await record(n) for n in range(count)]
        start = time.perf_counter()
        for execution_id in ids:
            await executor.submit(execution_id, instance.name)
        await _until_done(store, ids, 300)
        return count / (time.perf_counter() - start)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await executor.shutdown(1)
        await runtime.aclose()
        await store.close()
        _schema("DROP", schema)
        _drop_keys(namespace)


def _drop_keys(namespace: str) -> None:
    """Remove the run's Redis keys (Dramatiq leaves its heartbeat set behind)."""
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    try:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def _until_done(store: Any, ids: list[str], timeout: float) -> None:  # noqa: ASYNC109 - the figure fails past it, not cancels
    """Poll with one count (reading the rows back would cost this process, which shares the
    two cores with the workers, more CPU than the workers spend running them)."""
    from sqlalchemy import bindparam, text

    query = text(
        "SELECT count(*) FROM executions WHERE status = 'completed' AND id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with store.engine.connect() as conn:
            done = await conn.scalar(query, {"ids": ids})
        if done == len(ids):
            return
        await asyncio.sleep(0.05)  # polling the store with a deadline
    raise RuntimeError(f"executions not finished within {timeout:.0f} s")


def run(quick: bool) -> Figure:
    title = "Scale-out executions per second (relay worker on PostgreSQL + Redis)"
    services = (("PostgreSQL", PG), ("Redis", REDIS))
    missing = [name for name, address in services if not _reachable(address)]
    if missing:
        line = f"6 workers: not measured ({' and '.join(missing)} not reachable)"
        return Figure("workers", title, line, [], "services absent", None)
    count, rounds = (150, 1) if quick else (400, 3)
    one: list[float] = []
    two: list[float] = []
    for _ in range(rounds):  # alternate 1 and 2 processes so drift hits both
        one.append(asyncio.run(_one_run(1, count)))
        two.append(asyncio.run(_one_run(2, count)))
    ratios = [b / a for a, b in zip(one, two, strict=True)]
    line = (
        f"6 workers: 2 processes / 1 process = {median(ratios):.2f} "
        f"(executions: {fmt_rate(median(two))} vs {fmt_rate(median(one))})"
    )
    rows = [
        ("1 worker process (8 threads), executions/s", spread(one, 0)),
        ("2 worker processes (8 threads each), executions/s", spread(two, 0)),
        ("ratio 2/1", spread(ratios, 2)),
        ("executions per run / rounds", f"{count} / {rounds}"),
    ]
    limits = (
        "Two cores are shared by the workers, PostgreSQL, Redis and this process; each "
        "execution is a claim and a finish in PostgreSQL plus Redis round trips (the message, "
        "the flow's concurrency slot). py-spy --gil (2026-11-24 08:00): one worker's event loop "
        "holds the GIL ~48% of the time, waiting on those round trips with 8 in flight."
    )
    return Figure("workers", title, line, rows, limits, None)
