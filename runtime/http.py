"""The one place relay talks HTTP (with ``runtime.transport`` beneath it; no other module
imports httpx).

``HttpClient`` is bound to one API base URL. It sends a connection's token only to that
URL's origin (scheme, host and port, as httpx parses them: ``origin_of``), never follows a
redirect, and sends credentials over plain HTTP only to loopback or in-process hosts
(``credentials_problem``, which token endpoints are held to as well). It refreshes once on a
401, waits out rate limits (``Retry-After`` or ``X-RateLimit-Reset``: seconds until the window
resets), retries network errors and 5xx for idempotent requests, and
turns error responses into relay's ``ApiError`` family. Transports are injected: hosts offered
in-process (a sandbox) are served through ``httpx.ASGITransport`` with no socket.
"""

from __future__ import annotations

import json as jsonlib
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

import httpx
from attrs import frozen

from runtime.errors import ApiError, ConfigurationError, FatalApiError, RetriableApiError
from runtime.transport import (
    check_credentials_url,
    origin_of,
    origin_text,
)

if TYPE_CHECKING:
    from runtime.clock import Clock

#: The pooled client type, re-exported so no other module imports httpx for annotations.
AsyncClient = httpx.AsyncClient

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@frozen
class Response:
    """A finished response, fully read. ``headers`` is case-insensitive; ``dict(headers.items())``
    copies it (repeated headers joined with commas)."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    #: The URL as sent (an ``httpx.URL`` or a string); ``url`` is its text.
    sent_to: Any

    @property
    def url(self) -> str:
        """The URL the request went to, as text (for messages and logs)."""
        return str(self.sent_to)

    def json(self) -> Any:
        """The body decoded as JSON (None when empty); a body that is not JSON is a
        ``FatalApiError``, so callers never see a raw decoding error."""
        if not self.content:
            return None
        try:
            return jsonlib.loads(self.content)
        except ValueError as exc:
            raise FatalApiError(self.status, "Invalid Response", "the body is not JSON") from exc

    @property
    def text(self) -> str:
        """The body as UTF-8 text, undecodable bytes replaced (never raises)."""
        return self.content.decode("utf-8", "replace")


class TokenSource(Protocol):
    """What ``HttpClient`` needs from a connection: the current token, and a fresh one."""

    async def access_token(self) -> str:
        """The token to send now (refreshed beforehand if it is known to have expired)."""
        ...

    async def refreshed(self, stale: str) -> str:
        """A new token after the API refused ``stale`` (once per request, on a 401)."""
        ...


ErrorParser = Callable[[Response], ApiError]

#: ``await limiter(key)`` before each request sent for a connection, ``key`` being the
#: connection's store key: a rate limit shared by everything using that connection (on every
#: worker) waits here. Set on ``Runtime.request_limiter``; the Dramatiq workers use one.
RequestLimiter = Callable[[str], Awaitable[None]]


def default_error(response: Response) -> ApiError:
    """``{title, message, details}`` bodies (Calendly and many REST APIs) or the status alone."""
    title, message, details = "", response.text[:500], []
    try:
        body = jsonlib.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        title = str(body.get("title") or body.get("error") or "")
        message = str(body.get("message") or body.get("error_description") or title)
        raw_details = body.get("details")
        if isinstance(raw_details, list):
            details = [d if isinstance(d, dict) else {"message": str(d)} for d in raw_details]
    if not message:
        message = httpx.codes.get_reason_phrase(response.status) or "error"
    kind = RetriableApiError if response.status == 429 or response.status >= 500 else FatalApiError
    return kind(response.status, title, message, details)


#: (scheme, host, port): where a request goes. Hosts are lowercase ASCII (IDNA-encoded).
class HttpClient:
    """Requests against one base URL, authenticated by an optional ``TokenSource``."""

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient,
        clock: Clock,
        auth: TokenSource | None = None,
        error_parser: ErrorParser = default_error,
        retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        timeout: float | None = None,
        on_request: Callable[[str, str, int], None] | None = None,
        before_request: Callable[[], Awaitable[None]] | None = None,
        credential: tuple[str, str, str | None] = ("Authorization", "Bearer ", None),
    ) -> None:
        """``before_request`` is awaited before every attempt is sent (retries included, as
        each counts against the API's limit); it may wait for a rate-limit slot or raise.
        ``credential`` says how ``auth``'s token travels: (header, prefix, query parameter),
        the query parameter instead of the header when it is not ``None``."""
        self.base_url = base_url.rstrip("/")
        self._origin = origin_of(self.base_url)
        self._checked_credentials = False
        self._client = client
        #: relay's pooled client's router, when requests may go to it directly (``_exchange``)
        self._router: httpx.AsyncBaseTransport | None = getattr(client, "direct_router", None)
        self._clock = clock
        #: Whose token the requests carry.
        self.auth = auth
        self._error = error_parser
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self._on_request = on_request
        self._before_request = before_request
        self._credential = credential

    def url(self, path: str) -> str:
        """The absolute URL for ``path``; an absolute URL must be on this client's origin
        (scheme, host and port). A relative one is joined to the base URL after a ``/``, which
        ends the base's authority, so it cannot leave the origin."""
        if self._origin is None:
            raise ConfigurationError(f"{self.base_url!r} is not an absolute http(s) URL")
        if _ABSOLUTE.match(path) is None:
            return f"{self.base_url}/{path.lstrip('/')}"
        target = origin_of(path)
        if target != self._origin:
            raise ConfigurationError(
                f"refusing to send a request for {origin_text(self._origin)} to another "
                f"host, port or scheme ({origin_text(target)}): credentials stay with their "
                "API's origin"
            )
        return path

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpx's per-request timeout, not a wait)
        retries: int | None = None,
        retry_all: bool = False,
        raise_for_status: bool = True,
    ) -> Response:
        """Send a request, with refresh-on-401, rate-limit waits and retries; see module doc."""
        method = method.upper()
        url = self.url(path)
        idempotent = method in IDEMPOTENT or retry_all
        budget = self.retries if retries is None else retries
        attempt = 0
        refreshed = False
        self._check_credentials_once()
        token = await self.auth.access_token() if self.auth is not None else None
        url, query = _merge_query(url, _query(params)) if params or "?" in url else (url, None)
        send_timeout = timeout or self.timeout or httpx.USE_CLIENT_DEFAULT
        while True:
            attempt += 1
            sent_headers = dict(headers) if headers else {}
            sent_query = query
            if token is not None:
                header, prefix, in_query = self._credential
                if in_query is None:
                    sent_headers[header] = prefix + token
                else:
                    sent_query = [*(query or ()), (in_query, token)]
            if self._before_request is not None:
                await self._before_request()
            try:
                raw = await self._exchange(
                    self._client.build_request(
                        method,
                        url,
                        params=sent_query,
                        json=json,
                        data=data,
                        files=files,
                        headers=sent_headers,
                        timeout=send_timeout,
                    )
                )
            except httpx.TransportError as exc:
                if (idempotent or isinstance(exc, httpx.ConnectError)) and attempt <= budget:
                    await self._clock.sleep(self._backoff(attempt))
                    continue
                kind = type(exc).__name__
                raise RetriableApiError(
                    0, "Network Error", f"{kind} calling {method} {url}"
                ) from exc
            # httpx's headers are kept as they are (a case-insensitive mapping, decoded on
            # lookup): copying them into a dict decoded every header of every response
            response = Response(raw.status_code, raw.headers, raw.content, raw.request.url)
            if self._on_request is not None:
                self._on_request(method, url, response.status)
            if (
                response.status == 401
                and self.auth is not None
                and token is not None
                and not refreshed
            ):
                refreshed = True
                token = await self.auth.refreshed(token)
                continue
            retry_same = response.status == 429 or (response.status >= 500 and idempotent)
            if retry_same and attempt <= budget:
                await self._clock.sleep(self._wait(response, attempt))
                continue
            if response.status >= 400 and raise_for_status:
                error = self._error(response)
                if response.status == 429:
                    error.retry_after = self._wait(response, attempt)
                raise error
            return response

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its whole body. On relay's pooled client the request goes
        straight to the pool's router: what ``AsyncClient.send`` adds on the way (auth, cookies,
        redirects, event hooks) the pooled client has none of, and its four frames would be
        resumed again at every wait of every request. Any other client, or the pooled one
        with a mount (a proxy for some URLs), sends as usual."""
        router = self._router
        if router is None:
            # never follow: a redirect could lead the token away
            return await self._client.send(request, follow_redirects=False)
        raw = await router.handle_async_request(request)
        raw.request = request
        try:
            await raw.aread()
        except BaseException:
            await raw.aclose()
            raise
        return raw

    def _check_credentials_once(self) -> None:
        """Refuse (once per client) to send a token to a base URL that must not carry one."""
        if self.auth is not None and not self._checked_credentials:
            check_credentials_url(self._client, self.base_url, "a connection's token")
            self._checked_credentials = True

    def _backoff(self, attempt: int) -> float:
        base: float = self.backoff * 2 ** (attempt - 1)
        return min(self.max_wait, base / 2 + random.random() * base / 2)

    def _wait(self, response: Response, attempt: int) -> float:
        for header in ("retry-after", "x-ratelimit-reset"):
            value = response.headers.get(header)
            if value is not None:
                try:
                    return min(self.max_wait, max(0.0, float(value)))
                except ValueError:
                    continue
        return self._backoff(attempt)


def _merge_query(
    url: str, params: dict[str, Any] | None
) -> tuple[str, list[tuple[str, Any]] | None]:
    """Keep a query written into the path and add ``params`` to it. (httpx replaces the URL's
    query whenever ``params`` is given, even empty; ``None`` when there is nothing, because
    httpx rebuilds the URL for any params value.)"""
    base, mark, written = url.partition("?")
    pairs: list[tuple[str, Any]] = parse_qsl(written, keep_blank_values=True) if mark else []
    for key, value in (params or {}).items():
        if isinstance(value, list | tuple):
            pairs.extend((key, item) for item in value)
        else:
            pairs.append((key, value))
    return base, pairs or None


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset values; booleans as ``true``/``false`` (not Python's ``True``)."""
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
