"""OAuth 2.0 token requests: authorization code (with PKCE) and refresh.

Kept small on purpose: authlib supplies PKCE and token generation; the token endpoint calls go
through relay's own HTTP layer so they share its transports (a sandbox in-process) and its
error translation. (authlib's httpx client now targets httpx2, which relay does not use.)
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from attrs import evolve, field, frozen
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from runtime.errors import ApiError, ReconnectRequired
from runtime.transport import check_credentials_url

if TYPE_CHECKING:
    from collections.abc import Mapping


#: The key in ``Token.extra`` under which a refused refresh is kept (relay's own, not a token
#: endpoint's: an answer's fields are kept under their own names).
REFRESH_FAILED = "relay_refresh_failed"


@frozen
class Token:
    """An OAuth token set. Secrets are kept out of ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token kind, not a secret
    scope: str = ""
    extra: Mapping[str, Any] = field(factory=dict)

    def expires_within(self, now: float, margin: float) -> bool:
        """Whether the token expires before ``now + margin`` (never, without an expiry)."""
        return self.expires_at is not None and self.expires_at - margin <= now

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: float) -> Token:
        """Build from a token endpoint's JSON answer (``expires_in`` relative to ``now``)."""
        if not isinstance(body.get("access_token"), str):
            raise ApiError(200, "Invalid Token Response", "no access_token in the answer")
        expires_in = body.get("expires_in")
        created = body.get("created_at")
        start = float(created) if isinstance(created, int | float) and created > 0 else now
        known = {"access_token", "refresh_token", "expires_in", "token_type", "scope"}
        return cls(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=start + float(expires_in) if isinstance(expires_in, int | float) else None,
            token_type=str(body.get("token_type", "Bearer")),
            scope=str(body.get("scope", "")),
            extra={k: v for k, v in body.items() if k not in known and k != "created_at"},
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, for encrypted storage only."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "scope": self.scope,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Rebuild a token from ``to_dict``'s form (as stored)."""
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
            token_type=str(data.get("token_type", "Bearer")),
            scope=str(data.get("scope", "")),
            extra=dict(data.get("extra") or {}),
        )

    @property
    def refresh_failure(self) -> str | None:
        """Why the last refresh of this token was refused (``invalid_grant``...), if it was."""
        reason = self.extra.get(REFRESH_FAILED)
        return reason if isinstance(reason, str) else None

    def refresh_failed(self, reason: str) -> Token:
        """The same token marked as refused by the token endpoint (see ``refresh_failure``)."""
        return evolve(self, extra={**self.extra, REFRESH_FAILED: reason})

    def expired_copy(self, at: float) -> Token:
        """The same token marked as expiring at ``at`` (to force a refresh)."""
        return evolve(self, expires_at=at)


@frozen
class AuthorizationRequest:
    """The first leg of the authorization-code flow: where to send the user, and what to keep."""

    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str


def authorization_request(
    authorize_url: str, client_id: str, redirect_uri: str, scope: str = ""
) -> AuthorizationRequest:
    """A fresh state and PKCE verifier, and the authorize URL carrying them."""
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if scope:
        query["scope"] = scope
    sep = "&" if urlsplit(authorize_url).query else "?"
    return AuthorizationRequest(
        f"{authorize_url}{sep}{urlencode(query)}", state, verifier, redirect_uri
    )


def code_from_redirect(location: str, expected_state: str) -> str:
    """The code in a redirect back to us, after checking ``state``."""
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        raise ReconnectRequired("authorization", query["error"][0])
    if query.get("state", [""])[0] != expected_state:
        raise ReconnectRequired("authorization", "the state parameter does not match")
    code = query.get("code", [""])[0]
    if not code:
        raise ReconnectRequired("authorization", "no code in the redirect")
    return code


#: The most of a token endpoint's error text a message carries (it is the server's words).
MAX_SERVER_TEXT = 300


def _server_text(value: Any, form: Mapping[str, str], client_secret: str) -> str:
    """A token endpoint's ``error``/``error_description`` fit for a message: one line, at most
    ``MAX_SERVER_TEXT`` characters, with any secret of the request (a code, a refresh token, a
    verifier, the client secret) that the server echoed replaced."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    secrets_sent = [form.get(k) for k in ("code", "refresh_token", "code_verifier")]
    for secret in (*secrets_sent, client_secret):
        if secret:
            text = text.replace(secret, "[redacted]")
    if len(text) > MAX_SERVER_TEXT:
        text = text[: MAX_SERVER_TEXT - 3] + "..."
    return text


async def token_request(
    client: httpx.AsyncClient,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    form: Mapping[str, str],
    now: float,
    connection: str,
) -> Token:
    """POST a grant to the token endpoint (client auth by HTTP Basic) and parse the answer.

    ``invalid_grant`` becomes ``ReconnectRequired``; other failures become ``ApiError``.
    """
    check_credentials_url(client, token_url, "the client secret")  # https, unless local
    try:
        response = await client.post(
            token_url,
            data=dict(form),
            auth=httpx.BasicAuth(client_id, client_secret),
            headers={"Accept": "application/json"},
        )
    except httpx.TransportError as exc:
        raise ApiError(
            0, "Network Error", f"token endpoint unreachable ({type(exc).__name__})"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or not isinstance(body, dict):
        said = body if isinstance(body, dict) else {}
        error = _server_text(said.get("error"), form, client_secret)
        description = _server_text(said.get("error_description"), form, client_secret)
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise ReconnectRequired(connection, f"{error}: {description}".rstrip(": "))
        raise ApiError(
            response.status_code, error or "Token Error", description or "token request failed"
        )
    return Token.from_response(body, now)
