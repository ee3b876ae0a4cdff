"""Figure 1, engine overhead: a 10-step Calendly flow through relay vs a hand-written httpx
script making the same 10 requests, both against one sandbox served by uvicorn on loopback
(in a child process), with the same client settings.

relay's pooled client keeps no cookies (one pool serves many users; see
``runtime.transport.PooledClient``), and skipping httpx's cookie jar is most of what makes it
cheaper than a default client. So the headline script uses the same settings (timeout, pool
limits, no cookie jar), and a second script with httpx's defaults (cookie jar on) is measured
in the same pairs, to show what a script written without that setting costs."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from attrs import define

from bench.common import PYTHON, Figure, child_server, free_port, median, spread
from bench.flows import connection_values, ten_gets

TARGET = 1.10
#: steps in the figure's flow (each leaves one checkpoint)
STEPS = 10


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "relay's own code between one request and the next (input rendering and validation, the "
    "step's context and record, the action and its client), run with cold caches after each "
    "network wait: 5-12x its cost in a hot loop, so the gap widens when the machine is busy "
    "or has been idle (1 ms of idle before each run costs relay 0.7-1.3 ms, the script less "
    "than 0.3 ms). relay sends on its pooled client's router directly, without "
    "AsyncClient.send's four frames, so its own requests resume fewer frames than the "
    "script's. The flow's steps are reads: their checkpoints are written behind "
    "(WRITE_BEHIND) and the run ends first, so none is committed (the outcome records every "
    "step); a step that changes something waits for its commit."
)


def relay_client_settings() -> dict[str, Any]:
    """What ``runtime.transport.shared_client`` configures (timeout 30 s, 100/20 connections)."""
    return {
        "timeout": 30.0,
        "limits": httpx.Limits(max_connections=100, max_keepalive_connections=20),
    }


def same_settings_client() -> httpx.AsyncClient:
    """The script's client with relay's settings: timeout, pool limits and no cookie jar."""
    from runtime.transport import PooledClient

    return PooledClient(**relay_client_settings())


async def baseline_once(
    client: httpx.AsyncClient, base: str, token: str, paths: list[str]
) -> list[Any]:
    """The hand-written script: 10 GETs in order, bearer token, status checked, JSON parsed."""
    out = []
    headers = {"Authorization": f"Bearer {token}"}
    for path in paths:
        response = await client.get(base + path, headers=headers)
        response.raise_for_status()
        out.append(response.json())
    return out


@define
class _StoreSink:
    """Checkpoints into the store under the run's claim, as ``runtime.running`` writes them."""

    store: Any
    execution_id: str
    holder: Any

    async def save(self, checkpoints: Any) -> bool:
        saved: bool = await self.store.save_checkpoints(self.execution_id, self.holder, checkpoints)
        return saved


class Harness:
    def __init__(self, info: dict[str, Any]) -> None:
        from runtime import Runtime

        self.info = info
        self.runtime = Runtime()
        text, self.paths = ten_gets(info)
        self.flow = self.runtime.load_flow_text(text, "ten-gets.yaml")
        self.config = connection_values(info)
        self.client = same_settings_client()
        self.default_client = httpx.AsyncClient(**relay_client_settings())
        self.text = text
        self.store: Any = None
        self._claimed: list[tuple[str, Any, int]] = []
        self._directory = tempfile.TemporaryDirectory(prefix="relay-bench-")

    async def open_store(self) -> None:
        """A SQLite file store (group commit on, as ``relay serve`` opens it)."""
        from runtime import open_store

        self.store = await open_store(None, data_dir=Path(self._directory.name))

    async def claim_ahead(self, count: int) -> None:
        """Record and claim ``count`` executions for ``durable_once`` (not timed: figure 2
        measures them). Done before a round, not before each run: a run right after a commit
        starts from the idle of its fsync, with cold caches, which the other sides do not."""
        for _ in range(count):
            execution_id = await self.store.create_execution(None, self.text, 1, {})
            row = await self.store.claim_execution(execution_id, "bench", 300.0)
            self._claimed.append((execution_id, row.holder, row.attempts))

    async def durable_once(self) -> float:
        """The flow on the store with its checkpoints, as the Runner runs a claimed execution
        (one claimed by ``claim_ahead``); only the run with its checkpoints and their commits
        is timed. Returns the run's seconds."""
        from runtime.checkpoints import Checkpointer

        execution_id, holder, claim = self._claimed.pop()
        sink = _StoreSink(self.store, execution_id, holder)
        start = time.perf_counter()
        result = await self.runtime.run(
            self.flow,
            config=self.config,
            execution_id=execution_id,
            checkpoints=Checkpointer(sink=sink, claim=claim),
        )
        elapsed = time.perf_counter() - start
        if not result.ok:
            raise RuntimeError(f"relay run failed: {result.error}")
        return elapsed

    async def relay_once(self) -> None:
        result = await self.runtime.run(self.flow, config=self.config)
        if not result.ok:
            raise RuntimeError(f"relay run failed: {result.error}")

    async def baseline_once(self) -> None:
        await baseline_once(self.client, self.info["base_url"], self.info["token"], self.paths)

    async def default_once(self) -> None:
        """The same script on a default httpx client (cookie jar on)."""
        await baseline_once(
            self.default_client, self.info["base_url"], self.info["token"], self.paths
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.default_client.aclose()
        await self.runtime.aclose()
        if self.store is not None:
            await self.store.close()
        self._directory.cleanup()


async def _timed(fn: Any) -> float:
    """``fn``'s seconds (or those it measured itself, when it returns them)."""
    start = time.perf_counter()
    own = await fn()
    return own if isinstance(own, float) else time.perf_counter() - start


async def measure(info: dict[str, Any], rounds: int, per_round: int) -> dict[str, list[float]]:
    """``rounds`` rounds of ``per_round`` sets; within a set relay (in memory and on the store)
    and both scripts run back to back in a shuffled order (seeded: the same each run), so drift
    in the machine's load hits every side alike and each side follows each other side about as
    often. A round's figure is each side's median execution time; its ratios are relay/script."""
    h = Harness(info)
    await h.open_store()
    sides = {
        "relay": h.relay_once,
        "base": h.baseline_once,
        "default": h.default_once,
        "durable": h.durable_once,
    }
    names = list(sides)
    shuffler = random.Random(15)
    try:
        await h.claim_ahead(20)
        for _ in range(20):  # warm every path: connections, caches, sandbox
            for fn in sides.values():
                await fn()
        medians: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            await h.claim_ahead(per_round)
            times: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(per_round):
                # shuffled, not rotated: rotating keeps each side's predecessor the same, and
                # a run after one of relay's own runs starts with relay's code in the caches
                order = shuffler.sample(names, len(names))
                for name in order:
                    times[name].append(await _timed(sides[name]))
            for name in names:
                medians[name].append(median(times[name]))
        return {
            **medians,
            "ratio": [a / b for a, b in zip(medians["relay"], medians["base"], strict=True)],
            "ratio_default": [
                a / b for a, b in zip(medians["relay"], medians["default"], strict=True)
            ],
            "ratio_durable": [
                a / b for a, b in zip(medians["durable"], medians["base"], strict=True)
            ],
            "checkpoint_us": [
                (a - b) / STEPS * 1e6
                for a, b in zip(medians["durable"], medians["relay"], strict=True)
            ],
        }
    finally:
        await h.close()


def sandbox_server(events: int) -> tuple[Any, int]:
    port = free_port()
    return child_server(
        [PYTHON, "-m", "bench.servers", "sandbox", str(port), str(events)], port, info=True
    ), port


def run(quick: bool) -> Figure:
    rounds, per_round = (3, 30) if quick else (9, 100)
    server, _ = sandbox_server(200)
    with server as info:
        data = asyncio.run(measure(info, rounds, per_round))
    ratio = median(data["ratio"])
    rows = [
        ("relay, ms per 10-step execution", spread([x * 1000 for x in data["relay"]], 2)),
        (
            "httpx script, relay's client settings, ms per 10 requests",
            spread([x * 1000 for x in data["base"]], 2),
        ),
        ("ratio relay/script per round (the figure)", spread(data["ratio"])),
        (
            "httpx script, httpx defaults (cookie jar on), ms per 10 requests",
            spread([x * 1000 for x in data["default"]], 2),
        ),
        ("ratio relay/default-client script per round", spread(data["ratio_default"])),
        (
            "relay on a SQLite store, checkpoints on (as the Runner runs it), ms per execution",
            spread([x * 1000 for x in data["durable"]], 2),
        ),
        ("ratio checkpoints-on relay/script per round (issue 15)", spread(data["ratio_durable"])),
        (
            "a checkpoint's cost per step, us ((on - off) / 10 steps)",
            spread(data["checkpoint_us"], 1),
        ),
        (
            "rounds x sets",
            f"{rounds} x {per_round} (relay in memory, relay on the store and both scripts"
            " back to back, order shuffled)",
        ),
    ]
    line = (
        f"1 engine overhead: relay/httpx = {ratio:.3f} (rounds {min(data['ratio']):.3f}..{max(data['ratio']):.3f}; "  # noqa: E501
        f"{median(data['relay']) * 1000:.2f} ms vs {median(data['base']) * 1000:.2f} ms per 10 GETs; "  # noqa: E501
        f"vs a default httpx client {median(data['ratio_default']):.3f}) target <= {TARGET}; "
        f"checkpoints on: {median(data['ratio_durable']):.3f} "
        f"({median(data['checkpoint_us']):.0f} us a checkpoint) target <= {TARGET}"
    )
    return Figure(
        "engine",
        "Engine overhead (10-step Calendly flow vs httpx script, sandbox on loopback)",
        line,
        rows,
        limits=LIMITS,
        ok=ratio <= TARGET and median(data["ratio_durable"]) <= TARGET,
    )
