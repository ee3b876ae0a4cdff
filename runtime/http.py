"""The one place relay talks HTTP (httpx is imported nowhere else in runtime or components).

``HttpClient`` is bound to one API base URL. It sends a connection's token only to that host,
refreshes once on a 401, waits out rate limits (``Retry-After`` or ``X-RateLimit-Reset``:
seconds until the window resets), retries network errors and 5xx for idempotent requests, and
turns error responses into relay's ``ApiError`` family. Transports are injected: hosts offered
in-process (a sandbox) are served through ``httpx.ASGITransport`` with no socket.
"""

from __future__ import annotations

import functools
import json as jsonlib
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
from attrs import frozen

from runtime.clock import Clock
from runtime.errors import ApiError, ConfigurationError, FatalApiError, RetriableApiError

#: The pooled client type, re-exported so no other module imports httpx for annotations.
AsyncClient = httpx.AsyncClient

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
        return str(self.sent_to)

    def json(self) -> Any:
        if not self.content:
            return None
        try:
            return jsonlib.loads(self.content)
        except ValueError as exc:
            raise FatalApiError(self.status, "Invalid Response", "the body is not JSON") from exc

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class TokenSource(Protocol):
    """What ``HttpClient`` needs from a connection: the current token, and a fresh one."""

    async def access_token(self) -> str: ...

    async def refreshed(self, stale: str) -> str: ...


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


class HostRouter(httpx.AsyncBaseTransport):
    """Serves some hosts from in-process ASGI apps and everything else over the network."""

    def __init__(self, hosts: Mapping[str, Any] | None = None) -> None:
        self._asgi = {host: httpx.ASGITransport(app=app) for host, app in (hosts or {}).items()}
        self._network = httpx.AsyncHTTPTransport()

    def serves_in_process(self, host: str) -> bool:
        return host in self._asgi

    def handle_async_request(
        self, request: httpx.Request
    ) -> Coroutine[Any, Any, httpx.Response]:
        """The chosen transport's coroutine itself (not awaited here: one frame fewer)."""
        transport = self._asgi.get(request.url.host, self._network)
        return transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing and adds nothing. (Cookies passed with one request
    still go with that request: httpx copies them into a jar of their own.)"""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class PooledClient(httpx.AsyncClient):
    """httpx's client without cookie persistence. One pool serves every connection of every
    instance (many users of one API), so a cookie set in answer to one user's request must
    never ride along on another's; APIs relay calls authenticate by token, not by session
    cookie. (Skipping the cookie jar also saves parsing every response's headers twice.)"""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("relay's pooled client keeps no cookies")


_NO_COOKIES = _NoCookies()


def shared_client(router: HostRouter, timeout: float = 30.0) -> httpx.AsyncClient:
    """One pooled client per runtime; every ``HttpClient`` borrows it."""
    return PooledClient(
        transport=router,
        timeout=timeout,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


@functools.lru_cache(maxsize=256)
def _host(url: str) -> str:
    """(Cached: every step builds an ``HttpClient`` for the same few base URLs.)"""
    return (urlsplit(url).hostname or "").lower()


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
    ) -> None:
        """``before_request`` is awaited before every attempt is sent (retries included, as
        each counts against the API's limit); it may wait for a rate-limit slot or raise."""
        self.base_url = base_url.rstrip("/")
        self._host = _host(base_url)
        self._client = client
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

    def url(self, path: str) -> str:
        """The absolute URL for ``path``; an absolute URL must be on this client's host."""
        if path.startswith(("http://", "https://")):
            if _host(path) != self._host:
                raise ConfigurationError(
                    f"refusing to send a request for {self._host} to another host "
                    f"({_host(path) or 'none'}): credentials stay with their API"
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

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
        timeout: float | None = None,
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
        token = await self.auth.access_token() if self.auth is not None else None
        query = None
        if params or "?" in url:
            url, query = _merge_query(url, _query(params))
        send_timeout = timeout or self.timeout or httpx.USE_CLIENT_DEFAULT
        while True:
            attempt += 1
            sent_headers = dict(headers) if headers else {}
            if token is not None:
                sent_headers["Authorization"] = "Bearer " + token
            if self._before_request is not None:
                await self._before_request()
            try:
                # build + send is what ``AsyncClient.request`` does, one frame fewer to resume
                raw = await self._client.send(
                    self._client.build_request(
                        method,
                        url,
                        params=query,
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
            response = Response(raw.status_code, raw.headers, raw.content, raw.url)
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
