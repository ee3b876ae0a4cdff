"""Token bookkeeping for the OAuth server: clients, codes, access/refresh tokens and PATs.

Refresh tokens are single-use and rotate: every successful token call revokes the refresh
token it used and returns a new one, as Calendly does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import SandboxConfig


@attrs.define
class AccessToken:
    """An access token (OAuth, expiring) or a personal access token (never expires)."""

    token: str
    user_uuid: str
    client_id: str | None
    scope: str
    created_at: float
    expires_at: float | None
    kind: str = "oauth"
    revoked: bool = False

    def scopes(self) -> set[str]:
        """The granted scopes as a set."""
        return set(self.scope.split())


@attrs.define
class RefreshToken:
    """A refresh token; ``revoked`` once used or explicitly revoked."""

    token: str
    user_uuid: str
    client_id: str
    scope: str
    created_at: float
    revoked: bool = False


@attrs.define
class AuthCode:
    """An authorization code; single use, short-lived."""

    code: str
    client_id: str
    redirect_uri: str
    user_uuid: str
    scope: str
    code_challenge: str | None
    created_at: float
    used: bool = False


@attrs.define
class TokenRequest:
    """One call to ``/oauth/token`` (tests count refreshes with these)."""

    client_id: str | None
    grant_type: str | None
    user_uuid: str | None
    at: float
    outcome: str


class OAuthError(Exception):
    """An OAuth error response ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}")


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class TokenStore:
    """Issues, checks, rotates and revokes tokens; all times come from the injected clock."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.clients: dict[str, str] = dict(config.clients)
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.requests: list[TokenRequest] = []
        #: whether tokens outlive a restart (a state file): refresh errors say so when not
        self.persistent = False

    # clients --------------------------------------------------------------------------------
    def register_client(self) -> tuple[str, str]:
        """Create a client with random credentials."""
        client_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        self.clients[client_id] = secret
        return client_id, secret

    def check_client(self, client_id: str | None, secret: str | None) -> str:
        """Authenticate a client; ``invalid_client`` (401) otherwise."""
        if not client_id or client_id not in self.clients:
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        if secret is None or not secrets.compare_digest(self.clients[client_id], secret):
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        return client_id

    # issuing --------------------------------------------------------------------------------
    def issue(self, user_uuid: str, client_id: str, scope: str) -> tuple[AccessToken, str]:
        """A new access token plus a new refresh token for the user."""
        now = self.clock()
        access = AccessToken(
            token=secrets.token_urlsafe(32),
            user_uuid=user_uuid,
            client_id=client_id,
            scope=scope,
            created_at=now,
            expires_at=now + self.config.access_token_ttl,
        )
        self.access[access.token] = access
        refresh = RefreshToken(
            token=secrets.token_urlsafe(32),
            user_uuid=user_uuid,
            client_id=client_id,
            scope=scope,
            created_at=now,
        )
        self.refresh[refresh.token] = refresh
        return access, refresh.token

    def personal(self, user_uuid: str, scope: str = "default") -> str:
        """A personal access token for the user; it never expires."""
        token = AccessToken(
            token=secrets.token_urlsafe(32),
            user_uuid=user_uuid,
            client_id=None,
            scope=scope,
            created_at=self.clock(),
            expires_at=None,
            kind="pat",
        )
        self.access[token.token] = token
        return token.token

    def new_code(
        self, client_id: str, redirect_uri: str, user_uuid: str, scope: str, challenge: str | None
    ) -> str:
        """Store and return a fresh authorization code."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(
            code=code,
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_uuid=user_uuid,
            scope=scope,
            code_challenge=challenge,
            created_at=self.clock(),
        )
        return code

    # grants ---------------------------------------------------------------------------------
    def exchange_code(
        self, client_id: str, code: str | None, redirect_uri: str | None, verifier: str | None
    ) -> tuple[AccessToken, str]:
        """The authorization_code grant (with the PKCE check when a challenge was sent)."""
        if not code:
            raise OAuthError("invalid_request", "The request is missing the code parameter.")
        record = self.codes.get(code)
        if record is None or record.client_id != client_id:
            raise OAuthError("invalid_grant", "The provided authorization grant is invalid.")
        if record.used or self.clock() - record.created_at > self.config.authorization_code_ttl:
            raise OAuthError("invalid_grant", "The authorization code is expired or used.")
        if redirect_uri != record.redirect_uri:
            raise OAuthError("invalid_grant", "The redirect_uri does not match.")
        if record.code_challenge is not None and (
            not verifier or s256(verifier) != record.code_challenge
        ):
            raise OAuthError("invalid_grant", "The code_verifier does not match.")
        record.used = True
        return self.issue(record.user_uuid, client_id, record.scope)

    def rotate(self, client_id: str, token: str | None) -> tuple[AccessToken, str]:
        """The refresh_token grant: revoke the presented token, issue a new pair."""
        if not token:
            raise OAuthError("invalid_request", "The request is missing refresh_token.")
        record = self.refresh.get(token)
        if record is None:
            raise OAuthError("invalid_grant", self._unknown_refresh())
        if record.revoked or record.client_id != client_id:
            raise OAuthError(
                "invalid_grant",
                "The provided authorization grant is invalid, "
                "expired, revoked, or was issued to another client.",
            )
        record.revoked = True
        return self.issue(record.user_uuid, client_id, record.scope)

    def _unknown_refresh(self) -> str:
        if self.persistent:
            return "This refresh token is unknown to this sandbox; connect again."
        return (
            "This refresh token is unknown to this sandbox. A sandbox keeps its tokens across "
            "restarts only when started with --state FILE (relay sandbox --state FILE); "
            "connect again."
        )

    # checking -------------------------------------------------------------------------------
    def authenticate(self, bearer: str) -> AccessToken | None:
        """The live access token for ``bearer``; ``None`` if unknown, expired or revoked."""
        record = self.access.get(bearer)
        if record is None or record.revoked:
            return None
        if record.expires_at is not None and self.clock() >= record.expires_at:
            return None
        return record

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token; unknown tokens are ignored (RFC 7009)."""
        if token in self.access:
            self.access[token].revoked = True
        if token in self.refresh:
            self.refresh[token].revoked = True

    def recent_requests(self, user_uuid: str, window: float = 60.0) -> int:
        """Successful-or-not token requests for the user in the last ``window`` seconds."""
        since = self.clock() - window
        return sum(1 for r in self.requests if r.user_uuid == user_uuid and r.at > since)
