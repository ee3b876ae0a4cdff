"""``/connections``: stored connections with their status (read), a test call (operate),
deletion and reconnection (admin); and ``/oauth/callback``, where a reconnect's browser comes
back. No field, token or client secret is ever part of an answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from runtime.management.connection_ops import (
    ConnectionStatus,
    Reconnects,
    connection_view,
    connection_views,
    delete_connection,
    try_connection,
)
from runtime.management.problems import Problem, ProblemRoute

if TYPE_CHECKING:
    from runtime.management.auth import Authenticator
    from runtime.service import Service

#: Where a reconnect's browser is sent back, under the API's prefix.
CALLBACK_PATH = "/oauth/callback"

#: A stored connection's name: NUL is refused here (422), as PostgreSQL cannot hold one in text.
Name = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


class ConnectionSummary(BaseModel):
    """A stored connection and the state of its authorization."""

    name: str
    component: str
    key: str = Field(description="Which of the component's connections.")
    kind: Literal["oauth2", "api_key", "unknown"] = Field(
        description="unknown: its component is not installed."
    )
    status: ConnectionStatus
    reason: str | None = Field(description="Why it is expiring or needs reconnecting.")
    token_expires_at: float | None = Field(description="UNIX seconds; None without an expiry.")
    last_refresh: float | None = Field(
        description="When its token was last written (connected or refreshed), UNIX seconds."
    )
    saved_at: float = Field(description="When it was stored or last replaced, UNIX seconds.")
    used_by: list[str] = Field(description="The instances whose config names it.")


class TestError(BaseModel):
    """What the API answered a failed test with."""

    status: int | None = Field(description="The HTTP status; None when no answer came.")
    title: str
    message: str


class TestOutcome(BaseModel):
    """The outcome of a connection's test call."""

    name: str
    result: Literal["ok", "failed"]
    error: TestError | None


class Deleted(BaseModel):
    """A deleted connection, and the instances still naming it (forced)."""

    name: str
    used_by: list[str]


class ReconnectStarted(BaseModel):
    """Where to send the user to authorize the connection again."""

    name: str
    authorize_url: str = Field(description="Open it in a browser and approve.")
    redirect_uri: str = Field(
        description="Where the browser comes back (this server); it must be a redirect URI "
        "the OAuth app allows."
    )
    expires_in: float = Field(description="Seconds the authorization waits for the callback.")


def _problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {"application/problem+json": {}},
        }
    }


_NOT_FOUND = _problem(404, "No such connection")
_FORBIDDEN = _problem(403, "The token's scope is too small")
_CONFLICT = _problem(409, "Not possible in its present state")


def connections_router(relay: Service, auth: Authenticator, prefix: str) -> APIRouter:
    """The routes, their callback URL under ``prefix`` (where the API is mounted) on the
    service's public URL."""
    router = APIRouter(route_class=ProblemRoute)
    read = [Depends(auth.require("read"))]
    operate = [Depends(auth.require("operate"))]
    admin = [Depends(auth.require("admin"))]
    reconnects = Reconnects()
    redirect_uri = f"{relay.base_url}{prefix}{CALLBACK_PATH}"

    @router.get(
        "/connections",
        response_model=list[ConnectionSummary],
        dependencies=read,
        tags=["connections"],
    )
    async def list_connections() -> list[dict[str, Any]]:
        """Every stored connection, by name, with its status and the instances using it."""
        return await connection_views(relay)

    @router.get(
        "/connections/{name}",
        response_model=ConnectionSummary,
        dependencies=read,
        responses=_NOT_FOUND,
        tags=["connections"],
    )
    async def get_connection(name: Name) -> dict[str, Any]:
        """One stored connection."""
        return await connection_view(relay, name)

    @router.post(
        "/connections/{name}/test",
        response_model=TestOutcome,
        dependencies=operate,
        responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
        tags=["connections"],
    )
    async def test_connection(name: Name) -> dict[str, Any]:
        """Make the component's cheap authenticated call (Calendly: ``GET /users/me``) with
        it; a failure answers 200 with what the API said."""
        return await try_connection(relay, name)

    @router.delete(
        "/connections/{name}",
        response_model=Deleted,
        dependencies=admin,
        responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
        tags=["connections"],
    )
    async def remove_connection(
        name: Name,
        force: Annotated[bool, Query(description="Delete it even while instances use it.")] = False,
    ) -> dict[str, Any]:
        """Delete it and its token: 409 while an instance uses it, unless ``force``."""
        return {"name": name, "used_by": await delete_connection(relay, name, force=force)}

    @router.post(
        "/connections/{name}/reconnect",
        response_model=ReconnectStarted,
        dependencies=admin,
        responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
        tags=["connections"],
    )
    async def reconnect_connection(name: Name) -> dict[str, Any]:
        """Begin the authorization-code flow again (state and PKCE, as ``relay connect``):
        the user opens ``authorize_url``; the server's callback stores the new token. The
        callback must reach this same server process within ``expires_in``."""
        request = await reconnects.begin(relay, name, redirect_uri)
        return {
            "name": name,
            "authorize_url": request.url,
            "redirect_uri": redirect_uri,
            "expires_in": reconnects.ttl,
        }

    @router.get(
        CALLBACK_PATH,
        response_class=PlainTextResponse,
        responses={
            **_problem(400, "The authorization was refused"),
            **_problem(404, "No reconnect is waiting for this state"),
        },
        tags=["connections"],
    )
    async def oauth_callback(
        request: Request,
        state: Annotated[str, Query(min_length=1, max_length=200)],
    ) -> PlainTextResponse:
        """Where the authorization server sends the browser back (no API token: the
        ``state`` of a reconnect begun here is the proof)."""
        name = await reconnects.finish(relay, str(request.url), state)
        return PlainTextResponse(f"relay: connection {name} is connected; you can close this tab.")

    return router


__all__ = ["CALLBACK_PATH", "connections_router"]
