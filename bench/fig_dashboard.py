"""Figure 8, dashboard: server-side render time of the overview, an instance page and an
execution page of 1,000 steps with 1,000,000 executions in a SQLite store (quick: 100,000),
each beside the management API's JSON for the same thing (the baseline, measured in the same
rounds); and the live stream's delay from a step's checkpoint to its event at a reading
client.

The executions are seeded with one multi-row insert per 20,000 rows over 48 hours, a tenth
failed, across three instances; the 1,000-step execution is run by relay (a loop of 1,000
``relay.value`` steps) so its record is what the engine writes. Pages are fetched in-process
(``httpx.ASGITransport``: what is timed is the app, not a socket); the live delay is measured
over loopback with uvicorn, as a browser's ``EventSource`` reads it."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Figure, percentile

GOALS_MS = {"overview": 100.0, "instance": 100.0, "execution": 200.0, "live": 100.0}
PLAIN = """\
name: plain
steps:
  - id: a
    action: relay.value
    inputs: {value: 1}
"""
LOOP = """\
name: thousand
steps:
  - id: each
    for_each: "${{ trigger.items }}"
    steps:
      - id: one
        action: relay.value
        inputs: {value: "${{ item }}"}
"""
#: Three steps whose events are timed, each followed by a pause (a sleep's own event is
#: recorded when it begins, so it is not timed).
STEPS = """\
name: stepper
steps:
  - id: v1
    action: relay.value
    inputs: {value: 1}
  - id: z1
    action: relay.sleep
    inputs: {seconds: 0.2}
  - id: v2
    action: relay.value
    inputs: {value: 2}
  - id: z2
    action: relay.sleep
    inputs: {seconds: 0.2}
  - id: v3
    action: relay.value
    inputs: {value: 3}
  - id: z3
    action: relay.sleep
    inputs: {seconds: 0.2}
"""
LIMITS = (
    "SQLite on the development machine's disk; the overview's charts are sums of the hourly "
    "tallies (a few rows per instance), its last execution and delivery an index range each; "
    "an execution page of 1,000 steps renders about 0.9 MB of HTML; the live delay is timed "
    "from the step's end, so it includes the 50 ms a read's checkpoint may wait to be written "
    "(WRITE_BEHIND)."
)


async def _seed(relay: Any, count: int) -> None:
    from sqlalchemy import insert

    from runtime.store.tables import executions

    now = time.time()
    result = json.dumps({"status": "completed", "steps": [], "duration_ms": 3.0})
    failed = json.dumps(
        {"status": "failed", "steps": [], "error": {"type": "ApiError", "message": "boom"}}
    )
    async with relay.store.engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for i in range(count):
            bad = i % 10 == 0
            batch.append(
                {
                    "id": f"seed{i:028x}",
                    "instance": "abc"[i % 3],
                    "status": "failed" if bad else "completed",
                    "flow_text": PLAIN,
                    "flow_version": 1,
                    "payload": "{}",
                    "result": failed if bad else result,
                    "created_at": now - (count - i) * (2 * 86400 / count),
                    "started_at": None,
                    "finished_at": None,
                    "attempts": 1,
                }
            )
            if len(batch) == 20_000:
                await conn.execute(insert(executions), batch)
                batch = []
        if batch:
            await conn.execute(insert(executions), batch)


async def _timed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await client.get(path, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: {answer.status_code}")
    return elapsed


async def _live_delays(relay: Any, executor: Any, token: str, flow: Path) -> list[float]:
    """Each step event's delay (ms) from the step's end (its event's time: the checkpoint is
    written at most ``WRITE_BEHIND`` later) to its arrival at a client reading the
    dashboard's stream over loopback."""
    import uvicorn

    from bench.common import free_port
    from runtime import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(relay, executor), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # surfaces the startup error
        await asyncio.sleep(0.01)  # uvicorn sets ``started`` without an event to await
    await relay.deploy(flow, {}, "stepper")
    delays: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await _sign_in(client, token)
            async with client.stream("GET", "/dashboard/events?instance=stepper") as stream:
                lines = stream.aiter_lines()
                await anext(lines)
                for _ in range(10):
                    execution = await relay.start_manual("stepper", {})
                    await executor.submit(execution, "stepper")
                    seen = 0
                    while seen < 3:
                        line = await anext(lines)
                        if not line.startswith("data: "):
                            continue
                        event = json.loads(line[6:])
                        if (
                            event["kind"] == "step"
                            and event["execution_id"] == execution
                            and event["step"]["path"].startswith("v")
                        ):
                            delays.append((time.time() - event["at"]) * 1000)
                            seen += 1
    finally:
        server.should_exit = True
        await serving
    return delays


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    import re

    form = await client.get("/dashboard/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None
    await client.post("/dashboard/signin", data={"csrf": found.group(1), "token": token})


async def measure(count: int, rounds: int) -> dict[str, Any]:
    from runtime import InProcessExecutor, Runtime, Service, create_app, open_store
    from runtime.heap import frozen_heap

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        store = await open_store(f"sqlite+aiosqlite:///{home / 'relay.db'}", data_dir=home)
        relay = Service(Runtime(), store, base_url="http://relay.bench")
        executor = InProcessExecutor(relay)
        await executor.start()
        try:
            for name, text in (("a", PLAIN), ("b", PLAIN), ("c", PLAIN), ("big", LOOP)):
                (home / f"{name}.yaml").write_text(text)
                await relay.deploy(home / f"{name}.yaml", {}, name)
            (home / "stepper.yaml").write_text(STEPS)
            seeding = time.perf_counter()
            await _seed(relay, count)
            # the tallies the seeding appended, folded as a running server folds them
            while await store.fold_tallies():
                pass
            seeded = time.perf_counter() - seeding
            big = await relay.start_manual("big", {"items": list(range(1000))})
            assert await relay.execute(big, "bench") == "completed"
            _record, token = await store.create_api_token("bench", "read")
            bearer = {"Authorization": f"Bearer {token}"}
            app = create_app(relay, executor)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://relay.bench") as c:
                await _sign_in(c, token)
                pairs = {
                    "overview": ("/dashboard/", "/api/v1/instances"),
                    "instance": ("/dashboard/instances/a", "/api/v1/instances/a"),
                    "execution": (f"/dashboard/executions/{big}", f"/api/v1/executions/{big}"),
                }
                times: dict[str, list[float]] = {}
                # the app is served here without its lifespan: its heap frozen as there
                with frozen_heap():
                    for _ in range(rounds):
                        for name, (page, api) in pairs.items():
                            times.setdefault(name, []).append(await _timed(c, page, {}))
                            api_time = await _timed(c, api, bearer)
                            times.setdefault(f"{name} api", []).append(api_time)
            times["live"] = await _live_delays(relay, executor, token, home / "stepper.yaml")
        finally:
            await executor.shutdown(5)
            await relay.aclose()
            await store.close()
    return {"times": times, "seeded": seeded}


def run(quick: bool) -> Figure:
    count = 100_000 if quick else 1_000_000
    rounds = 10 if quick else 30
    data = asyncio.run(measure(count, rounds))
    times = data["times"]
    p95 = {name: percentile(values, 95) for name, values in times.items()}
    rows = [("executions in the store", f"{count:,} (seeded in {data['seeded']:.1f} s)")]
    ok = True
    for name in ("overview", "instance", "execution"):
        api = p95[f"{name} api"]
        rows.append(
            (
                f"{name}: page p95 / the API's JSON p95",
                f"{p95[name]:.1f} ms / {api:.1f} ms = {p95[name] / api:.2f}x "
                f"(goal <= {GOALS_MS[name]:.0f} ms)",
            )
        )
        ok = ok and p95[name] <= GOALS_MS[name]
    rows.append(
        (
            "live: step's end to the client's read, p95 (30 step events)",
            f"{p95['live']:.1f} ms (goal <= {GOALS_MS['live']:.0f} ms)",
        )
    )
    ok = ok and p95["live"] <= GOALS_MS["live"]
    rows.append(("rounds", f"{rounds}, page and API alternated"))
    line = (
        f"8 dashboard ({count:,} executions): p95 overview {p95['overview']:.0f} ms, instance "
        f"{p95['instance']:.0f} ms, execution of 1,000 steps {p95['execution']:.0f} ms "
        f"(API {p95['overview api']:.0f}/{p95['instance api']:.0f}/{p95['execution api']:.0f} "
        f"ms); live {p95['live']:.0f} ms; goals 100/100/200/100 ms"
    )
    return Figure(
        "dashboard",
        "Dashboard (render p95 with 1,000,000 executions; live delay)",
        line,
        rows,
        limits=LIMITS,
        ok=ok,
    )
