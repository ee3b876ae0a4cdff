"""Figure 3, pagination: ``calendly.listEvents`` over 10,000 sandbox events (a one-step flow
through relay) vs a hand-written httpx loop with ``count=100`` following ``next_page_token``;
both against one sandbox on loopback. Memory: tracemalloc peak of each call vs the size of the
result it returns."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from typing import Any

import httpx

from bench.common import PYTHON, Figure, child_server, free_port, median, spread
from bench.fig_engine import relay_client_settings
from bench.flows import connection_values, list_events

TARGET = 1.10
EVENTS = 10_000


async def baseline_once(client: httpx.AsyncClient, info: dict[str, Any]) -> list[Any]:
    """The hand-written loop: 100 per page until ``next_page_token`` is null."""
    headers = {"Authorization": f"Bearer {info['token']}"}
    params: dict[str, Any] = {"organization": info["org_uri"], "count": 100}
    items: list[Any] = []
    while True:
        response = await client.get(
            f"{info['base_url']}/scheduled_events", params=params, headers=headers
        )
        response.raise_for_status()
        body = response.json()
        items.extend(body["collection"])
        token = body["pagination"]["next_page_token"]
        if not token:
            return items
        params["page_token"] = token


class Harness:
    def __init__(self, info: dict[str, Any]) -> None:
        from runtime import Runtime

        self.info = info
        self.runtime = Runtime()
        self.flow = self.runtime.load_flow_text(list_events(info["org_uri"]), "list-events.yaml")
        self.config = connection_values(info)
        self.client = httpx.AsyncClient(**relay_client_settings())

    async def relay_once(self) -> Any:
        result = await self.runtime.run(self.flow, config=self.config)
        if not result.ok:
            raise RuntimeError(f"relay run failed: {result.error}")
        return result

    async def baseline_once(self) -> list[Any]:
        return await baseline_once(self.client, self.info)

    async def close(self) -> None:
        await self.client.aclose()
        await self.runtime.aclose()


async def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = await fn()
    return time.perf_counter() - start, value


async def _traced(fn: Any) -> tuple[int, int, Any]:
    """(peak bytes during the call, bytes still held by what it returned, the value)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    value = await fn()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - before, current - before, value


async def measure(info: dict[str, Any], rounds: int) -> dict[str, Any]:
    h = Harness(info)
    try:
        result = await h.relay_once()
        items = await h.baseline_once()
        count = len(result.outputs["events"]["data"])
        if count != len(items):
            raise RuntimeError(f"relay listed {count} events, the loop {len(items)}")
        relay: list[float] = []
        base: list[float] = []
        for r in range(rounds):
            pair = [("relay", h.relay_once), ("base", h.baseline_once)]
            if r % 2:
                pair.reverse()
            for name, fn in pair:
                seconds, _ = await _timed(fn)
                (relay if name == "relay" else base).append(seconds)
        del result, items
        # memory: each side once, traced (tracemalloc slows both; it is not used for timing)
        r_peak, r_held, result = await _traced(h.relay_once)
        del result
        b_peak, b_held, items = await _traced(h.baseline_once)
        del items
        return {
            "count": count,
            "relay": relay,
            "base": base,
            "ratio": [a / b for a, b in zip(relay, base, strict=True)],
            "relay_peak": r_peak,
            "relay_held": r_held,
            "base_peak": b_peak,
            "base_held": b_held,
        }
    finally:
        await h.close()


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "the sandbox's own pages (both sides wait for the same 100 requests); relay's extra "
    "is the redaction check of the 10,000-item output and per-page client work."
)


def sandbox_server() -> Any:
    port = free_port()
    return child_server(
        [PYTHON, "-m", "bench.servers", "sandbox", str(port), str(EVENTS)], port, info=True
    )


def run(quick: bool) -> Figure:
    rounds = 4 if quick else 10
    with sandbox_server() as info:
        data = asyncio.run(measure(info, rounds))
    ratio = median(data["ratio"])
    mb = 1024 * 1024
    result_size = data["base_held"]
    rows = [
        (
            "events listed (pages of 100)",
            f"{data['count']:,} ({-(-data['count'] // 100)} requests)",
        ),
        ("relay, s per listing", spread(data["relay"])),
        ("httpx loop, s per listing", spread(data["base"])),
        ("ratio relay/httpx per round", spread(data["ratio"])),
        ("result size (what the httpx loop's list holds)", f"{result_size / mb:.1f} MiB"),
        (
            "relay: peak during the run / held by the ExecutionResult",
            f"{data['relay_peak'] / mb:.1f} MiB / {data['relay_held'] / mb:.1f} MiB "
            f"= {data['relay_peak'] / result_size:.2f}x / {data['relay_held'] / result_size:.2f}x the result",  # noqa: E501
        ),
        (
            "httpx loop: peak during the loop",
            f"{data['base_peak'] / mb:.1f} MiB = {data['base_peak'] / result_size:.2f}x the result",
        ),
        ("rounds", f"{rounds}, relay and httpx alternated"),
    ]
    line = (
        f"3 pagination: relay/httpx = {ratio:.3f} (rounds {min(data['ratio']):.3f}..{max(data['ratio']):.3f}; "  # noqa: E501
        f"{median(data['relay']):.3f} s vs {median(data['base']):.3f} s for {data['count']:,} events); "  # noqa: E501
        f"memory peak {data['relay_peak'] / result_size:.2f}x result (httpx loop {data['base_peak'] / result_size:.2f}x) "  # noqa: E501
        f"target <= {TARGET}"
    )
    return Figure(
        "pagination",
        "Pagination (listEvents over 10,000 events vs httpx loop, count=100)",
        line,
        rows,
        limits=LIMITS,
        ok=ratio <= TARGET,
    )
