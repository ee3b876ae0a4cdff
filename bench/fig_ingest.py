"""Figure 2, webhook ingest: signed deliveries per second durably accepted by ``relay serve``
(uvicorn, SQLite store, a one-step flow with a plain webhook trigger) and executions per second
completed, vs a bare Starlette+uvicorn endpoint that only verifies the HMAC and answers 202.
Latency from delivery (the generator's send) to the first step's start (the execution record),
both for the bursts (where it is mostly the backlog draining) and for a steady arrival rate
well under capacity (what one delivery waits when relay keeps up). A second ``relay serve``
with ``--no-api``, its bursts alternated with the first's, shows what mounting the management
API costs ingest.

Every server is a child process on 127.0.0.1; the load generator (``bench.loadgen``) runs in
this process and is first run against a null server to show its own ceiling."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.common import (
    PYTHON,
    Figure,
    child_server,
    fmt_rate,
    free_port,
    median,
    percentile,
    spread,
)

SECRET = "bench-ingest-secret"
FLOW = """\
name: bench ingest
config:
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: answer
    action: relay.value
    inputs:
      value: ${{ trigger.body.n }}
"""
TARGET_SHARE, TARGET_ACCEPTED, TARGET_EXECUTIONS = 0.5, 1000.0, 500.0
#: The steady run: deliveries per second and for how long (well under what one process takes).
STEADY_RATE, STEADY_SECONDS = 200.0, 10.0
RELAY = str(Path(PYTHON).parent / "relay")


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "one process does both jobs: accepting (uvicorn/h11, which the bare endpoint pays too, "
    "verification, the group-committed SQLite write) and running the executions on the same "
    "event loop. The bare endpoint is CPU-bound; relay is bound by the commit cycle: py-spy "
    "--gil during a 64-connection burst (2026-11-24 07:45) has the main thread holding the GIL "
    "~58% of the time (about half of that in uvicorn), and a batch (~33 operations) takes ~5 ms "
    "from start to callers resumed: statements ~0.5 ms on the loop, COMMIT with its fsync ~1-2 "
    "ms on the commit thread, the rest waiting for loop turns. Each delivery waits for one "
    "batch, and each execution for two (claim, finish) at the flow's concurrency of 10. p50 "
    "delivery->first step in a burst is the backlog draining."
)


def deliveries(path: str, round_no: int, count: int) -> list[bytes]:
    """``count`` distinct signed deliveries (distinct bodies: relay de-duplicates by body)."""
    out = []
    for n in range(count):
        body = json.dumps(
            {
                "event": "bench.delivery",
                "round": round_no,
                "n": n,
                "payload": {
                    "uri": f"https://example.invalid/things/{round_no}-{n}",
                    "note": "x" * 120,
                },
            }
        ).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append(
            loadgen.request(
                path,
                body,
                {
                    "content-type": "application/json",
                    "x-relay-signature": f"sha256={digest}",
                },
            )
        )
    return out


async def deploy(home: Path) -> str:
    from runtime import Runtime, Service, open_store

    flow = home / "ingest.yaml"
    flow.write_text(FLOW)
    store = await open_store(None, data_dir=home)
    runtime = Runtime()
    try:
        instance = await Service(runtime, store).deploy(flow, {"hookSecret": SECRET}, "ingest")
        return f"/webhooks/{instance.webhook_token}"
    finally:
        await runtime.aclose()
        await store.close()


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'relay.db'}?mode=ro", uri=True, timeout=30)


def wait_finished(home: Path, ids: set[str], timeout: float) -> float:
    """Wait until every execution in ``ids`` is finished; returns seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with _db(home) as db:
            rows = db.execute(
                "SELECT count(*) FROM executions WHERE status IN ('pending', 'running')"
            ).fetchone()
        if rows[0] == 0:
            break
        time.sleep(0.2)
    return time.perf_counter() - start


def execution_stats(home: Path, sent: dict[str, float]) -> dict[str, Any]:
    """From the store: completed executions, their rate from first send to last finish, and
    delivery -> first step start latencies."""
    with _db(home) as db:
        rows = (
            db.execute(
                "SELECT id, status, finished_at, result FROM executions WHERE id IN ({})".format(
                    ",".join("?" * len(sent))
                ),
                list(sent),
            ).fetchall()
            if sent
            else []
        )
    completed = [r for r in rows if r[1] == "completed"]
    to_first_step = []
    for exec_id, _, _, result in completed:
        steps = json.loads(result or "{}").get("steps") or []
        if steps:
            to_first_step.append(steps[0]["started_at"] - sent[exec_id])
    last = max((r[2] for r in completed), default=0.0)
    first = min(sent.values(), default=0.0)
    return {
        "completed": len(completed),
        "other": len(rows) - len(completed),
        "rate": len(completed) / (last - first) if completed and last > first else 0.0,
        "to_first_step": to_first_step,
    }


async def generate(
    port: int,
    reqs: list[bytes],
    connections: int,
    seconds: float,
    keep: bool,
    rate: float | None = None,
) -> loadgen.Outcome:
    return await asyncio.wait_for(
        loadgen.run(
            port, reqs, connections=connections, seconds=seconds, keep_bodies=keep, rate=rate
        ),
        seconds + 60,
    )


def _accepted(outcome: loadgen.Outcome) -> dict[str, float]:
    """execution id -> when its delivery was sent, for the deliveries answered 202."""
    sent = {}
    for sent_at, status, body in zip(
        outcome.sent_at, outcome.statuses, outcome.bodies, strict=True
    ):
        if status == 202:
            sent[json.loads(body)["execution_id"]] = sent_at
    return sent


def run(quick: bool) -> Figure:
    rounds, count, connections, seconds = (1, 2000, 32, 10.0) if quick else (5, 8000, 64, 20.0)
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        home, bare_home = Path(tmp) / "api", Path(tmp) / "no-api"
        home.mkdir()
        bare_home.mkdir()
        os.environ.pop("RELAY_DATABASE_URL", None)
        path = asyncio.run(deploy(home))
        no_api_path = asyncio.run(deploy(bare_home))
        env = {"RELAY_HOME": str(home)}
        null_port, bare_port, relay_port = free_port(), free_port(), free_port()
        no_api_port = free_port()
        results: dict[str, list[Any]] = {
            "null": [],
            "bare": [],
            "relay": [],
            "no_api": [],
            "exec": [],
            "steady": [],
        }
        with (
            child_server([PYTHON, "-m", "bench.servers", "null", str(null_port)], null_port),
            child_server(
                [PYTHON, "-m", "bench.servers", "bare", str(bare_port), SECRET], bare_port
            ),
            child_server(
                [RELAY, "serve", "--port", str(relay_port)], relay_port, env=env, cwd=home
            ),
            child_server(
                [RELAY, "serve", "--port", str(no_api_port), "--no-api"],
                no_api_port,
                env={"RELAY_HOME": str(bare_home)},
                cwd=bare_home,
            ),
        ):
            warm = deliveries(path, -1, 200)
            for port in (null_port, bare_port, relay_port):
                asyncio.run(generate(port, warm, 8, 30, False))
            asyncio.run(generate(no_api_port, deliveries(no_api_path, -1, 200), 8, 30, False))
            wait_finished(home, set(), 60)
            wait_finished(bare_home, set(), 60)
            results["null"].append(
                asyncio.run(
                    generate(null_port, deliveries(path, -2, count), connections, seconds, False)
                )
            )
            for r in range(rounds):
                order = ["bare", "relay", "no_api"]
                order = order[r % 3 :] + order[: r % 3]
                for target in order:
                    reqs = deliveries(path, r, count)
                    if target == "bare":
                        results["bare"].append(
                            asyncio.run(generate(bare_port, reqs, connections, seconds, False))
                        )
                        continue
                    if target == "no_api":
                        # the same server without the management API: what mounting it costs
                        reqs = deliveries(no_api_path, r, count)
                        outcome = asyncio.run(
                            generate(no_api_port, reqs, connections, seconds, True)
                        )
                        results["no_api"].append(outcome.count(202) / outcome.elapsed)
                        wait_finished(bare_home, set(_accepted(outcome)), 300)
                        continue
                    outcome = asyncio.run(generate(relay_port, reqs, connections, seconds, True))
                    results["relay"].append(outcome)
                    sent = _accepted(outcome)
                    wait_finished(home, set(sent), 300)
                    results["exec"].append(execution_stats(home, sent))
            # a steady arrival rate well under capacity: latency without a burst's backlog
            steady = deliveries(path, 99, int(STEADY_RATE * STEADY_SECONDS))
            paced = asyncio.run(
                generate(relay_port, steady, 16, STEADY_SECONDS + 30, True, STEADY_RATE)
            )
            sent = _accepted(paced)
            wait_finished(home, set(sent), 120)
            results["steady"].append(execution_stats(home, sent))
    return _figure(results, rounds, count, connections, seconds)


def _figure(
    results: dict[str, list[Any]], rounds: int, count: int, connections: int, seconds: float
) -> Figure:
    null = results["null"][0]
    bare_rates = [o.rate for o in results["bare"]]
    relay_rates = [o.count(202) / o.elapsed for o in results["relay"]]
    shares = [a / b for a, b in zip(relay_rates, bare_rates, strict=True)]
    api_costs = [a / b for a, b in zip(relay_rates, results["no_api"], strict=True)]
    exec_rates = [e["rate"] for e in results["exec"]]
    first = [x for e in results["exec"] for x in e["to_first_step"]]
    steady_first = [x for e in results["steady"] for x in e["to_first_step"]]
    relay_lat = [x for o in results["relay"] for x in o.latency]
    bare_lat = [x for o in results["bare"] for x in o.latency]
    not_202 = sum(o.answered - o.count(202) for o in results["relay"] + results["bare"])
    incomplete = sum(e["other"] for e in results["exec"])
    sent_relay = sum(o.answered for o in results["relay"])
    rows = [
        (
            "generator ceiling (null server, raw asyncio)",
            f"{fmt_rate(null.rate)} ({null.answered:,} requests)",
        ),
        ("bare Starlette+uvicorn HMAC endpoint, 202/s", spread(bare_rates, 0)),
        ("relay serve, deliveries accepted (202, committed)/s", spread(relay_rates, 0)),
        ("relay accepted / bare", spread(shares, 3)),
        ("relay serve --no-api, deliveries accepted/s", spread(results["no_api"], 0)),
        ("relay with the management API / --no-api", spread(api_costs, 3)),
        ("relay executions completed/s (first send -> last finish)", spread(exec_rates, 0)),
        (
            "delivery -> first step start, p50 / p99",
            f"{percentile(first, 50) * 1000:.1f} ms / {percentile(first, 99) * 1000:.1f} ms",
        ),
        (
            f"delivery -> first step start at a steady {STEADY_RATE:.0f}/s, p50 / p99",
            f"{percentile(steady_first, 50) * 1000:.1f} ms / {percentile(steady_first, 99) * 1000:.1f} ms "  # noqa: E501
            f"({len(steady_first):,} executions over {STEADY_SECONDS:.0f} s)",
        ),
        (
            "relay answer latency p50 / p99",
            f"{percentile(relay_lat, 50) * 1000:.1f} ms / {percentile(relay_lat, 99) * 1000:.1f} ms",  # noqa: E501
        ),
        (
            "bare answer latency p50 / p99",
            f"{percentile(bare_lat, 50) * 1000:.1f} ms / {percentile(bare_lat, 99) * 1000:.1f} ms",
        ),
        (
            "answers other than 202 / executions not completed",
            f"{not_202} / {incomplete} (of {sent_relay:,} relay deliveries)",
        ),
        (
            "load",
            f"{rounds} round(s) per side, alternated; {count:,} deliveries per run (cap {seconds:.0f} s), "  # noqa: E501
            f"{connections} keep-alive connections",
        ),
    ]
    share = median(shares)
    line = (
        f"2 webhook ingest: relay/bare = {spread(shares, 3)} over {rounds} rounds ({median(relay_rates):,.0f}/s vs {median(bare_rates):,.0f}/s accepted; "  # noqa: E501
        f"generator ceiling {null.rate:,.0f}/s); with the API / --no-api {spread(api_costs, 3)}; "
        f"executions {median(exec_rates):,.0f}/s; "
        f"delivery->first step p50 {percentile(first, 50) * 1000:.1f} ms p99 {percentile(first, 99) * 1000:.1f} ms "  # noqa: E501
        f"(burst), {percentile(steady_first, 50) * 1000:.1f} / {percentile(steady_first, 99) * 1000:.1f} ms at {STEADY_RATE:.0f}/s; "  # noqa: E501
        f"targets >= {TARGET_SHARE}, >= {TARGET_ACCEPTED:,.0f}/s, >= {TARGET_EXECUTIONS:,.0f} exec/s"  # noqa: E501
    )
    ok = (
        share >= TARGET_SHARE
        and median(relay_rates) >= TARGET_ACCEPTED
        and median(exec_rates) >= TARGET_EXECUTIONS
    )
    return Figure(
        "ingest",
        "Webhook ingest (relay serve + SQLite vs bare Starlette HMAC endpoint)",
        line,
        rows,
        limits=LIMITS,
        ok=ok,
    )
