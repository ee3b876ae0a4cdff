"""``/api/v1/connections`` over HTTP on both stores, against the in-process Calendly sandbox
(real OAuth tokens, real refresh, real revocation): status, test, delete, reconnect through
the server's own callback, every scope, unknown names; never a secret in an answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_api import Api

from runtime.oauth import Token

pytestmark = pytest.mark.asyncio

SANDBOX = "http://calendly.sandbox.invalid"
#: the sandbox's public test client
CLIENT_SECRET = "sandbox-client-secret"
FIELDS = {"clientId": "sandbox-client-id", "clientSecret": CLIENT_SECRET, "useLiveServer": False}
KEY = "calendlyOauth2Connection"
WHOAMI = """\
name: whoami
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
steps:
  - id: me
    action: calendly.getCurrentUser
    inputs: {connection: "${{ config.calendly }}"}
"""
#: The routes under a connection's name, with the smallest scope each admits.
ROUTES = [
    ("GET", "/connections", "read"),
    ("GET", "/connections/acme", "read"),
    ("POST", "/connections/acme/test", "operate"),
    ("DELETE", "/connections/acme", "admin"),
    ("POST", "/connections/acme/reconnect", "admin"),
]
SCOPES = ("read", "operate", "admin")


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = answer.json()
    assert found["status"] == status and found["detail"]
    return found


class Connected:
    """The API with the stored connection ``acme`` (used by the instance ``whoami``) and the
    secrets no answer may hold."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.answers: list[str] = []

    async def secrets(self) -> list[str]:
        token = await self.token()
        assert token is not None and token.refresh_token
        return [token.access_token, token.refresh_token, CLIENT_SECRET]

    async def token(self, name: str = "acme") -> Token | None:
        found: Token | None = await self.api.relay.store.tokens.load(f"connection:{name}")
        return found

    async def call(self, method: str, path: str, scope: str = "admin", **kw: Any) -> httpx.Response:
        answer = await self.api.client.request(
            method, "/api/v1" + path, headers=self.api.auth(scope), **kw
        )
        self.answers.append(answer.text)
        return answer

    async def sandbox(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request to the in-process sandbox (its control API, its OAuth server)."""
        return await self.api.relay.runtime.http_client().request(method, SANDBOX + path, **kw)

    async def assert_no_secret_answered(self, *extra: str) -> None:
        for secret in [*await self.secrets(), *extra]:
            assert all(secret not in text for text in self.answers)


@pytest_asyncio.fixture
async def conn(api: Api, tmp_path: Path) -> Connected:
    await api.relay.connect("acme", "calendly", KEY, FIELDS)
    flow = tmp_path / "whoami.yaml"
    flow.write_text(WHOAMI)
    await api.relay.deploy(flow, {"calendly": {"use": "acme"}}, "whoami")
    return Connected(api)


async def test_connections_are_listed_with_their_token_state_and_users(conn: Connected) -> None:
    listed = await conn.call("GET", "/connections", "read")
    assert listed.status_code == 200
    [row] = listed.json()
    token = await conn.token()
    assert token is not None
    [overview] = await conn.api.relay.store.connection_overview("acme")
    assert row == {
        "name": "acme",
        "component": "calendly",
        "key": KEY,
        "kind": "oauth2",
        "status": "connected",
        "reason": None,
        "token_expires_at": token.expires_at,
        "last_refresh": overview["token"]["updated_at"],
        "saved_at": overview["saved_at"],
        "used_by": ["whoami"],
    }
    shown = await conn.call("GET", "/connections/acme", "read")
    assert shown.status_code == 200 and shown.json() == row
    await conn.assert_no_secret_answered()


async def test_a_test_call_is_ok_then_reports_the_api_error(conn: Connected) -> None:
    ok = await conn.call("POST", "/connections/acme/test", "operate")
    assert ok.status_code == 200
    assert ok.json() == {"name": "acme", "result": "ok", "error": None}
    faults = await conn.sandbox("POST", "/_sandbox/faults", json={"error_rate_5xx": 1.0})
    assert faults.status_code == 200
    failed = await conn.call("POST", "/connections/acme/test", "operate")
    assert failed.status_code == 200
    found = failed.json()
    assert found["result"] == "failed" and found["error"]["status"] == 500
    assert found["error"]["title"] and found["error"]["message"]
    await conn.assert_no_secret_answered()


async def test_an_expiring_token_then_a_refused_refresh_need_attention(conn: Connected) -> None:
    token = await conn.token()
    assert token is not None and token.refresh_token
    store = conn.api.relay.store.tokens
    now = conn.api.relay.runtime.clock.time()
    # within Calendly's refresh margin (60 s): the next use refreshes it
    await store.save("connection:acme", token.expired_copy(now + 30))
    row = (await conn.call("GET", "/connections/acme", "read")).json()
    assert row["status"] == "expiring" and row["token_expires_at"] == now + 30
    assert "refresh margin" in row["reason"]
    # a refresh token revoked at the server: the test's refresh is refused (invalid_grant)
    await store.save("connection:acme", token.expired_copy(now - 1))
    revoked = await conn.sandbox(
        "POST",
        "/oauth/revoke",
        data={"token": token.refresh_token},
        auth=(FIELDS["clientId"], CLIENT_SECRET),
    )
    assert revoked.status_code == 200
    failed = (await conn.call("POST", "/connections/acme/test", "operate")).json()
    assert failed["result"] == "failed" and failed["error"]["status"] is None
    assert failed["error"]["title"] == "Reconnect Required"
    assert "invalid_grant" in failed["error"]["message"]
    row = (await conn.call("GET", "/connections/acme", "read")).json()
    assert row["status"] == "reconnect_needed"
    assert row["reason"].startswith("the last refresh was refused: invalid_grant")
    await conn.assert_no_secret_answered()


async def test_a_token_that_cannot_be_refreshed_warns_a_day_ahead(conn: Connected) -> None:
    token = await conn.token()
    assert token is not None
    now = conn.api.relay.runtime.clock.time()
    bare = Token(token.access_token, None, now + 3600)
    await conn.api.relay.store.tokens.save("connection:acme", bare)
    row = (await conn.call("GET", "/connections/acme", "read")).json()
    assert row["status"] == "expiring" and "cannot be refreshed" in row["reason"]
    await conn.api.relay.store.tokens.save("connection:acme", bare.expired_copy(now - 1))
    row = (await conn.call("GET", "/connections/acme", "read")).json()
    assert row["status"] == "reconnect_needed"
    # a connection stored without any token
    await conn.api.relay.store.save_connection("bare", "calendly", KEY, FIELDS)
    row = (await conn.call("GET", "/connections/bare", "read")).json()
    assert (row["status"], row["reason"], row["last_refresh"]) == (
        "reconnect_needed",
        "no token is stored",
        None,
    )


async def test_reconnect_returns_an_authorize_url_whose_callback_this_server_serves(
    conn: Connected,
) -> None:
    before = await conn.token()
    await conn.api.relay.store.tokens.save("connection:acme", Token("dead", None, 1.0))
    started = await conn.call("POST", "/connections/acme/reconnect")
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["redirect_uri"] == "http://relay.test/api/v1/oauth/callback"
    query = parse_qs(urlsplit(body["authorize_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["redirect_uri"] == [body["redirect_uri"]] and query["state"]
    assert body["authorize_url"].startswith(SANDBOX + "/oauth/authorize?")
    # the user approves (the sandbox consents to a plain GET) and the browser comes back
    consent = await conn.sandbox("GET", body["authorize_url"].removeprefix(SANDBOX))
    assert consent.status_code == 302
    back = urlsplit(consent.headers["location"])
    assert back.path == "/api/v1/oauth/callback"
    # the callback needs no API token: the state is its proof
    answer = await conn.api.client.get(f"{back.path}?{back.query}")
    assert answer.status_code == 200 and "acme is connected" in answer.text
    after = await conn.token()
    assert after is not None and before is not None
    assert after.access_token not in ("dead", before.access_token)
    row = (await conn.call("GET", "/connections/acme", "read")).json()
    assert row["status"] == "connected"
    assert (await conn.call("POST", "/connections/acme/test", "operate")).json()["result"] == "ok"
    # a state is good once
    problem(await conn.api.client.get(f"{back.path}?{back.query}"), 404)
    # nor the code the browser brought back
    await conn.assert_no_secret_answered(parse_qs(back.query)["code"][0])


async def test_a_refused_consent_and_an_unknown_state_are_problems(conn: Connected) -> None:
    started = (await conn.call("POST", "/connections/acme/reconnect")).json()
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    refused = await conn.api.client.get(
        "/api/v1/oauth/callback", params={"state": state, "error": "access_denied"}
    )
    assert "access_denied" in problem(refused, 400)["detail"]
    unknown = await conn.api.client.get("/api/v1/oauth/callback", params={"state": "guess"})
    assert "state" in problem(unknown, 404)["detail"]


async def test_delete_is_refused_while_used_unless_forced(conn: Connected) -> None:
    refused = problem(await conn.call("DELETE", "/connections/acme"), 409)
    assert "whoami" in refused["detail"] and "acme" in refused["detail"]
    assert (await conn.call("GET", "/connections/acme", "read")).status_code == 200
    forced = await conn.call("DELETE", "/connections/acme", params={"force": "true"})
    assert forced.status_code == 200
    assert forced.json() == {"name": "acme", "used_by": ["whoami"]}
    assert await conn.token() is None
    problem(await conn.call("GET", "/connections/acme", "read"), 404)
    await conn.api.relay.store.save_connection("spare", "calendly", KEY, FIELDS)
    spare = await conn.call("DELETE", "/connections/spare")
    assert spare.json() == {"name": "spare", "used_by": []}


async def test_each_scope_reaches_what_it_allows_and_no_more(conn: Connected) -> None:
    for method, path, needed in ROUTES:
        bare = await conn.api.client.request(method, "/api/v1" + path)
        problem(bare, 401)
        for scope in SCOPES[: SCOPES.index(needed)]:
            found = problem(await conn.call(method, path, scope), 403)
            assert needed in found["detail"]
    assert (await conn.call("POST", "/connections/acme/test", "operate")).status_code == 200
    assert (await conn.call("POST", "/connections/acme/reconnect")).status_code == 200


async def test_unknown_names_are_404_problems_naming_them(conn: Connected) -> None:
    for method, path, _scope in ROUTES[1:]:
        found = problem(await conn.call(method, path.replace("acme", "ghost")), 404)
        assert found["detail"] == "no stored connection 'ghost'"


async def test_any_name_in_a_path_gets_an_answer_or_a_problem(conn: Connected) -> None:
    loop = asyncio.get_running_loop()
    names = st.text(min_size=1, max_size=60).filter(lambda n: n not in (".", ".."))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(names, st.sampled_from(ROUTES[1:]))
    def check(name: str, route: tuple[str, str, str]) -> None:
        method, path, _scope = route
        target = path.replace("acme", quote(name, safe=""))
        answer = asyncio.run_coroutine_threadsafe(conn.call(method, target), loop).result()
        assert "Traceback" not in answer.text
        if name == "acme":
            assert answer.status_code in (200, 409), answer.text
            return
        # an encoded "/" is a path separator to the router: then no route matches at all
        assert answer.status_code in (404, 405, 422), answer.text
        assert answer.headers["content-type"] == "application/problem+json"

    await asyncio.to_thread(check)
