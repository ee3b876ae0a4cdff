"""A client for the management API tests: the served app, an instance ``hooks`` of the
plain-webhook flow, and a token of each scope."""

from __future__ import annotations

from typing import Any

import httpx
from relay_service_support import body, sign

from runtime import Service


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
