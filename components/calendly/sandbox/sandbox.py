"""The :class:`Sandbox` facade: state, OAuth, rate limits, faults, webhooks and the app."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_CLIENT_ID, SandboxConfig
from .errors import bad_param
from .faults import Faults
from .operations import Operations
from .persistence import SandboxStateError, StateFile, snapshot
from .ratelimit import RateLimiter
from .render import Renderer
from .seed import build_state
from .timeutil import parse_iso
from .tokens import AccessToken, TokenRequest, TokenStore
from .webhooks import Delivery, WebhookDispatcher

if TYPE_CHECKING:
    import os
    from collections.abc import Awaitable, Callable

    import httpx  # only for the annotation: webhooks.py is the one module that sends HTTP
    from starlette.applications import Starlette
    from starlette.requests import Request

    from .models import JSON, Organization, User

#: Recorded requests kept in memory; the oldest go first (benchmarks send many).
MAX_RECORDED_REQUESTS = 20000
_REDACTED_HEADERS = ("authorization", "cookie")
log = logging.getLogger(__name__)


def _uuid(ref: str | None) -> str | None:
    return ref.rstrip("/").rsplit("/", 1)[-1] if ref else None


def _to_epoch(value: float | str | datetime | None) -> float | None:
    if value is None or isinstance(value, float | int):
        return value
    if isinstance(value, datetime):
        return value.timestamp()
    parsed = parse_iso(value)
    if parsed is None:
        raise bad_param("start_time", "must be an ISO 8601 time")
    return parsed


class Sandbox:
    """An embedded, stateful fake of Calendly API v2, its OAuth server and webhook sender.

    ``clock`` and ``sleep`` are injectable so tests can move time (token expiry, rate-limit
    windows, webhook retry windows) without waiting; ``webhook_transport`` routes outgoing
    webhook POSTs (e.g. ``httpx.ASGITransport`` to an in-process receiver).

    With ``state_file`` the sandbox starts from that file (or seeds and creates it) and writes
    every change to it before the request that made the change is answered, so a restart keeps
    tokens, subscriptions and everything else; :class:`SandboxStateError` when it is unusable.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        clock: Callable[[], float] = time.time,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        from .app import build_app  # app imports the routes, which type-check against us

        self.config = config or SandboxConfig()
        self.clock = clock
        self.sleep = sleep
        self.plan: str = self.config.plan
        self.state_file = StateFile(state_file) if state_file is not None else None
        saved = self._open_state_file()
        # a saved state replaces the seed wholesale: seed no events only to throw them away
        events = self.config.events if saved is None else 0
        self.state = build_state(self.config.seed, events, clock(), self.config.base_url)
        self.render = Renderer(self.state, self.config.base_url)
        self.tokens = TokenStore(self.config, clock)
        self.limiter = RateLimiter(clock)
        self.faults = Faults()
        self.webhook_signing_key = self.config.webhook_signing_key or secrets.token_urlsafe(32)
        self.dispatcher = WebhookDispatcher(
            state=self.state,
            render=self.render,
            config=self.config,
            clock=clock,
            sleep=sleep,
            signing_key=self.webhook_signing_key,
            transport=webhook_transport,
            on_change=self._commit_in_background,
        )
        self.ops = Operations(self.state, self.render, clock, self.dispatcher.emit)
        self._requests: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=MAX_RECORDED_REQUESTS
        )
        self.app: Starlette = build_app(self)
        if self.state_file is not None:
            self.tokens.persistent = True
            try:
                if saved is not None:
                    self.state_file.load_into(self, saved)
                self.commit()  # a new file holds the seed at once (the seed depends on the day)
            except SandboxStateError:
                self.close()
                raise

    # persistence ----------------------------------------------------------------------------
    def _open_state_file(self) -> Any:
        if self.state_file is None:
            return None
        self.state_file.lock()
        try:
            return self.state_file.read()
        except SandboxStateError:
            self.close()
            raise

    def close(self) -> None:
        """Release the state file (another sandbox may then start on it)."""
        if self.state_file is not None:
            self.state_file.close()

    def commit(self) -> None:
        """Write the state file if anything changed since the last write (no file: nothing)."""
        if self.state_file is not None:
            self.state_file.write(snapshot(self))

    def _commit_in_background(self) -> None:
        # a delivery's outcome changes with no request to fail: log the write error once here
        try:
            self.commit()
        except SandboxStateError as exc:
            log.error("%s", exc)

    # seed objects ---------------------------------------------------------------------------
    @property
    def owner(self) -> User:
        """The organization owner (the default user for tokens and bookings)."""
        return self.state.users[self.state.owner_uuid]

    @property
    def organization(self) -> Organization:
        """The seeded organization."""
        return self.state.organizations[self.state.org_uuid]

    def user_uri(self, user: User) -> str:
        """The API URI of a user."""
        return self.render.user_uri(user.uuid)

    def org_uri(self) -> str:
        """The API URI of the seeded organization."""
        return self.render.org_uri(self.state.org_uuid)

    # auth -----------------------------------------------------------------------------------
    def _default_client(self) -> str:
        if DEFAULT_CLIENT_ID in self.tokens.clients:
            return DEFAULT_CLIENT_ID
        return next(iter(self.tokens.clients))

    def _user(self, user_uuid: str | None) -> str:
        uuid = _uuid(user_uuid) or self.state.owner_uuid
        if uuid not in self.state.users:
            raise KeyError(f"unknown user {user_uuid!r}")
        return uuid

    def token_response(self, access: AccessToken, refresh: str) -> dict[str, Any]:
        """The ``/oauth/token`` response body, exactly as Calendly sends it."""
        user = self.state.users[access.user_uuid]
        return {
            "token_type": "Bearer",
            "access_token": access.token,
            "refresh_token": refresh,
            "expires_in": self.config.access_token_ttl,
            "created_at": int(access.created_at),
            "scope": access.scope,
            "owner": self.render.user_uri(user.uuid),
            "organization": self.render.org_uri(user.org_uuid),
        }

    def issue_token(self, user_uuid: str | None = None, scope: str = "default") -> dict[str, Any]:
        """An OAuth token response for the user (owner by default) without HTTP."""
        access, refresh = self.tokens.issue(self._user(user_uuid), self._default_client(), scope)
        return self.token_response(access, refresh)

    def personal_access_token(self, user_uuid: str | None = None) -> str:
        """A non-expiring personal access token for the user (owner by default)."""
        return self.tokens.personal(self._user(user_uuid))

    def register_client(self) -> tuple[str, str]:
        """A new OAuth client with random credentials."""
        return self.tokens.register_client()

    @property
    def token_requests(self) -> list[TokenRequest]:
        """Every ``/oauth/token`` call (grant type, client, user, outcome)."""
        return list(self.tokens.requests)

    def resolve_user(self, ref: str | None) -> str | None:
        """A user UUID from a URI/UUID, the owner when ``ref`` is empty, ``None`` if unknown."""
        uuid = _uuid(ref) or self.state.owner_uuid
        return uuid if uuid in self.state.users else None

    # simulation -----------------------------------------------------------------------------
    def book(
        self,
        event_type_uuid: str | None = None,
        start_time: float | str | datetime | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> JSON:
        """An invitee books the event type (default: the owner's first active one)."""
        inv = self.ops.book(_uuid(event_type_uuid), _to_epoch(start_time), email, name)
        return self.render.invitee(inv)

    def cancel(self, invitee_uri_or_uuid: str, reason: str | None = None) -> JSON:
        """The invitee cancels; returns the canceled invitee."""
        return self.render.invitee(self.ops.cancel_invitee(invitee_uri_or_uuid, reason))

    def reschedule(
        self, invitee: str, new_start_time: float | str | datetime | None = None
    ) -> JSON:
        """The invitee reschedules; returns the new invitee."""
        return self.render.invitee(self.ops.reschedule(invitee, _to_epoch(new_start_time)))

    def mark_no_show(self, invitee: str) -> JSON:
        """Mark the invitee as a no-show; returns the InviteeNoShow."""
        return self.render.no_show(self.ops.mark_no_show(invitee))

    def unmark_no_show(self, invitee: str) -> None:
        """Remove the invitee's no-show mark."""
        self.ops.unmark_invitee(invitee)

    def submit_routing_form(
        self, form_uuid: str | None = None, answers: dict[str, str] | None = None
    ) -> JSON:
        """Submit a routing form (default: the first published one)."""
        return self.render.submission(self.ops.submit_routing_form(_uuid(form_uuid), answers))

    # inspection and knobs -------------------------------------------------------------------
    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery so far, in order."""
        return list(self.dispatcher.deliveries)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Recorded API and OAuth requests (Authorization and secrets redacted)."""
        return list(self._requests)

    def set_faults(
        self,
        error_rate_429: float = 0.0,
        error_rate_5xx: float = 0.0,
        latency: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Inject a fraction of 429/500 responses and added latency into API calls."""
        self.faults.configure(error_rate_429, error_rate_5xx, latency, seed)

    def set_calendar_error(self, user_uuid: str, broken: bool) -> None:
        """Make a user's connected calendar unreadable (``/user_busy_times`` answers 424, as
        Calendly does when it cannot reach that calendar), or readable again."""
        if user_uuid not in self.state.users:
            raise KeyError(user_uuid)
        if broken:
            self.state.calendar_errors.add(user_uuid)
        else:
            self.state.calendar_errors.discard(user_uuid)

    def set_plan(self, plan: str) -> None:
        """Switch the organization's plan (free, standard or enterprise)."""
        if plan not in ("free", "standard", "enterprise"):
            raise ValueError("plan must be free, standard or enterprise")
        self.plan = plan

    def rate_limit(self) -> int:
        """Requests per user per minute for the current plan."""
        if self.plan == "free":
            return min(
                self.config.rate_limit_per_minute, self.config.free_plan_rate_limit_per_minute
            )
        return self.config.rate_limit_per_minute

    async def drain_webhooks(self) -> None:
        """Await every webhook delivery (and its retries) scheduled so far."""
        await self.dispatcher.drain()

    def log_activity(self, namespace: str, action: str, actor: User, details: JSON) -> None:
        """Append an activity log entry for a change made through the API."""
        from .models import ActivityEntry

        entry = ActivityEntry(
            uuid=self.state.ids.new(),
            org_uuid=actor.org_uuid,
            occurred_at=self.clock(),
            namespace=namespace,
            action=action,
            actor_uuid=actor.uuid,
            actor_name=actor.name,
            details=details,
        )
        self.state.activity[entry.uuid] = entry

    def summary(self) -> dict[str, Any]:
        """Identifiers of the seed, for the control API and demos."""
        st, r = self.state, self.render
        org = st.org_uuid
        return {
            "organization": r.organization(self.organization, self.plan),
            "owner": r.user(self.owner),
            "users": [r.user(u) for u in st.users.values() if u.org_uuid == org],
            "memberships": [r.membership(m) for m in st.memberships.values() if m.org_uuid == org],
            "event_types": [
                {"uri": r.event_type_uri(e.uuid), "name": e.name, "active": e.active}
                for e in st.event_types.values()
                if e.org_uuid == org
            ],
            "routing_forms": [
                {"uri": r.routing_form(f)["uri"], "name": f.name} for f in st.routing_forms.values()
            ],
            "scheduled_events": len(st.events),
            "plan": self.plan,
            "base_url": self.config.base_url,
        }

    # request log ----------------------------------------------------------------------------
    def record(self, request: Request, body: Any) -> None:
        """Keep a redacted record of a request."""
        headers = {
            k: ("[redacted]" if k.lower() in _REDACTED_HEADERS else v)
            for k, v in request.headers.items()
        }
        self._requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params.multi_items()),
                "query_string": request.url.query,
                "json": body,
                "headers": headers,
                "at": self.clock(),
            }
        )

    async def record_api(self, request: Request) -> None:
        """Record an API request with its JSON body, if it has one."""
        raw = await request.body()
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self.record(request, body)
