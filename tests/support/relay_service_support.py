"""Helpers for the service tests: a plain-webhook flow, signing, the real app in-process, and a
facade over a served service."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store

SECRET = "plain-webhook-secret-for-tests"
#: The config every instance of ``FLOW`` is deployed with: its webhook secret.
CONFIG = {"hookSecret": SECRET}
FLOW = """\
name: plain webhook
config:
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: remember
    action: relay.setState
    inputs: {scope: flow, key: last, value: "${{ trigger.body }}"}
  - id: pause
    action: relay.sleep
    inputs: {seconds: "${{ double(trigger.body.pause) }}"}
  - id: answer
    action: relay.value
    inputs: {value: {n: "${{ trigger.body.n }}"}}
"""


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Relay-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def body(n: int, pause: float = 0.0) -> bytes:
    return json.dumps({"n": n, "pause": pause}).encode()


class LiveService:
    def __init__(
        self, relay: Service, executor: InProcessExecutor, client: httpx.AsyncClient, flow: Path
    ) -> None:
        self.relay = relay
        self.executor = executor
        self.client = client
        self.flow = flow

    async def deploy(self, name: str) -> str:
        instance = await self.relay.deploy(self.flow, CONFIG, name)
        return "/webhooks/" + instance.webhook_token

    async def post(
        self, path: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            path, content=payload, headers=sign(payload) if headers is None else headers
        )

    async def executions(self, **filters: Any) -> list[Any]:
        rows: list[Any] = await self.relay.store.list_executions(limit=1000, **filters)
        return rows


@contextlib.asynccontextmanager
async def in_process_service(
    runtime: Runtime, store_url: str, data_dir: Path, **app_options: Any
) -> AsyncIterator[tuple[Service, InProcessExecutor, httpx.AsyncClient]]:
    """The real server app (``create_app`` given ``app_options``) on a store at ``store_url``,
    with the in-process executor, and a client reaching it with no socket; everything
    (``runtime`` too) is closed afterwards."""
    store = await open_store(store_url, data_dir=data_dir)
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    app = create_app(relay, executor, **app_options)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://relay.test"
        ) as client:
            yield relay, executor, client
    finally:
        await executor.shutdown(5)
        await relay.aclose()
        await runtime.aclose()
        await store.close()
