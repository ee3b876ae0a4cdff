"""Chaos tests of durable steps: relay processes killed or paused while their executions create
resources in a real sandbox process (real HTTP), and the sandbox's request log as the count.

Each step that changes something creates a share whose name says which delivery and which step
made it (``chaos <n> <step>``), so the count of each step's requests comes from the request
bodies the sandbox recorded, whatever headers relay sends. Where the requests carry an
``Idempotency-Key``, it is checked too: a step sent twice sends the same key both times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from relay_processes import RELAY, answering, relay_env
from relay_sandbox_process import loopback_sandbox
from relay_service_support import SECRET, sign
from relay_waiting import until, wait_until

from runtime import Token, idempotency_key, open_store

#: The connection every chaos flow uses, stored under this name.
CONNECTION = "chaos-calendly"
#: The steps of ``FLOW`` that create a share (each once per execution, unless in flight at a
#: kill), in the order they run.
CREATING = ("s1", "s2", "s3", "s4")
_NAME = re.compile(r"^chaos (\d+) (\w+)$")

#: Four steps that create a share (two through the action, two through a raw POST), a read
#: between them, and short sleeps (held: far below RELAY_SUSPEND_AFTER) that widen the window
#: in which a kill finds work in flight.
FLOW = """\
name: chaos shares
config:
  hookSecret: {type: string, secret: true}
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  eventType: {type: string}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: s1
    action: calendly.createShare
    inputs:
      connection: "${{ config.calendly }}"
      eventType: "${{ config.eventType }}"
      name: "${{ 'chaos ' + string(trigger.body.n) + ' s1' }}"
  - id: p1
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.pause) }}"}
  - id: me
    action: calendly.getCurrentUser
    inputs: {connection: "${{ config.calendly }}"}
  - id: s2
    action: calendly.rawRequest
    inputs:
      connection: "${{ config.calendly }}"
      method: POST
      url: /shares
      data:
        event_type: "${{ config.eventType }}"
        name: "${{ 'chaos ' + string(trigger.body.n) + ' s2' }}"
  - id: p2
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.pause) }}"}
  - id: s3
    action: calendly.createShare
    inputs:
      connection: "${{ config.calendly }}"
      eventType: "${{ config.eventType }}"
      name: "${{ 'chaos ' + string(trigger.body.n) + ' s3' }}"
  - id: p3
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.pause) }}"}
  - id: s4
    action: calendly.rawRequest
    inputs:
      connection: "${{ config.calendly }}"
      method: POST
      url: /shares
      data:
        event_type: "${{ config.eventType }}"
        name: "${{ 'chaos ' + string(trigger.body.n) + ' s4' }}"
"""

#: A flow whose executions a paused process holds: a share, a wait of ``a`` seconds, a share,
#: a wait of ``b`` seconds (a payload with ``b`` set makes the wait the last step, so what the
#: paused holder writes next is the finish; with ``a`` set, a checkpoint).
PAUSED_FLOW = """\
name: paused shares
config:
  hookSecret: {type: string, secret: true}
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  eventType: {type: string}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: s1
    action: calendly.createShare
    inputs:
      connection: "${{ config.calendly }}"
      eventType: "${{ config.eventType }}"
      name: "${{ 'chaos ' + string(trigger.body.n) + ' s1' }}"
  - id: nap_a
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.a) }}"}
  - id: s2
    action: calendly.createShare
    inputs:
      connection: "${{ config.calendly }}"
      eventType: "${{ config.eventType }}"
      name: "${{ 'chaos ' + string(trigger.body.n) + ' s2' }}"
  - id: nap_b
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.b) }}"}
"""


def chaos_seed() -> int:
    """The seed of a chaos test's random choices: ``RELAY_CHAOS_SEED`` to reproduce a run,
    else a fresh one (printed by the test, and shown by pytest when it fails)."""
    raw = os.environ.get("RELAY_CHAOS_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(2**32)


def payload(n: int, **fields: float) -> bytes:
    return json.dumps({"n": n, **fields}).encode()


@contextlib.contextmanager
def chaos_sandbox(home: Path, latency: float = 0.0) -> Iterator[str]:
    """A ``relay sandbox`` process (a few seeded events) with ``latency`` added to every API
    call (a kill then often lands while a request is being answered); yields its URL."""
    with loopback_sandbox(home / "sandbox", "--events", "5") as url:
        if latency:
            answer = httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
            assert answer.status_code == 200, answer.text
        yield url


def sandbox_json(url: str, path: str) -> Any:
    answer = httpx.get(f"{url}/_sandbox/{path}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def store_connection(store: Any, sandbox_url: str) -> str:
    """Save the connection ``CONNECTION`` to the sandbox in ``store`` (with a fresh token of
    the sandbox's owner); returns the URI of an event type to share."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as client:
        issued = await client.post("/_sandbox/tokens", json={"kind": "oauth"})
        assert issued.status_code == 201, issued.text
        state = (await client.get("/_sandbox/state")).json()
    fields = {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
        "sandboxUrl": sandbox_url,
    }
    await store.save_connection(CONNECTION, "calendly", "calendlyOauth2Connection", fields)
    token = Token.from_response(issued.json(), time.time())
    await store.tokens.save(f"connection:{CONNECTION}", token)
    return str(state["event_types"][0]["uri"])


def flow_config(event_type: str) -> dict[str, Any]:
    """The config an instance of ``FLOW`` (or ``PAUSED_FLOW``) is deployed with."""
    return {"hookSecret": SECRET, "calendly": {"use": CONNECTION}, "eventType": event_type}


def share_requests(sandbox_url: str) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """The share requests the sandbox received, by the delivery number and step their body
    names (``chaos <n> <step>``)."""
    made: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for request in sandbox_json(sandbox_url, "requests")["collection"]:
        if request["method"] != "POST" or request["path"] != "/shares":
            continue
        body = request.get("json")
        found = _NAME.match(str(body.get("name", ""))) if isinstance(body, dict) else None
        assert found is not None, f"a share request no chaos step made: {body!r}"
        made[(int(found.group(1)), found.group(2))].append(request)
    return made


def share_count(sandbox_url: str) -> int:
    return sum(len(r) for r in share_requests(sandbox_url).values())


def by_delivery(rows: list[Any]) -> dict[int, list[Any]]:
    """Executions by the delivery number in their trigger payload."""
    found: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[int(row.payload["body"]["n"])].append(row)
    return found


def check_each_step_made_once(
    rows: list[Any], made: dict[tuple[int, str], list[dict[str, Any]]], steps: tuple[str, ...]
) -> tuple[Counter[str], int]:
    """Every completed execution's steps that change something were requested at the sandbox
    once each, except a step in flight when a claim of it was interrupted: that one may have
    been sent again by the claim that completed it. Each interrupted claim accounts for at
    most one repeat (``attempts - 1`` of them in all). Returns how many repeats were seen (by
    step) and how many requests carried a key, to be reported.

    Where the requests carry an ``Idempotency-Key``, every request of a step carries the
    step's key (the same for a repeat)."""
    repeats: Counter[str] = Counter()
    keyed = 0
    problems: list[str] = []
    for row in rows:
        n = int(row.payload["body"]["n"])
        records = {s["path"]: s for s in row.result["steps"]}
        extra = 0
        for step in steps:
            sent = made.get((n, step), [])
            record = records[step]
            assert record["status"] == "completed", (n, record)
            if not sent:
                problems.append(f"{n} {step}: completed but never sent")
            extra += len(sent) - 1
            if len(sent) > 1:
                repeats[step] += 1
                # only a claim after the first can have sent a step again
                if record.get("claim", 1) < 2:
                    problems.append(f"{n} {step}: sent {len(sent)} times by one claim")
            keys = {r["headers"].get("idempotency-key") for r in sent}
            keyed += sum(r["headers"].get("idempotency-key") is not None for r in sent)
            if keys != {None} and keys != {idempotency_key(row.id, step)}:
                problems.append(f"{n} {step}: idempotency keys {keys}")
        if extra > row.attempts - 1:
            counts = {s: len(made.get((n, s), [])) for s in steps}
            problems.append(f"{n}: {counts} over {row.attempts} claims")
    assert problems == [], problems
    return repeats, keyed


def claims_of(row: Any) -> set[int]:
    """The claims (attempts) that completed the execution's steps."""
    return {int(s.get("claim") or 1) for s in row.result["steps"]}


async def post_deliveries(url: str, numbers: list[int], pause: float, senders: int = 6) -> set[int]:
    """Send a signed delivery for each number (``senders`` at a time); returns the numbers
    answered 202 (a delivery whose server was gone is not acknowledged)."""
    accepted: set[int] = set()
    queue = list(numbers)

    async def sender(client: httpx.AsyncClient) -> None:
        while queue:
            n = queue.pop(0)
            body = payload(n, pause=pause)
            try:
                answer = await client.post(url, content=body, headers=sign(body))
            except httpx.HTTPError:
                continue
            if answer.status_code == 202:
                accepted.add(n)

    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.gather(*(sender(client) for _ in range(senders)))
    return accepted


async def kill_at_random_point(
    process: subprocess.Popen[bytes], sandbox_url: str, rng: random.Random, low: int, high: int
) -> int:
    """SIGKILL ``process`` once the sandbox has received a number of share requests drawn
    from ``[low, high]`` (beyond those it had); returns that number."""
    start = await asyncio.to_thread(share_count, sandbox_url)
    target = start + rng.randint(low, high)

    async def reached() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the process exited before the kill ({process.returncode})")
        return await asyncio.to_thread(share_count, sandbox_url) >= target

    await until(reached, f"{target} share requests at the sandbox")
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 10)
    return target - start


def start_logged(
    home: Path, log: Path, *args: str, env: dict[str, str], ready: str | None = None
) -> subprocess.Popen[bytes]:
    """``relay ARGS`` writing its output to ``log``; with ``ready`` (a URL), returns once it
    answers 200."""
    out = log.open("ab")
    try:
        process = subprocess.Popen([RELAY, *args], env=env, stdout=out, stderr=out)
    finally:
        out.close()
    if ready is not None:
        try:
            wait_until(answering(process, ready, f"relay {args[0]}"), f"{ready} to answer")
        except (AssertionError, RuntimeError):
            process.kill()
            process.wait(timeout=10)
            tail = log.read_text()[-2000:]
            raise AssertionError(f"relay {args[0]} did not start: {tail}") from None
    return process


def serve(
    home: Path, port: int, log: Path, *args: str, env: dict[str, str], public_port: int = 0
) -> subprocess.Popen[bytes]:
    """``relay serve`` on ``port`` with ``args``, logging to ``log``; returns once healthy.
    ``public_port`` is where the webhooks were registered (default ``port``): a second server
    on one store stands behind the same public URL."""
    public = f"http://127.0.0.1:{public_port or port}"
    full = relay_env(home, RELAY_PUBLIC_URL=public, **env)
    return start_logged(
        home,
        log,
        "serve",
        "--port",
        str(port),
        *args,
        env=full,
        ready=f"http://127.0.0.1:{port}/health",
    )


def end(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started (SIGCONT first: a paused one cannot stop)."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.asynccontextmanager
async def store_at(home: Path, database_url: str | None) -> AsyncIterator[Any]:
    store = await open_store(database_url, data_dir=home)
    try:
        yield store
    finally:
        await store.close()


async def settled(store: Any, instance: str, count: int | None = None) -> list[Any]:
    """Until every execution of ``instance`` (``count`` of them, when given) has finished."""

    async def finished() -> list[Any] | None:
        rows: list[Any] = await store.list_executions(instance=instance, limit=10_000)
        done = rows and all(r.status in ("completed", "failed", "canceled") for r in rows)
        return rows if done and (count is None or len(rows) == count) else None

    rows: list[Any] = await until(finished, f"the executions of {instance} to finish")
    return rows
