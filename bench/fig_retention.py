"""Figure 10, retention under load: webhook ingest into ``relay serve`` whose store holds a
million finished executions (``bench.big_store``), with ``RELAY_RETENTION`` pruning most of
them while the deliveries arrive, vs the same store and server with no policy; on SQLite and
on PostgreSQL. Each side has its own copy of the store and server: bursts without a policy,
then bursts while pruning; then the pruning side's server is left running until the store
holds what the policy keeps (no more, and never less), and the time that took is reported."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.big_store import MILLION, fill
from bench.common import Figure, child_server, free_port, median, spread
from bench.fig_ingest import FLOW, RELAY, SECRET, deliveries, generate
from bench.fig_workers import PG, _reachable, _schema

#: What the pruning side's policy deletes: completed executions older than a week (~70% of
#: the seeded history, which spans ~23 days); failed ones are kept for the month.
POLICY = "completed=7d,failed=30d"
TARGET = 0.80
ROUNDS, COUNT, CONNECTIONS, SECONDS = 2, 3000, 32, 8.0
#: Seconds the pruning side's server is given to prune the store to its policy.
SETTLE = 900.0
#: The policy's ages, as ``_kept_by_policy`` counts them.
AGES = {"completed": 7 * 86400.0, "failed": 30 * 86400.0}


async def _seed(home: Path, url: str | None) -> str:
    """Deploy the ingest flow into the store at ``url`` (``None``: SQLite in ``home``) and
    fill it; the webhook path."""
    from runtime import Runtime, Service, open_store

    flow = home / "ingest.yaml"
    flow.write_text(FLOW)
    store = await open_store(url, data_dir=home)
    runtime = Runtime()
    try:
        instance = await Service(runtime, store).deploy(flow, {"hookSecret": SECRET}, "ingest")
        await fill(store)
    finally:
        await runtime.aclose()
        await store.close()
    return f"/webhooks/{instance.webhook_token}"


async def _remaining(home: Path, url: str | None) -> int:
    """Finished executions left in the store."""
    from sqlalchemy import text

    from runtime import open_store

    store = await open_store(url, data_dir=home)
    try:
        async with store.engine.connect() as conn:
            query = "SELECT count(*) FROM executions WHERE instance LIKE 'bench-%'"
            return int((await conn.execute(text(query))).scalar_one())
    finally:
        await store.close()


async def _kept_by_policy(home: Path, url: str | None, now: float) -> int:
    """The seeded executions ``POLICY`` keeps at ``now``."""
    from sqlalchemy import text

    from runtime import open_store

    store = await open_store(url, data_dir=home)
    try:
        async with store.engine.connect() as conn:
            query = (
                "SELECT count(*) FROM executions WHERE instance LIKE 'bench-%' AND NOT ("
                "(status = 'completed' AND finished_at < :completed) OR "
                "(status = 'failed' AND finished_at < :failed))"
            )
            cutoffs = {name: now - age for name, age in AGES.items()}
            return int((await conn.execute(text(query), cutoffs)).scalar_one())
    finally:
        await store.close()


@contextlib.contextmanager
def _server(home: Path, url: str | None, policy: str | None) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env["RELAY_HOME"] = str(home)
    if url is not None:
        env["RELAY_DATABASE_URL"] = url
    if policy is not None:
        env["RELAY_RETENTION"] = policy
    with child_server([RELAY, "serve", "--port", str(port)], port, env=env, cwd=home):
        yield port


def _burst(port: int, path: str, round_no: int) -> float:
    outcome = asyncio.run(
        generate(port, deliveries(path, round_no, COUNT), CONNECTIONS, SECONDS, False)
    )
    return outcome.count(202) / outcome.elapsed


def _side(
    home: Path, url: str | None, path: str, policy: str | None, first: int
) -> tuple[list[float], float | None]:
    """Accepted/s of each burst on one server (the executions of a burst finish, a pause,
    before the next) and, with a ``policy``, the seconds from the server's start until the
    store holds what the policy keeps (``None``: not within ``SETTLE``)."""
    rates = []
    started = time.time()
    with _server(home, url, policy) as port:
        began = time.perf_counter()
        asyncio.run(generate(port, deliveries(path, -1 - first, 200), 8, 30, False))
        for r in range(ROUNDS):
            rates.append(_burst(port, path, first + r))
            time.sleep(3)
        if policy is None:
            return rates, None
        # what the policy kept when the server started: its first round deletes the rest
        target = asyncio.run(_kept_by_policy(home, url, started))
        while time.perf_counter() - began < SETTLE:
            if asyncio.run(_remaining(home, url)) <= target:
                settled = time.perf_counter() - began
                floor = asyncio.run(_kept_by_policy(home, url, time.time()))
                if asyncio.run(_remaining(home, url)) < floor:
                    raise RuntimeError("retention deleted executions its policy keeps")
                return rates, settled
            time.sleep(2)
    return rates, None


def _engine(url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="relay-bench-retention-") as tmp:
        pruned_home, kept_home = Path(tmp) / "pruned", Path(tmp) / "kept"
        pruned_home.mkdir()
        if url is None:
            path = asyncio.run(_seed(pruned_home, None))
            shutil.copytree(pruned_home, kept_home)
            kept_url = pruned_url = None
        else:
            kept_url, pruned_url = url.format("kept"), url.format("pruned")
            kept_home.mkdir()
            path = asyncio.run(_seed(pruned_home, pruned_url))
            kept_path = asyncio.run(_seed(kept_home, kept_url))
        if url is None:
            kept_path = path  # a copy of the same store: the same webhook token
        before = asyncio.run(_remaining(pruned_home, pruned_url))
        baseline, _ = _side(kept_home, kept_url, kept_path, None, 0)
        pruning, settled = _side(pruned_home, pruned_url, path, POLICY, 100)
        after = asyncio.run(_remaining(pruned_home, pruned_url))
    return {
        "baseline": baseline,
        "pruning": pruning,
        "before": before,
        "after": after,
        "settled": settled,
    }


def run(quick: bool) -> Figure:
    del quick
    results = {"SQLite": _engine(None)}
    if _reachable(PG):
        prefix = f"relay_bench_{uuid.uuid4().hex[:10]}"
        sides = [f"{prefix}_kept", f"{prefix}_pruned"]
        for schema in sides:
            _schema("CREATE", schema)
        try:
            template = (
                f"postgresql+psycopg://root@{PG[0]}:{PG[1]}/test"
                f"?options=-csearch_path%3D{prefix}_{{}}"
            )
            results["PostgreSQL"] = _engine(template)
        finally:
            for schema in sides:
                _schema("DROP", schema)
    rows: list[tuple[str, str]] = []
    worst = 1.0
    for engine, got in results.items():
        ratios = [p / b for p, b in zip(got["pruning"], got["baseline"], strict=True)]
        worst = min(worst, median(ratios))
        rows += [
            (f"{engine}: accepted/s, no policy", spread(got["baseline"], 0)),
            (f"{engine}: accepted/s, pruning ({POLICY})", spread(got["pruning"], 0)),
            (f"{engine}: pruning / no policy", spread(ratios, 3)),
            (
                f"{engine}: seeded executions left / seconds from start to the policy",
                f"{got['after']:,} of {got['before']:,} / "
                + ("not reached" if got["settled"] is None else f"{got['settled']:.0f} s"),
            ),
        ]
    line = (
        f"10 retention under ingest: accepted/s while pruning a {MILLION:,}-execution store / "
        f"without a policy, worst {worst:.3f} over {', '.join(results)}; target >= {TARGET}"
    )
    return Figure(
        "retention",
        f"Retention pruning a {MILLION:,}-execution store during webhook ingest",
        line,
        rows,
        limits=(
            "the pruner deletes 500 executions a transaction and pauses so that its batches "
            "take at most a tenth of the time (runtime.server.pruning.SHARE): the store's "
            "CPU and, on SQLite, the one write lock the group commit needs are mostly ingest's; "
            "a busier store is pruned more slowly"
        ),
        ok=worst >= TARGET
        and "PostgreSQL" in results
        and all(got["settled"] is not None for got in results.values()),
    )
