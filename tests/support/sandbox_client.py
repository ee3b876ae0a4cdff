"""The client side of the Calendly sandbox in its tests: in-process clients, PKCE pairs and
the authorization-code flow."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from components.calendly.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox

REDIRECT = "http://127.0.0.1:1/cb"


def in_process_client(sb: Sandbox, token: str | None = None) -> httpx.AsyncClient:
    """A client reaching ``sb`` with no socket, at its base URL; with ``token``, as its
    bearer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sb.app), base_url=sb.config.base_url, headers=headers
    )


def pkce_pair(verifier: str) -> tuple[str, str]:
    """``verifier`` and its S256 code challenge (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def code_flow_tokens(
    http: httpx.AsyncClient,
    client: tuple[str, str] = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    redirect: str = REDIRECT,
) -> dict[str, Any]:
    """The authorization-code flow, as a client runs it: the token response."""
    r = await http.get(
        "/oauth/authorize",
        params={"client_id": client[0], "response_type": "code", "redirect_uri": redirect},
    )
    assert r.status_code == 302, r.text
    code = httpx.URL(r.headers["location"]).params["code"]
    tok = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        auth=client,
    )
    assert tok.status_code == 200, tok.text
    body: dict[str, Any] = tok.json()
    return body
