"""What a handler gets: the caller, the sandbox, and strict Calendly-style parameter parsing."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from ..errors import ApiError, bad_param, forbidden, not_found
from ..pagination import paginate
from ..timeutil import parse_iso

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request

    from ..models import JSON, User
    from ..sandbox import Sandbox
    from ..tokens import AccessToken

T = TypeVar("T")
_UUID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Ctx:
    """One authenticated API request."""

    def __init__(self, request: Request, sb: Sandbox, token: AccessToken) -> None:
        self.request = request
        self.sb = sb
        self.token = token
        self.user: User = sb.state.users[token.user_uuid]
        self.now = sb.clock()
        self.render = sb.render
        self.state = sb.state

    # query parameters -----------------------------------------------------------------------
    def raw(self, name: str) -> str | None:
        """A query parameter as sent (last value wins, like Calendly's Rails stack)."""
        values = self.request.query_params.getlist(name)
        return values[-1] if values else None

    def required(self, name: str) -> str:
        """A query parameter that must be present and non-empty."""
        value = self.raw(name)
        if value is None or value == "":
            raise bad_param(name, "is required")
        return value

    def uri(self, name: str, collection: str, *, required: bool = False) -> str | None:
        """A query parameter holding a resource URI; returns the UUID at its end."""
        value = self.required(name) if required else self.raw(name)
        if value is None:
            return None
        return parse_uri(name, value, collection)

    def boolean(self, name: str) -> bool | None:
        """``true``/``false`` or absent."""
        value = self.raw(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise bad_param(name, "must be true or false")
        return value.lower() == "true"

    def enum(self, name: str, allowed: Sequence[str]) -> str | None:
        """One of ``allowed`` or absent."""
        value = self.raw(name)
        if value is None:
            return None
        if value not in allowed:
            raise bad_param(name, f"must be one of {', '.join(allowed)}")
        return value

    def email(self, name: str) -> str | None:
        """An email address or absent."""
        value = self.raw(name)
        if value is None:
            return None
        if not EMAIL_RE.match(value):
            raise bad_param(name, "must be a valid email")
        return value

    def time(self, name: str, *, required: bool = False) -> float | None:
        """An ISO 8601 time (UTC) or absent."""
        value = self.required(name) if required else self.raw(name)
        if value is None:
            return None
        parsed = parse_iso(value)
        if parsed is None:
            raise bad_param(name, "must be a valid ISO 8601 time")
        return parsed

    def count(self, maximum: int = 100) -> int:
        """``count``: 1..``maximum``, default 20."""
        value = self.raw("count")
        if value is None:
            return 20
        try:
            number = float(value)
        except ValueError:
            raise bad_param("count", f"must be an integer between 1 and {maximum}") from None
        if not number.is_integer() or not 1 <= number <= maximum:
            raise bad_param("count", f"must be an integer between 1 and {maximum}")
        return int(number)

    def sort(self, allowed: Sequence[str], default: str) -> list[tuple[str, bool]]:
        """``sort=field:dir[,field:dir]``; returns ``(field, descending)`` pairs."""
        value = self.raw("sort") or default
        keys: list[tuple[str, bool]] = []
        for part in value.split(","):
            field, _, direction = part.strip().partition(":")
            direction = direction or "asc"
            if field not in allowed or direction not in ("asc", "desc"):
                raise bad_param(
                    "sort", f"must be {{field}}:{{asc|desc}} with field in {', '.join(allowed)}"
                )
            keys.append((field, direction == "desc"))
        return keys

    # bodies ---------------------------------------------------------------------------------
    async def body(self, *, required: bool = True) -> dict[str, Any]:
        """The JSON object body; 400 when it is missing (if required) or not an object."""
        raw = await self.request.body()
        if not raw.strip():
            if required:
                raise ApiError(400, "The request body is required.")
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return data

    # permissions ----------------------------------------------------------------------------
    def in_org(self, org_uuid: str) -> bool:
        """Whether the caller belongs to the organization."""
        return self.state.role_of(self.user.uuid, org_uuid) is not None

    def is_admin(self, org_uuid: str) -> bool:
        """Whether the caller is an owner or admin of the organization."""
        return self.state.is_admin(self.user.uuid, org_uuid)

    def require_org(
        self, org_uuid: str, *, admin: bool = False, message: str | None = None
    ) -> None:
        """404 for an unknown organization; 403 when not a member (or not admin if asked)."""
        if org_uuid not in self.state.organizations:
            raise not_found()
        if not self.in_org(org_uuid) or (admin and not self.is_admin(org_uuid)):
            raise forbidden(message)

    def require_plan(self, minimum: str, message: str) -> None:
        """403 when the organization's plan is below ``minimum`` (standard or enterprise)."""
        order = {"free": 0, "standard": 1, "enterprise": 2}
        if order[self.sb.plan] < order[minimum]:
            raise forbidden(message)

    # responses ------------------------------------------------------------------------------
    def page(
        self,
        items: Sequence[T],
        path: str,
        render: Any,
        *,
        maximum: int = 100,
        extra: JSON | None = None,
    ) -> Response:
        """A paginated ``{collection, pagination}`` response for ``items``."""
        count = self.count(maximum)
        filters = [
            (k, v)
            for k, v in self.request.query_params.multi_items()
            if k not in ("count", "page_token")
        ]
        page, pagination = paginate(
            items,
            url=f"{self.sb.config.base_url}{path}",
            filters=filters,
            count=count,
            page_token=self.raw("page_token"),
            now=self.now,
            ttl=self.sb.config.page_token_ttl,
        )
        body: JSON = {"collection": [render(item) for item in page], "pagination": pagination}
        if extra:
            body.update(extra)
        return JSONResponse(body)


def parse_uri(name: str, value: str, collection: str) -> str:
    """The UUID at the end of ``…/{collection}/{uuid}``; 400 when ``value`` is not such a URI.

    Any host is accepted: resources are identified by path, so URIs minted by the real API
    (``https://api.calendly.com/...``) resolve too.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        raise bad_param(name, "must be a valid URI") from None
    segments = [s for s in parts.path.split("/") if s]
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(segments) < 2
        or segments[-2] != collection
        or not _UUID.match(segments[-1])
    ):
        raise bad_param(name, f"must be a valid {collection.rstrip('s')} URI")
    return segments[-1]


def resource(body: JSON, status: int = 200) -> JSONResponse:
    """``{"resource": ...}``."""
    return JSONResponse({"resource": body}, status_code=status)


def sort_items(items: list[T], keys: list[tuple[str, bool]], getters: dict[str, Any]) -> list[T]:
    """Stable multi-key sort: apply keys from last to first."""
    out = list(items)
    for field, desc in reversed(keys):
        out.sort(key=getters[field], reverse=desc)
    return out
