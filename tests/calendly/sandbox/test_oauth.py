"""The OAuth server in-process: codes with PKCE, rotating refresh tokens, expiry, errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sandbox_client import code_flow_tokens, pkce_pair

from components.calendly.sandbox import Sandbox

from .conftest import FakeClock

CLIENT, SECRET = "sandbox-client-id", "sandbox-client-secret"
REDIRECT = "http://localhost:9999/callback"
VERIFIER = "correct-horse-battery-staple-" * 2


async def _code(c: httpx.AsyncClient, challenge: str | None = None, state: str = "xyz") -> str:
    params = {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": state,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    r = await c.get("/oauth/authorize", params=params)
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


@pytest.mark.asyncio
async def test_code_exchange_with_pkce_and_rotation(sb: Sandbox, anon: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair(VERIFIER)
    code = await _code(anon, challenge)
    r = await anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(CLIENT, SECRET),
    )
    assert r.status_code == 200, r.text
    tok = r.json()
    assert set(tok) == {
        "token_type",
        "access_token",
        "refresh_token",
        "expires_in",
        "created_at",
        "scope",
        "owner",
        "organization",
    }
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 7200
    assert isinstance(tok["created_at"], int) and tok["scope"] == "default"
    assert tok["owner"] == sb.owner.uri and tok["organization"] == sb.organization.uri
    me = await anon.get("/users/me", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert me.status_code == 200

    # Code is single use.
    again = await anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(CLIENT, SECRET),
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # JSON body with client credentials in the body works too; the old token is then dead.
    r2 = await anon.post(
        "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": tok["refresh_token"],
            "client_id": CLIENT,
            "client_secret": SECRET,
        },
    )
    assert r2.status_code == 200
    assert r2.json()["refresh_token"] != tok["refresh_token"]
    reuse = await anon.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tok["refresh_token"],
            "client_id": CLIENT,
            "client_secret": SECRET,
        },
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    grants = [(t.grant_type, t.outcome) for t in sb.token_requests]
    assert grants.count(("refresh_token", "ok")) == 1
    assert ("refresh_token", "invalid_grant") in grants


@pytest.mark.asyncio
async def test_pkce_mismatch_and_wrong_redirect(anon: httpx.AsyncClient) -> None:
    _verifier, challenge = pkce_pair(VERIFIER)
    code = await _code(anon, challenge)
    bad = await anon.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "wrong",
        },
        auth=(CLIENT, SECRET),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    code2 = await _code(anon)
    wrong = await anon.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code2, "redirect_uri": REDIRECT + "x"},
        auth=(CLIENT, SECRET),
    )
    assert wrong.json()["error"] == "invalid_grant"


@pytest.mark.asyncio
async def test_code_expires_after_ten_minutes(anon: httpx.AsyncClient, clock: FakeClock) -> None:
    code = await _code(anon)
    clock.advance(601)
    r = await anon.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(CLIENT, SECRET),
    )
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.asyncio
async def test_client_and_grant_errors(anon: httpx.AsyncClient) -> None:
    r = await anon.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(CLIENT, "nope"),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await anon.post("/oauth/token", data={"grant_type": "password"}, auth=(CLIENT, SECRET))
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = await anon.post("/oauth/token", data={}, auth=(CLIENT, SECRET))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = await anon.get(
        "/oauth/authorize",
        params={
            "client_id": CLIENT,
            "response_type": "token",
            "redirect_uri": REDIRECT,
            "state": "s",
        },
    )
    assert r.status_code == 302 and "error=unsupported_response_type" in r.headers["location"]


@pytest.mark.asyncio
async def test_expired_and_revoked_tokens_are_unauthenticated(
    sb: Sandbox, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    tok = sb.issue_token()
    headers = {"Authorization": f"Bearer {tok['access_token']}"}
    assert (await anon.get("/users/me", headers=headers)).status_code == 200
    clock.advance(7200)
    r = await anon.get("/users/me", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"title": "Unauthenticated", "message": "The access token is invalid"}

    tok2 = sb.issue_token()
    info = await anon.post(
        "/oauth/introspect",
        data={"client_id": CLIENT, "client_secret": SECRET, "token": tok2["access_token"]},
    )
    assert info.json()["active"] is True
    assert (
        await anon.post(
            "/oauth/revoke",
            data={"client_id": CLIENT, "client_secret": SECRET, "token": tok2["access_token"]},
        )
    ).status_code == 200
    info = await anon.post(
        "/oauth/introspect",
        data={"client_id": CLIENT, "client_secret": SECRET, "token": tok2["access_token"]},
    )
    assert info.json() == {"active": False}
    r = await anon.get("/users/me", headers={"Authorization": f"Bearer {tok2['access_token']}"})
    assert r.status_code == 401


@pytest.mark.asyncio
async def test_pat_never_expires_and_registered_clients_work(
    sb: Sandbox, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    pat = sb.personal_access_token()
    clock.advance(10 * 365 * 86400)
    assert (
        await anon.get("/users/me", headers={"Authorization": f"Bearer {pat}"})
    ).status_code == 200
    client_id, secret = sb.register_client()
    assert secret != SECRET
    await code_flow_tokens(anon, (client_id, secret), REDIRECT)  # (asserts each answer)


@pytest.mark.asyncio
async def test_token_requests_are_limited_per_user(sb: Sandbox, anon: httpx.AsyncClient) -> None:
    refresh = sb.issue_token()["refresh_token"]
    statuses = []
    for _ in range(9):
        r = await anon.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=(CLIENT, SECRET),
        )
        statuses.append(r.status_code)
        if r.status_code == 200:
            refresh = r.json()["refresh_token"]
    assert statuses == [200] * 8 + [429]


@pytest.mark.asyncio
async def test_recorded_oauth_requests_hide_secrets(sb: Sandbox, anon: httpx.AsyncClient) -> None:
    refresh = sb.issue_token()["refresh_token"]
    await anon.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": CLIENT,
            "client_secret": SECRET,
        },
    )
    record = sb.requests[-1]
    assert record["json"]["refresh_token"] == "[redacted]"
    assert record["json"]["client_secret"] == "[redacted]"
    assert refresh not in str(sb.requests)
