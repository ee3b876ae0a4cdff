"""The API's tokens (admin scope): list them (never a secret), create one (its secret in that
answer only), revoke one. A revoked token is refused from the next request on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from runtime.errors import ConfigurationError, NotFound
from runtime.management.problems import ApiProblem, ProblemRoute
from runtime.management.routes import NO_NUL

if TYPE_CHECKING:
    from runtime.management.auth import Authenticator
    from runtime.service import Service


class TokenView(BaseModel):
    """A stored API token, without its secret."""

    id: str
    name: str
    scope: Literal["read", "operate", "admin"]
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


class NewToken(BaseModel):
    """A token to make."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    scope: Literal["read", "operate", "admin"]


class CreatedToken(TokenView):
    """A new token: ``token`` is shown in this answer and never again."""

    token: str


def tokens_router(relay: Service, auth: Authenticator) -> APIRouter:
    """``/tokens``: admin scope."""
    router = APIRouter(
        prefix="/tokens",
        tags=["tokens"],
        route_class=ProblemRoute,
        dependencies=[Depends(auth.require("admin"))],
    )

    @router.get("", response_model=list[TokenView])
    async def list_tokens() -> list[dict[str, object]]:
        """Every token, revoked ones too, oldest first (never a secret)."""
        return [t.as_dict() for t in await relay.store.list_api_tokens()]

    @router.post("", response_model=CreatedToken, status_code=201)
    async def create_token(request: NewToken) -> dict[str, object]:
        """Make a token; 409 while a valid one has that name."""
        try:
            made, secret = await relay.store.create_api_token(request.name, request.scope)
        except ConfigurationError as exc:
            raise ApiProblem(409, "conflict", str(exc)) from None
        relay.runtime.redactor.add([secret])
        return {**made.as_dict(), "token": secret}

    @router.delete("/{name_or_id}", response_model=TokenView)
    async def revoke_token(
        name_or_id: Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)],
    ) -> dict[str, object]:
        """Revoke the valid token with this name or id (404 when there is none)."""
        try:
            return (await relay.store.revoke_api_token(name_or_id)).as_dict()
        except NotFound as exc:
            raise ApiProblem(404, "not-found", str(exc)) from None

    return router
