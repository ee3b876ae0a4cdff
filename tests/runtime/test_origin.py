"""A connection's token goes only to its API's origin (scheme, host and port), never along a
redirect, and credentials cross the network only over https. Every host here is real and
in-process (``Runtime(hosts=...)``): one app is the API, another stands for every other origin
and records whatever reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from relay_tokens import StaticToken
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from components.calendly.connection import OAUTH2, PERSONAL_TOKEN
from runtime import ConfigurationError, ManualClock, Runtime
from runtime.http import HttpClient
from runtime.oauth import token_request
from runtime.transport import origin_of

API = "http://127.0.0.1:8001"


class Recorder:
    """An ASGI app that records the Authorization header of every request it receives."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

        async def anything(request: Request) -> Response:
            self.seen.append(request.headers.get("authorization"))
            if request.url.path == "/redirect":
                return RedirectResponse(request.query_params["to"], status_code=302)
            if request.url.path == "/oauth/token":
                return JSONResponse({"access_token": "new", "token_type": "Bearer"})
            return JSONResponse({"ok": True})

        self.app = Starlette(
            routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE"])]
        )


def client_for(runtime: Runtime, base: str) -> HttpClient:
    return HttpClient(
        base,
        client=runtime.http_client(),
        clock=ManualClock(),
        auth=StaticToken("alice-token"),
        retries=0,
    )


@pytest_asyncio.fixture
async def hosts() -> AsyncIterator[tuple[Runtime, Recorder, Recorder]]:
    api, other = Recorder(), Recorder()
    runtime = Runtime(
        load_entry_points=False,
        hosts={
            API: api.app,
            "http://127.0.0.1:8002": other.app,
            "https://127.0.0.1:8001": other.app,
            "127.0.0.1": other.app,  # any other scheme or port of the same host
            "auth.calendly.com": other.app,
        },
    )
    yield runtime, api, other
    await runtime.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8002/users/me",
        "https://127.0.0.1:8001/users/me",
        "http://127.0.0.1/users/me",
        "http://127.0.0.1:80/users/me",
        "http://user:pw@127.0.0.1:8001/users/me",
        "http://127.0.0.1:8001@127.0.0.1:8002/users/me",
        "HTTP://127.0.0.1:8002/users/me",
    ],
)
async def test_the_token_never_goes_to_another_port_or_scheme(
    hosts: tuple[Runtime, Recorder, Recorder], url: str
) -> None:
    runtime, api, other = hosts
    with pytest.raises(ConfigurationError, match="another host, port or scheme"):
        await client_for(runtime, API).request("GET", url)
    assert api.seen == other.seen == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url", ["/users/me", f"{API}/users/me", "HTTP://127.0.0.1:8001/users/me", "users/me"]
)
async def test_the_same_origin_gets_the_token(
    hosts: tuple[Runtime, Recorder, Recorder], url: str
) -> None:
    runtime, api, other = hosts
    response = await client_for(runtime, API).request("GET", url)
    assert response.status == 200
    assert api.seen == ["Bearer alice-token"]
    assert other.seen == []


@pytest.mark.asyncio
async def test_a_redirect_to_another_origin_is_not_followed(
    hosts: tuple[Runtime, Recorder, Recorder],
) -> None:
    runtime, api, other = hosts
    response = await client_for(runtime, API).request(
        "GET", "/redirect", params={"to": "http://127.0.0.1:8002/stolen"}
    )
    assert response.status == 302
    assert api.seen == ["Bearer alice-token"]
    assert other.seen == []


@pytest.mark.asyncio
async def test_credentials_cross_the_network_only_over_https(
    hosts: tuple[Runtime, Recorder, Recorder],
) -> None:
    runtime, _, other = hosts
    with pytest.raises(ConfigurationError, match="over plain HTTP"):
        await client_for(runtime, "http://api.calendly.com").request("GET", "/users/me")
    with pytest.raises(ConfigurationError, match="over plain HTTP"):
        await token_request(
            runtime.http_client(),
            "http://api.calendly.example/oauth/token",
            client_id="id",
            client_secret="client-secret-value",
            form={"grant_type": "refresh_token", "refresh_token": "r"},
            now=0.0,
            connection="cal",
        )
    # a host served in-process, or loopback, is no network: allowed over http
    token = await token_request(
        runtime.http_client(),
        "http://auth.calendly.com/oauth/token",
        client_id="id",
        client_secret="client-secret-value",
        form={"grant_type": "refresh_token", "refresh_token": "r"},
        now=0.0,
        connection="cal",
    )
    assert token.access_token == "new" and len(other.seen) == 1


def test_live_calendly_is_https_only() -> None:
    for connection in (OAUTH2, PERSONAL_TOKEN):
        defaults = {i.key: i.default for i in connection.inputs if i.default is not None}
        live = connection.endpoints_for({**defaults, "useLiveServer": True})
        for url in (live.api_base_url, live.token_url, live.authorize_url):
            origin = origin_of(url)
            assert origin is not None and origin[0] == "https", url


# -- any URL ----------------------------------------------------------------------------------

LIVE = "https://api.calendly.com"
_HOSTS = [
    "api.calendly.com",
    "API.Calendly.COM",
    "api.calendly.com.",
    "api.calendly.com.evil.test",
    "evil.test",
    "api%2Ecalendly.com",
    "xn--mnchen-3ya.test",
    "münchen.test",
    "127.0.0.1",
    "[::1]",
]


def _url(parts: tuple[str, str, str, str, str]) -> str:
    scheme, userinfo, host, port, path = parts
    return f"{scheme}://{userinfo}{host}{port}/{path}"


def _is_live_origin(parts: tuple[str, str, str, str, str]) -> bool:
    scheme, userinfo, host, port, _ = parts
    return (
        scheme.lower() == "https"
        and not userinfo
        and host.lower() == "api.calendly.com"
        and port in ("", ":443", ":0443")
    )


urls = st.tuples(
    st.sampled_from(["https", "HTTPS", "Https", "http", "HTTP", "ftp"]),
    st.sampled_from(["", "user@", "user:pw@", "api.calendly.com@", "a%40b@"]),
    st.sampled_from(_HOSTS),
    st.sampled_from(["", ":443", ":0443", ":80", ":8443", ":444"]),
    st.text(alphabet="abc/%2F@?#:\\.;=", max_size=12),
)


@given(urls)
@pytest.mark.asyncio
async def test_any_absolute_url_gets_the_token_only_on_the_apis_origin(
    parts: tuple[str, str, str, str, str],
) -> None:
    api, other = Recorder(), Recorder()
    served: dict[str, Any] = {httpx.URL(f"http://{h}/").host: other.app for h in _HOSTS}
    runtime = Runtime(load_entry_points=False, hosts={**served, LIVE: api.app})
    url = _url(parts)
    try:
        try:
            response = await client_for(runtime, LIVE).request("GET", url, raise_for_status=False)
        except ConfigurationError as exc:
            assert "\n" not in str(exc)
            assert not _is_live_origin(parts), url
            assert api.seen == other.seen == []
            return
        assert response.status in (200, 302, 404), url
        assert other.seen == [], url
        assert api.seen == ["Bearer alice-token"], url
    finally:
        await runtime.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("base", "allowed"),
    [
        ("http://widgets.test/v2", True),
        ("HTTP://WIDGETS.test:80", True),
        ("http://widgets.test:8080", False),
        ("https://widgets.test", False),
        ("http://widgets.test.evil.test", False),
    ],
)
async def test_a_components_base_url_keeps_the_connections_origin(
    rt: Runtime, base: str, allowed: bool
) -> None:
    handle = await rt.open_connection(
        "w", "widgets", "oauth", {"clientId": "widget-client", "clientSecret": "widget-secret"}
    )
    ctx = rt.context()
    if allowed:
        assert ctx.http(handle, base_url=base).base_url == base.rstrip("/")
    else:
        with pytest.raises(ConfigurationError, match="another host, port or scheme"):
            ctx.http(handle, base_url=base)
