"""Connections at run time: field values, the current token, and single-flight refresh.

One ``ConnectionHandle`` per connection per execution; every step of the execution receives the
same handle, so a token refreshed in one step is the token of every later step and of the
result. Refresh is single-flight twice over: an ``asyncio.Lock`` inside the process, and the
token store's lock across processes, under which the stored token is re-read first (a
neighbour may have refreshed already: Calendly refresh tokens are single-use).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from attrs import define, field

from runtime.clock import Clock
from runtime.declarations import Connection, OAuth2Endpoints
from runtime.errors import ReconnectRequired
from runtime.http import AsyncClient
from runtime.logs import SECRETS
from runtime.oauth import Token, token_request


class TokenStore(Protocol):
    """Where tokens live between executions. Implementations must make ``lock`` exclusive
    across every process sharing the store (the in-memory one only within its process)."""

    async def load(self, key: str) -> Token | None: ...

    async def save(self, key: str, token: Token) -> None: ...

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class InMemoryTokenStore:
    """Tokens in a dict: for one process (tests, ``relay run``)."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, key: str) -> Token | None:
        return self._tokens.get(key)

    async def save(self, key: str, token: Token) -> None:
        self._tokens[key] = token

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield


@define(eq=False)
class ConnectionHandle:
    """A connection as actions see it. Field values and tokens never appear in ``repr``."""

    name: str
    component: str
    declaration: Connection
    fields: Mapping[str, Any] = field(repr=False)
    endpoints: OAuth2Endpoints
    store: TokenStore = field(repr=False)
    store_key: str
    clock: Clock = field(repr=False)
    http: AsyncClient = field(repr=False)
    token: Token | None = field(default=None, repr=False)
    refreshes: int = 0
    #: Made by the first refresh (most handles never refresh).
    _lock: asyncio.Lock | None = field(default=None, repr=False)

    @property
    def secrets(self) -> list[str]:
        """Every secret value this handle holds (for redaction)."""
        out = [
            str(self.fields[i.key])
            for i in self.declaration.inputs
            if i.type == "password" and self.fields.get(i.key)
        ]
        if self.token is not None:
            out.append(self.token.access_token)
            if self.token.refresh_token:
                out.append(self.token.refresh_token)
        return out

    async def access_token(self) -> str:
        """The current access token, refreshed first when it expires within the margin."""
        if self.declaration.kind == "api_key":
            return str(self.fields[self.declaration.token_input])
        token = self.token
        if token is None:
            token = await self.store.load(self.store_key)
            if token is None:
                raise ReconnectRequired(self.name, "no token: connect this connection first")
            self.token = token
            SECRETS.add(self.secrets)
        if token.expires_within(self.clock.time(), self.declaration.refresh_margin):
            return await self.refreshed(token.access_token)
        return token.access_token

    async def refreshed(self, stale: str) -> str:
        """A token newer than ``stale``: refresh, unless someone already has (single flight)."""
        if self.declaration.kind == "api_key":
            raise ReconnectRequired(self.name, "the API key was refused")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.token is not None and self.token.access_token != stale:
                return self.token.access_token
            async with self.store.lock(self.store_key):
                stored = await self.store.load(self.store_key)
                margin = self.declaration.refresh_margin
                if (
                    stored is not None
                    and stored.access_token != stale
                    and not stored.expires_within(self.clock.time(), margin)
                ):
                    self.token = stored
                    return stored.access_token
                current = stored or self.token
                if current is None or not current.refresh_token:
                    raise ReconnectRequired(self.name, "no refresh token")
                new = await token_request(
                    self.http,
                    self.endpoints.token_url,
                    client_id=str(self.fields.get("clientId", "")),
                    client_secret=str(self.fields.get("clientSecret", "")),
                    form={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                    now=self.clock.time(),
                    connection=self.name,
                )
                if new.refresh_token is None:
                    # servers that do not rotate keep the old refresh token valid
                    new = Token(
                        new.access_token,
                        current.refresh_token,
                        new.expires_at,
                        new.token_type,
                        new.scope,
                        new.extra,
                    )
                await self.store.save(self.store_key, new)
                self.token = new
                SECRETS.add(self.secrets)
                self.refreshes += 1
                return new.access_token
