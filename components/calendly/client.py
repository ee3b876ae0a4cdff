"""Calendly API access shared by every action, data source and trigger.

URIs or bare UUIDs are accepted everywhere (picklists give UUIDs, payloads give URIs); unset
values are never sent (an unset filter sent as ``false`` would filter); lists page with the
largest page each endpoint allows (fewer requests) until ``next_page_token`` is null.

Every request that changes something carries the step's ``Idempotency-Key`` when the step has
one: Calendly ignores headers it does not know, and the key lets a server (or a test) tell a
repeated step's request from a new one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from components.calendly.pages import read_pages

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime import ConnectionHandle, Context, HttpClient

_UUID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def to_uuid(value: Any) -> str:
    """``https://api.calendly.com/users/ABC`` or ``ABC`` -> ``ABC``; anything else is refused.
    (Also the input cleaner of every URI-or-UUID input.)"""
    text = str(value).strip()
    if "://" in text:
        path = urlsplit(text).path.rstrip("/")
        text = path.rsplit("/", 1)[-1] if path else ""
    if not _UUID.match(text):
        raise ValueError(f"is not a Calendly URI or UUID: {value!r}")
    return text


#: Input cleaner: accepts a URI or a bare UUID, returns the UUID.
clean_uuid = to_uuid


def drop_unset(values: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the user set: ``None`` and empty strings are not sent."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


IDEMPOTENCY_HEADER = "Idempotency-Key"


def write_headers(ctx: Context) -> dict[str, str] | None:
    """The headers of a request that changes something: the step's idempotency key, if any."""
    key = ctx.idempotency_key
    return {IDEMPOTENCY_HEADER: key} if key else None


class CalendlyClient:
    """One connection's view of the Calendly API."""

    def __init__(self, ctx: Context, connection: ConnectionHandle) -> None:
        self.base_url = connection.endpoints.api_base_url.rstrip("/")
        self.http: HttpClient = ctx.http(connection)
        self._ctx = ctx

    @property
    def write_headers(self) -> dict[str, str] | None:
        """The headers of this client's writes (read when one is sent: a read needs no key)."""
        return write_headers(self._ctx)

    def uri(self, collection: str, value: str) -> str:
        """A full resource URI (what Calendly's query filters take) from a URI or a UUID."""
        return f"{self.base_url}/{collection}/{to_uuid(value)}"

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` with the set ``params`` as the query; the parsed JSON body."""
        query = drop_unset(params) if params else None
        response = await self.http.request("GET", path, params=query)
        return response.json()

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST the set fields of ``body`` as JSON to ``path``; the parsed JSON body."""
        response = await self.http.request(
            "POST", path, json=drop_unset(body or {}), headers=self.write_headers
        )
        return response.json()

    async def delete(self, path: str) -> None:
        """DELETE ``path`` (an error status raises, as for every request)."""
        await self.http.request("DELETE", path, headers=self.write_headers)

    async def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> list[Any]:
        """Every item of a paginated collection (or the first ``limit``), each page once."""
        return await read_pages(
            lambda query: self.get(path, query), path, drop_unset(params or {}), limit=limit
        )
