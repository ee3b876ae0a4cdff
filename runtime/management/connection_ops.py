"""Stored connections as operators see them: their status, a test call, deletion, and a
reconnect begun in one request and finished by the OAuth callback. The one layer the API's
``/connections`` routes and ``relay connections`` both call; no token or secret leaves it.

Status, from what the store keeps (``Store.connection_overview``):

- ``reconnect_needed``: an OAuth connection with no token, whose last refresh the token
  endpoint refused (``invalid_grant``: the refresh token is spent or revoked), or whose token
  has expired with no refresh token to renew it;
- ``expiring``: a refreshable token within its connection's ``refresh_margin`` of expiry (the
  next use refreshes it), or one that cannot be refreshed within ``UNREFRESHABLE_MARGIN``;
- ``connected``: otherwise, and always for an API key (only a test call can tell whether a
  key still works).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

from runtime.errors import ApiError, ConfigurationError, NotFound, ReconnectRequired
from runtime.oauth import authorization_request, code_from_redirect

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from runtime.connections import ConnectionHandle
    from runtime.declarations import Connection
    from runtime.oauth import AuthorizationRequest
    from runtime.service import Service
    from runtime.store import Instance

ConnectionStatus = Literal["connected", "expiring", "reconnect_needed"]

#: A token that cannot be refreshed is ``expiring`` this many seconds before it expires: a
#: day's notice to reconnect it.
UNREFRESHABLE_MARGIN = 86_400.0
#: Seconds a begun reconnect waits for its callback.
RECONNECT_TTL = 600.0
#: Reconnects awaiting their callback at once (the oldest are forgotten first).
RECONNECTS_KEPT = 1_000


class UnknownConnection(NotFound):
    """No stored connection has this name."""

    def __init__(self, name: str) -> None:
        super().__init__("stored connection", name)
        self.args = (f"no stored connection {name!r}",)


class UnknownReconnect(NotFound):
    """No reconnect begun in this process is waiting for this state (or it waited too long)."""

    def __init__(self) -> None:
        super().__init__("reconnect", "")
        self.args = ("no reconnect is waiting for this state (unknown or expired): begin it again",)


def users_of(name: str, instances: Iterable[Instance]) -> list[str]:
    """The instances whose config names the stored connection ``name`` (``{use: NAME}``)."""
    return [
        i.name
        for i in instances
        if any(isinstance(v, dict) and v.get("use") == name for v in i.config.values())
    ]


def _declared(relay: Service, component: str, key: str) -> Connection | None:
    registered = relay.runtime.registry.get(component)
    return registered.component.connection(key) if registered is not None else None


def status_of(
    token: dict[str, Any] | None, declared: Connection | None, now: float
) -> tuple[ConnectionStatus, str | None]:
    """A connection's status and, unless it is plainly connected, why (see the module)."""
    if declared is not None and declared.kind == "api_key":
        return "connected", None
    if token is None:
        return "reconnect_needed", "no token is stored"
    if token["refresh_failure"]:
        return "reconnect_needed", f"the last refresh was refused: {token['refresh_failure']}"
    expires = token["expires_at"]
    if expires is None:
        return "connected", None
    if token["refreshable"]:
        margin = declared.refresh_margin if declared is not None else 60.0
        if expires - margin <= now:
            return "expiring", "the token expires within its refresh margin: its next use renews it"
        return "connected", None
    if expires <= now:
        return "reconnect_needed", "the token has expired and cannot be refreshed"
    if expires - UNREFRESHABLE_MARGIN <= now:
        return "expiring", "the token expires within a day and cannot be refreshed"
    return "connected", None


async def connection_views(relay: Service, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored connection (or only ``name``) with its status and users, by name."""
    instances = await relay.store.list_instances()
    now = relay.runtime.clock.time()
    views = []
    for row in await relay.store.connection_overview(name):
        declared = _declared(relay, row["component"], row["connection"])
        token = row["token"]
        status, reason = status_of(token, declared, now)
        views.append(
            {
                "name": row["name"],
                "component": row["component"],
                "key": row["connection"],
                "kind": declared.kind if declared is not None else "unknown",
                "status": status,
                "reason": relay.runtime.redactor.text(reason) if reason else None,
                "token_expires_at": token["expires_at"] if token else None,
                "last_refresh": token["updated_at"] if token else None,
                "saved_at": row["saved_at"],
                "used_by": users_of(row["name"], instances),
            }
        )
    return views


async def connection_view(relay: Service, name: str) -> dict[str, Any]:
    """One stored connection's view; ``UnknownConnection`` when there is none."""
    found = await connection_views(relay, name)
    if not found:
        raise UnknownConnection(name)
    return found[0]


async def open_stored(relay: Service, name: str) -> ConnectionHandle:
    """A handle on the stored connection ``name`` (no request made yet)."""
    found = await relay.store.get_connection(name)
    if found is None:
        raise UnknownConnection(name)
    component, key, fields = found
    return await relay.runtime.open_connection(
        name, component, key, fields, store_key=f"connection:{name}", authorize=False
    )


async def try_connection(relay: Service, name: str) -> dict[str, Any]:
    """Make the component's test call with the stored connection ``name``: ``{name, result:
    ok|failed, error}``, the error being what the API (or token endpoint) answered: its
    status (``None`` when no HTTP answer came), title and message, scrubbed of secrets."""
    handle = await open_stored(relay, name)
    check = handle.declaration.test
    if check is None:
        raise ConfigurationError(
            f"connection {name!r}: {handle.component}.{handle.declaration.key} declares no test"
        )
    error: dict[str, Any] | None = None
    try:
        await check(relay.runtime.context(step="test", flow=f"connection {name}"), handle)
    except ApiError as exc:
        error = {"status": exc.status or None, "title": exc.title, "message": exc.message}
    except ReconnectRequired as exc:
        error = {"status": None, "title": "Reconnect Required", "message": exc.reason}
    if error is not None:
        error = relay.runtime.redactor.value(error)
    return {"name": name, "result": "failed" if error else "ok", "error": error}


async def delete_connection(relay: Service, name: str, *, force: bool = False) -> list[str]:
    """Forget the stored connection ``name`` and its token; the instances still naming it.
    Refused (``ConfigurationError``) while an instance uses it, unless ``force``."""
    if await relay.store.get_connection(name) is None:
        raise UnknownConnection(name)
    users = users_of(name, await relay.store.list_instances())
    if users and not force:
        raise ConfigurationError(
            f"connection {name!r} is used by instance(s) {', '.join(users)}: undeploy them "
            "first, or force it (their executions then fail until it is connected again)"
        )
    await relay.store.delete_connection(name)
    return users


@frozen
class PendingReconnect:
    """A reconnect awaiting its callback: what the code exchange needs."""

    name: str
    verifier: str = field(repr=False)
    redirect_uri: str
    state: str = field(repr=False)
    began: float


class Reconnects:
    """Reconnects begun and awaiting their callback, by state, in this process's memory:
    the callback must come back to the process that began it, within ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float = RECONNECT_TTL,
        kept: int = RECONNECTS_KEPT,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.kept = kept
        self._monotonic = monotonic
        self._pending: OrderedDict[str, PendingReconnect] = OrderedDict()

    async def begin(self, relay: Service, name: str, redirect_uri: str) -> AuthorizationRequest:
        """A fresh authorization request (state + PKCE) for ``name``, kept until its
        callback; only OAuth connections can be reconnected."""
        handle = await open_stored(relay, name)
        if handle.declaration.kind != "oauth2":
            raise ConfigurationError(
                f"connection {name!r} is an API key, not OAuth: store a new key with "
                "`relay connect` instead"
            )
        request = authorization_request(
            handle.endpoints.authorize_url,
            str(handle.fields.get("clientId", "")),
            redirect_uri,
            str(handle.fields.get("scopes", "") or ""),
        )
        self._pending[request.state] = PendingReconnect(
            name, request.code_verifier, redirect_uri, request.state, self._monotonic()
        )
        while len(self._pending) > self.kept:
            self._pending.popitem(last=False)
        return request

    async def finish(self, relay: Service, callback_url: str, state: str) -> str:
        """Exchange the code the callback brought for a token of the connection whose
        reconnect had ``state``; that connection's name."""
        pending = self._pending.pop(state, None)
        if pending is not None and pending.began + self.ttl < self._monotonic():
            pending = None
        if pending is None:
            raise UnknownReconnect
        code = code_from_redirect(callback_url, pending.state)
        handle = await open_stored(relay, pending.name)
        await relay.runtime.exchange_code(handle, code, pending.verifier, pending.redirect_uri)
        return pending.name
