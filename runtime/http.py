"""The one place relay talks HTTP (httpx is imported nowhere else in runtime or components).

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

import functools
import ipaddress
import json as jsonlib
import random
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

import httpx
from attrs import frozen

from runtime.errors import ApiError, ConfigurationError, FatalApiError, RetriableApiError

if TYPE_CHECKING:
    from runtime.clock import Clock

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
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@functools.lru_cache(maxsize=512)
def origin_of(url: str) -> Origin | None:
    """The origin a request for ``url`` is sent to, parsed as httpx parses what it sends
    (default ports filled in); ``None`` unless ``url`` is an absolute http(s) URL with a host
    and without user info (credentials in a URL are never what relay means to send)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.raw_host or parsed.userinfo:
        return None
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[parsed.scheme]
    return parsed.scheme, parsed.raw_host.decode("ascii").lower(), port


def _origin_text(origin: Origin | None) -> str:
    return "no usable origin" if origin is None else f"{origin[0]}://{origin[1]}:{origin[2]}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostRouter(httpx.AsyncBaseTransport):
    """Serves some hosts from in-process ASGI apps and everything else over the network.

    A key ``"api.example.test"`` serves that host on any scheme and port; a key that is an
    origin (``"http://127.0.0.1:8001"``) serves only that scheme, host and port (and wins over
    a host key)."""

    def __init__(self, hosts: Mapping[str, Any] | None = None) -> None:
        self._asgi: dict[str, httpx.ASGITransport] = {}
        self._origins: dict[Origin, httpx.ASGITransport] = {}
        for key, app in (hosts or {}).items():
            origin = origin_of(key) if "://" in key else None
            if "://" in key and origin is None:
                raise ConfigurationError(f"in-process host {key!r} is not an http(s) origin")
            if origin is not None:
                self._origins[origin] = httpx.ASGITransport(app=app)
            else:
                self._asgi[key.lower()] = httpx.ASGITransport(app=app)
        self._network = httpx.AsyncHTTPTransport()

    def serves_in_process(self, host: str) -> bool:
        """Whether some in-process app answers for ``host`` (on any scheme or port)."""
        return host.lower() in self._asgi or any(o[1] == host.lower() for o in self._origins)

    def serves_origin(self, origin: Origin) -> bool:
        """Whether requests for ``origin`` stay in this process (no network)."""
        return origin in self._origins or origin[1] in self._asgi

    def handle_async_request(self, request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        """The chosen transport's coroutine itself (not awaited here: one frame fewer)."""
        url = request.url
        transport: httpx.AsyncBaseTransport | None = None
        if self._origins:
            port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
            transport = self._origins.get((url.scheme, url.raw_host.decode("ascii").lower(), port))
        if transport is None:
            transport = self._asgi.get(url.host, self._network)
        return transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the network transport's pooled connections (in-process apps hold none)."""
        await self._network.aclose()


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing and adds nothing. (Cookies passed with one request
    still go with that request: httpx copies them into a jar of their own.)"""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class PooledClient(httpx.AsyncClient):
    """httpx's client without cookie persistence (``router``: its transport, when made by
    ``shared_client``). One pool serves every connection of every
    instance (many users of one API), so a cookie set in answer to one user's request must
    never ride along on another's; APIs relay calls authenticate by token, not by session
    cookie. (Skipping the cookie jar also saves parsing every response's headers twice.)"""

    router: HostRouter | None = None

    @property
    def cookies(self) -> httpx.Cookies:
        """The jar that keeps nothing, so no user's cookie reaches another user's request."""
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("relay's pooled client keeps no cookies")


_NO_COOKIES = _NoCookies()


def shared_client(router: HostRouter, timeout: float = 30.0) -> httpx.AsyncClient:
    """One pooled client per runtime; every ``HttpClient`` borrows it."""
    client = PooledClient(
        transport=router,
        timeout=timeout,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )
    client.router = router
    return client


def credentials_problem(client: httpx.AsyncClient, url: str, what: str) -> str | None:
    """Why ``what`` (a token, a client secret) must not be sent to ``url``, or ``None``: only
    https carries credentials over the network; plain http only to a loopback address or a
    host ``client``'s router (see ``shared_client``) serves in-process."""
    origin = origin_of(url)
    if origin is None:
        return f"refusing to send {what} to a URL that is not an absolute http(s) URL"
    if origin[0] == "https" or _is_loopback(origin[1]):
        return None
    router = getattr(client, "router", None)
    if not isinstance(router, HostRouter):
        return None  # a transport relay did not make (a test's mock): not relay's network
    if router.serves_origin(origin):
        return None
    return (
        f"refusing to send {what} to {_origin_text(origin)} over plain HTTP: use its https:// URL"
    )


def check_credentials_url(client: httpx.AsyncClient, url: str, what: str) -> None:
    """``credentials_problem`` as a ``ConfigurationError``."""
    problem = credentials_problem(client, url, what)
    if problem is not None:
        raise ConfigurationError(problem)


async def get_redirect(client: httpx.AsyncClient, url: str) -> tuple[int, str]:
    """GET ``url`` without following a redirect: ``(status, Location)``. A server that cannot
    be reached is a ``RetriableApiError`` naming its origin (never httpx's own exception)."""
    try:
        answer = await client.get(url, follow_redirects=False)
    except httpx.TransportError as exc:
        origin = origin_of(url)
        where = _origin_text(origin) if origin is not None else url.split("?", 1)[0]
        raise RetriableApiError(
            0, "Network Error", f"cannot reach {where} ({type(exc).__name__})"
        ) from exc
    return answer.status_code, answer.headers.get("location", "")


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
        self._origin = origin_of(self.base_url)
        self._checked_credentials = False
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
                f"refusing to send a request for {_origin_text(self._origin)} to another "
                f"host, port or scheme ({_origin_text(target)}): credentials stay with their "
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
                    ),
                    follow_redirects=False,  # a redirect could lead the token away
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
