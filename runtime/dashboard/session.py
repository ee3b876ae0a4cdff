"""Who is signed in to the dashboard: an API token, held in an encrypted session cookie.

Signing in posts an API token. The cookie then holds that token, its CSRF token and the time
of sign-in, encrypted and authenticated with the store's keyring (Fernet): nothing in it can
be read or forged without the keys, and every process sharing the store reads it. Each request
looks the token up again, so a revoked token signs its sessions out at once and the token's
scope (``read``, ``operate``, ``admin``, as in the management API) decides what a page shows
and what a form may do. The cookie is ``HttpOnly``, ``SameSite=Strict``, limited to the
dashboard's path, and ``Secure`` when the dashboard is reached over https. Signing out ends
every session of the token begun until then (``api_tokens.signed_out_at``), wherever its
cookie is.

Every form carries the session's CSRF token; a post without it (or with another) is refused.
The sign-in form, before any session exists, is protected the same way by a random value in a
short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any

from attrs import field, frozen
from fastapi.security import HTTPAuthorizationCredentials

from runtime.management.problems import ApiProblem
from runtime.store.api_tokens import scope_allows
from runtime.store.crypto import DecryptionError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from runtime.management.auth import Authenticator
    from runtime.service import Service
    from runtime.store.api_tokens import ApiToken

#: The session cookie's name.
COOKIE = "relay_session"
#: The sign-in form's own CSRF cookie.
SIGNIN_COOKIE = "relay_signin"
#: Seconds a session lasts from sign-in.
SESSION_TTL = 12 * 3600.0
#: The longest cookie value read (a session cookie is a few hundred bytes).
COOKIE_MAX = 4096


@frozen
class Session:
    """A signed-in person: the token's record (its name and scope) and the session's CSRF
    token."""

    token: ApiToken
    csrf: str = field(repr=False)

    def may(self, scope: str) -> bool:
        """Whether the token's scope is ``scope`` or above."""
        return scope_allows(self.token.scope, scope)


class SignInFailed(Exception):
    """The token posted is not valid (or the address is rate-limited): the message says which."""


class Sessions:
    """Opens and checks sessions against ``relay``'s store; ``auth`` (the management API's
    token check) counts failed attempts and rate-limits them."""

    def __init__(self, relay: Service, auth: Authenticator, prefix: str) -> None:
        self.relay = relay
        self.auth = auth
        self.prefix = prefix
        self._known: set[str] = set()

    async def _token(self, request: Request, secret: str) -> ApiToken:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
        try:
            return await self.auth.token(request, credentials)
        except ApiProblem as exc:
            raise SignInFailed(exc.detail) from None

    async def sign_in(self, request: Request, response: Response, secret: str) -> Session:
        """Check ``secret`` and set the session cookie on ``response``."""
        found = await self._token(request, secret.strip())
        csrf = secrets.token_urlsafe(24)
        now = self.relay.runtime.clock.time()
        if found.signed_out_at is not None and now <= found.signed_out_at:
            now = found.signed_out_at + 0.001  # begun after the sign-out, on any clock
        sealed = self.relay.store.keyring.encrypt_json({"t": secret.strip(), "c": csrf, "at": now})
        response.set_cookie(
            COOKIE,
            sealed.decode(),
            max_age=int(SESSION_TTL),
            path=self.prefix,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.delete_cookie(SIGNIN_COOKIE, path=self.prefix)
        return Session(found, csrf)

    async def current(self, request: Request) -> Session | None:
        """The request's session, or ``None`` (no cookie, a forged or expired one, a revoked
        token)."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > COOKIE_MAX:
            return None
        opened = self._open(raw)
        if opened is None:
            return None
        secret, csrf, at = opened
        # not counted as a failed attempt when revoked: a cookie the keys open is no guess
        found = await self.relay.store.api_token_for(secret)
        if found is None:
            return None
        if found.signed_out_at is not None and at <= found.signed_out_at:
            return None  # signed out since (a copy of the cookie opens nothing either)
        if found.id not in self._known:  # a secret of this process from now on
            self._known.add(found.id)
            self.relay.runtime.redactor.add([secret])
        return Session(found, csrf)

    def _open(self, raw: str) -> tuple[str, str, float] | None:
        try:
            value: Any = self.relay.store.keyring.decrypt_json(raw.encode("ascii"))
        except (DecryptionError, UnicodeEncodeError, ValueError):
            return None
        if not isinstance(value, dict):
            return None
        secret, csrf, at = value.get("t"), value.get("c"), value.get("at")
        if not (isinstance(secret, str) and isinstance(csrf, str) and isinstance(at, int | float)):
            return None
        if at + SESSION_TTL < self.relay.runtime.clock.time():
            return None
        return secret, csrf, float(at)

    async def sign_out(self, session: Session, response: Response) -> None:
        """End every session of ``session``'s token begun until now (in every process and
        browser: a copied cookie opens nothing), and delete the cookie on ``response``."""
        now = self.relay.runtime.clock.time()
        await self.relay.store.sign_out_api_token(session.token.id, now)
        response.delete_cookie(COOKIE, path=self.prefix)

    def signin_csrf(self, request: Request, response: Response) -> str:
        """The sign-in form's CSRF value (set in its own cookie when new)."""
        value = request.cookies.get(SIGNIN_COOKIE)
        if not value or len(value) > 64:
            value = secrets.token_urlsafe(24)
            response.set_cookie(
                SIGNIN_COOKIE,
                value,
                max_age=3600,
                path=self.prefix,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return value


def same(a: object, b: object) -> bool:
    """Whether two CSRF values are the same string (in constant time)."""
    if not isinstance(a, str) or not isinstance(b, str) or not a:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
