"""Who may call the API: a bearer token of a scope at least the one a route needs, from a
client address that has not failed too often.

Missing, unknown and revoked tokens get 401 with ``WWW-Authenticate: Bearer``; a valid token
of too small a scope gets 403. Failed attempts (a token that is not valid) are counted per
client address over a sliding minute; past the limit that address gets 429 with
``Retry-After`` until its oldest failure ages out. The counts live in this process's memory
(each server process counts its own, and a restart forgets them): enough to make guessing a
256-bit token slower still, and to keep a misconfigured script from hammering the store.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runtime.management.problems import ApiProblem
from runtime.store.api_tokens import scope_allows

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.service import Service
    from runtime.store.api_tokens import ApiToken

#: Failed attempts per client address per ``WINDOW`` before it is refused.
FAILURES_ALLOWED = 10
#: Seconds over which failures are counted.
WINDOW = 60.0
#: Addresses tracked at once; the least recently failing are forgotten first (bounded memory
#: whoever sends requests).
TRACKED = 10_000

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="relay"'}

bearer = HTTPBearer(auto_error=False, description="An API token: `relay tokens create`.")


class FailedAttempts:
    """Failed authentications by client address over a sliding window (``monotonic``: the
    clock, which tests replace)."""

    def __init__(
        self,
        allowed: int = FAILURES_ALLOWED,
        window: float = WINDOW,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed = allowed
        self.window = window
        self._monotonic = monotonic
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or ``None`` when it may now."""
        found = self._failures.get(address)
        if found is None:
            return None
        t = self._monotonic()
        while found and found[0] <= t - self.window:
            found.popleft()
        if not found:
            del self._failures[address]
            return None
        if len(found) < self.allowed:
            return None
        return max(1, math.ceil(found[0] + self.window - t))

    def failed(self, address: str) -> None:
        """Count a failed attempt from ``address``."""
        found = self._failures.pop(address, None) or deque()
        found.append(self._monotonic())
        while len(found) > self.allowed:
            found.popleft()
        self._failures[address] = found
        while len(self._failures) > TRACKED:
            self._failures.popitem(last=False)


class Authenticator:
    """Checks bearer tokens against ``relay``'s store, counting failures in ``attempts``."""

    def __init__(self, relay: Service, attempts: FailedAttempts) -> None:
        self.relay = relay
        self.attempts = attempts
        self._known: set[str] = set()

    async def token(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> ApiToken:
        """The valid token the request carries, or the problem to answer with."""
        address = request.client.host if request.client else "unknown"
        wait = self.attempts.retry_after(address)
        if wait is not None:
            raise ApiProblem(
                429,
                "rate-limited",
                f"too many failed authentications from this address: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        if credentials is None:  # no guess was made: not counted
            raise ApiProblem(
                401,
                "unauthorized",
                "an API token is required: Authorization: Bearer <token>",
                headers=CHALLENGE,
            )
        secret = credentials.credentials
        found = await self.relay.store.api_token_for(secret)
        if found is None:
            self.attempts.failed(address)
            raise ApiProblem(
                401,
                "unauthorized",
                "the API token is not valid (unknown or revoked)",
                headers={"WWW-Authenticate": 'Bearer realm="relay", error="invalid_token"'},
            )
        if found.id not in self._known:
            # a valid token is a secret of this process from now on: scrubbed from its logs
            # and records (only valid ones: a guessed string must not grow the redactor)
            self._known.add(found.id)
            self.relay.runtime.redactor.add([secret])
        return found

    def require(self, scope: str) -> Callable[..., Awaitable[ApiToken]]:
        """A dependency admitting tokens of ``scope`` or above (403 for smaller ones)."""

        async def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> ApiToken:
            found = await self.token(request, credentials)
            if not scope_allows(found.scope, scope):
                raise ApiProblem(
                    403,
                    "forbidden",
                    f"this needs a token of scope {scope} or above; this one is {found.scope}",
                )
            return found

        return dependency
