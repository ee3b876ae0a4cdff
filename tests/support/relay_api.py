"""A client for the management API tests: the served app, an instance ``hooks`` of the
plain-webhook flow, and a token of each scope."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from relay_service_support import CONFIG, FLOW, body, sign
from relay_uvicorn import serving

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store


class Api:
    """The served app, an instance ``hooks`` of the plain-webhook flow, and a token by scope."""

    def __init__(
        self, relay: Service, client: httpx.AsyncClient, tokens: dict[str, str], hook: str
    ) -> None:
        self.relay = relay
        self.client = client
        self.tokens = tokens
        self.hook = hook

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    async def get(
        self, path: str, scope: str = "read", headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.auth(scope), **(headers or {})}
        return await self.client.get("/api/v1" + path, headers=headers, **kwargs)

    async def post(
        self,
        path: str,
        scope: str = "operate",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {**self.auth(scope), **(headers or {})}
        return await self.client.post("/api/v1" + path, headers=headers, **kwargs)

    async def deliver(self, n: int, pause: Any = 0.0) -> str:
        """Post one signed delivery to ``hooks``; the id of its execution."""
        payload = body(n, pause)
        answer = await self.client.post(self.hook, content=payload, headers=sign(payload))
        assert answer.status_code == 202, answer.text
        return str(answer.json()["execution_id"])


@contextlib.asynccontextmanager
async def live(
    tmp_path: Path, instance: str = "hooks"
) -> AsyncIterator[tuple[str, dict[str, str], str]]:
    """The app on a loopback port over a SQLite store: its URL, operate-scope auth headers,
    and the id of an execution of ``instance`` it ran."""
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path)
    relay = Service(Runtime(), store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    try:
        await relay.deploy(flow, CONFIG, instance)
        _record, token = await store.create_api_token("edges", "operate")
        execution = await relay.start_manual(instance, {"body": {"n": 1, "pause": 0}})
        assert await relay.execute(execution, "test") == "completed"
        async with serving(create_app(relay, executor)) as url:
            yield url, {"Authorization": f"Bearer {token}"}, execution
    finally:
        await executor.shutdown(5)
        await relay.aclose()
        await store.close()
