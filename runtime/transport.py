"""relay's HTTP transport: origins as httpx sends to them, hosts served in process, the pooled
client of each event loop, and the plain-HTTP credentials rule that ``HttpClient`` and token
endpoints are held to."""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from runtime.errors import ConfigurationError, RetriableApiError

if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping

Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def origin_text(origin: Origin | None) -> str:
    """An origin as text for messages (``scheme://host:port``)."""
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
        # made on the first network request: its TLS context loads the CA bundle (~40 ms),
        # which a runtime that only validates flows or talks in-process never needs
        self._network: httpx.AsyncHTTPTransport | None = None

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
            transport = self._asgi.get(url.host) or self._network or self._open_network()
        return transport.handle_async_request(request)

    def _open_network(self) -> httpx.AsyncHTTPTransport:
        self._network = httpx.AsyncHTTPTransport()
        return self._network

    async def aclose(self) -> None:
        """Close the network transport's pooled connections (in-process apps hold none)."""
        if self._network is not None:
            await self._network.aclose()


class RequestObserver(Protocol):
    """What an ``InterceptingRouter`` shows each request to (a flow test's recorder)."""

    def answer(self, seen: Mapping[str, Any]) -> tuple[int, Mapping[str, str], bytes] | None:
        """``(status, headers, body)`` to answer the request here, or ``None`` to send it on.
        ``seen``: ``method``, ``url``, ``host``, ``path``, ``query`` (a dict), ``headers``
        (``content-type`` only) and ``body`` (bytes)."""

    def answered(self, seen: Mapping[str, Any], status: int, *, here: bool) -> None:
        """The request got ``status`` (``here``: from ``answer``, not from its host)."""


class InterceptingRouter(HostRouter):
    """A ``HostRouter`` that shows every request to ``observer`` first, which may answer it
    (a test's fixture) or let it go on to its host; every answer is reported back."""

    def __init__(self, hosts: Mapping[str, Any] | None, observer: RequestObserver) -> None:
        super().__init__(hosts)
        self.observer = observer

    def handle_async_request(self, request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        """Observe, then answer here or pass on."""
        return self._intercept(request)

    async def _intercept(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        seen = {
            "method": request.method,
            "url": str(url.copy_with(query=None)),
            "host": url.host,
            "path": url.path,
            "query": dict(url.params),
            "headers": {"content-type": request.headers.get("content-type", "")},
            "body": body,
        }
        given = self.observer.answer(seen)
        if given is not None:
            status, headers, content = given
            self.observer.answered(seen, status, here=True)
            return httpx.Response(status, headers=dict(headers), content=content, request=request)
        response = await super().handle_async_request(request)
        self.observer.answered(seen, response.status_code, here=False)
        return response


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
    def direct_router(self) -> HostRouter | None:
        """``router`` when every request goes to it (no mount, such as a proxy, takes some
        URLs elsewhere; httpx reads no proxy from the environment for a client given its own
        transport): a request may then be handed to it without ``send``, which would add
        nothing this client uses."""
        return self.router if not self._mounts else None

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
    return f"refusing to send {what} to {origin_text(origin)} over plain HTTP: use its https:// URL"


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
        where = origin_text(origin) if origin is not None else url.split("?", 1)[0]
        raise RetriableApiError(
            0, "Network Error", f"cannot reach {where} ({type(exc).__name__})"
        ) from exc
    return answer.status_code, answer.headers.get("location", "")
