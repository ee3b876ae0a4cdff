"""Connections at run time: opening and authorizing them, their tokens, single-flight refresh.

One ``ConnectionHandle`` per connection per execution; every step of the execution receives the
same handle, so a token refreshed in one step is the token of every later step and of the
result. Refresh is single-flight twice over: an ``asyncio.Lock`` inside the process, and the
token store's lock across processes, under which the stored token is re-read first (a
neighbour may have refreshed already: Calendly refresh tokens are single-use). A
``Connector`` opens handles (validating field values) and runs the authorization-code flow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from attrs import define, field, frozen

from runtime.errors import ConfigurationError, InputValidationError, Problem, ReconnectRequired
from runtime.oauth import Token, authorization_request, code_from_redirect, token_request
from runtime.redaction import Redactor
from runtime.transport import get_redirect

if TYPE_CHECKING:
    from runtime.clock import Clock
    from runtime.declarations import Connection, OAuth2Endpoints
    from runtime.http import AsyncClient
    from runtime.registry import Registry

REDIRECT_URI = "http://127.0.0.1:8976/relay/oauth/callback"
#: ``consent(authorize_url, redirect_uri) -> callback URL``: how a user approves a connection.
Consent = Callable[[str, str], Awaitable[str]]


class TokenStore(Protocol):
    """Where tokens live between executions. Implementations must make ``lock`` exclusive
    across every process sharing the store (the in-memory one only within its process)."""

    async def load(self, key: str) -> Token | None:
        """The token kept under ``key``, or ``None``."""
        ...

    async def save(self, key: str, token: Token) -> None:
        """Keep ``token`` under ``key``, replacing what was there."""
        ...

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while a token is refreshed: a single-use refresh token is spent once."""
        ...


class InMemoryTokenStore:
    """Tokens in a dict: for one process (tests, ``relay run``)."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, key: str) -> Token | None:
        """The token kept under ``key``, or ``None``."""
        return self._tokens.get(key)

    async def save(self, key: str, token: Token) -> None:
        """Keep ``token`` under ``key``."""
        self._tokens[key] = token

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Exclusive within this process, per key."""
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
    #: Learns the handle's secrets as it learns them (a refreshed token): the runtime's.
    redactor: Redactor = field(factory=Redactor, repr=False)
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
            self.redactor.add(self.secrets)
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
                try:
                    new = await token_request(
                        self.http,
                        self.endpoints.token_url,
                        client_id=str(self.fields.get("clientId", "")),
                        client_secret=str(self.fields.get("clientSecret", "")),
                        form={
                            "grant_type": "refresh_token",
                            "refresh_token": current.refresh_token,
                        },
                        now=self.clock.time(),
                        connection=self.name,
                    )
                except ReconnectRequired as exc:
                    # kept with the token, so listing connections can say "reconnect needed"
                    # without spending a refresh token to find out
                    await self.store.save(self.store_key, current.refresh_failed(exc.reason))
                    raise
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
                self.redactor.add(self.secrets)
                self.refreshes += 1
                return new.access_token


@frozen
class Connector:
    """Opens connections of the components in ``registry``: tokens kept in ``token_store``,
    secrets learned by ``redactor``, requests made with ``http`` (the event loop's client)."""

    registry: Registry
    token_store: TokenStore
    clock: Clock
    http: Callable[[], AsyncClient]
    redactor: Redactor

    def declaration(self, component: str, key: str) -> Connection:
        """The connection ``key`` declared by ``component``."""
        declaration = self.registry.require(component).component.connection(key)
        if declaration is None:
            raise ConfigurationError(f"component {component!r} has no connection {key!r}")
        return declaration

    async def open(
        self,
        name: str,
        component: str,
        key: str,
        values: Mapping[str, Any],
        *,
        store_key: str | None = None,
        authorize: bool = True,
    ) -> ConnectionHandle:
        """A validated handle (see ``Runtime.open_connection``)."""
        declaration = self.declaration(component, key)
        registered = self.registry.require(component)
        fields = {k: v for k, v in values.items() if k != "token"}
        raw_token = values.get("token")
        schema = registered.schema("connection", key)
        try:
            cleaned = schema.validate(fields)
        except InputValidationError as exc:
            problems = [Problem(p.message, f"$.{name}{p.path[1:]}") for p in exc.problems]
            raise InputValidationError(f"invalid connection {name!r}", problems) from None
        endpoints = declaration.endpoints_for(cleaned)
        handle = ConnectionHandle(
            name=name,
            component=component,
            declaration=declaration,
            fields=cleaned,
            endpoints=endpoints,
            store=self.token_store,
            store_key=store_key or f"{component}:{key}:{name}",
            clock=self.clock,
            http=self.http(),
            redactor=self.redactor,
        )
        self.redactor.add(handle.secrets)
        if declaration.kind == "oauth2" and authorize:
            if isinstance(raw_token, Mapping):
                await self.token_store.save(
                    handle.store_key,
                    Token.from_response(raw_token, self.clock.time())
                    if "expires_at" not in raw_token
                    else Token.from_dict(raw_token),
                )
            if await self.token_store.load(handle.store_key) is None:
                if not endpoints.headless_consent:
                    raise ReconnectRequired(name, "no token: run `relay connect` first")
                await self.authorize(handle)
        return handle

    async def authorize(self, handle: ConnectionHandle, consent: Consent | None = None) -> Token:
        """Run the authorization-code flow (see ``Runtime.authorize``)."""
        fields = handle.fields
        request = authorization_request(
            handle.endpoints.authorize_url,
            str(fields.get("clientId", "")),
            REDIRECT_URI,
            str(fields.get("scopes", "") or ""),
        )
        if consent is not None:
            location = await consent(request.url, request.redirect_uri)
        elif handle.endpoints.headless_consent:
            status, location = await get_redirect(handle.http, request.url)
            if status not in (301, 302, 303, 307) or not location:
                raise ReconnectRequired(handle.name, f"authorization failed ({status})")
        else:
            raise ReconnectRequired(handle.name, "this server needs a browser to consent")
        code = code_from_redirect(location, request.state)
        return await self.exchange_code(handle, code, request.code_verifier, request.redirect_uri)

    async def exchange_code(
        self, handle: ConnectionHandle, code: str, verifier: str, redirect_uri: str
    ) -> Token:
        """Second leg of the authorization-code flow; the token is stored."""
        token = await token_request(
            handle.http,
            handle.endpoints.token_url,
            client_id=str(handle.fields.get("clientId", "")),
            client_secret=str(handle.fields.get("clientSecret", "")),
            form={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            now=self.clock.time(),
            connection=handle.name,
        )
        await self.token_store.save(handle.store_key, token)
        handle.token = token
        self.redactor.add(handle.secrets)
        return token
