"""What the sandbox's HTTP layers and persistence use of a running sandbox, as Protocols.

:class:`~components.calendly.sandbox.sandbox.Sandbox` builds the app, the routes and the
state file; they in turn read and drive it. Typing them against these Protocols rather than
the class keeps the import graph one-way (the class imports them, they import only this), and
mypy checks the class against each Protocol wherever it hands itself over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from starlette.requests import Request

    from .config import SandboxConfig
    from .faults import Faults
    from .models import JSON, User
    from .operations import Operations
    from .ratelimit import RateLimiter
    from .render import Renderer
    from .state import State
    from .tokens import AccessToken, TokenStore
    from .webhooks import Delivery, WebhookDispatcher


class ApiHost(Protocol):
    """What an API handler reaches through its request context."""

    config: SandboxConfig
    clock: Callable[[], float]
    plan: str
    state: State
    render: Renderer
    ops: Operations

    def log_activity(self, namespace: str, action: str, actor: User, details: JSON) -> None:
        """Add an entry to the organization's activity log for a change a handler made."""


class PersistedHost(Protocol):
    """The parts of a sandbox its state file saves and restores."""

    config: SandboxConfig
    plan: str
    state: State
    tokens: TokenStore
    faults: Faults
    dispatcher: WebhookDispatcher
    webhook_signing_key: str


class Host(ApiHost, PersistedHost, Protocol):
    """What the app, the request gateway, the OAuth server and the control API drive."""

    sleep: Callable[[float], Awaitable[None]]
    limiter: RateLimiter

    @property
    def deliveries(self) -> list[Delivery]:
        """The webhook deliveries attempted so far, oldest first."""
        ...

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The requests kept for inspection, secrets already masked."""
        ...

    def commit(self) -> None:
        """Save pending changes to the state file before a response acknowledges them."""

    def rate_limit(self) -> int:
        """How many requests a user may make per minute on the current plan."""
        ...

    async def record_api(self, request: Request) -> None:
        """Keep an API request (and its JSON body) for inspection."""

    def record(self, request: Request, body: Any) -> None:
        """Keep a request with an already-read body for inspection."""

    def resolve_user(self, ref: str | None) -> str | None:
        """The user a URI or UUID names (the owner for none), or None for an unknown one."""
        ...

    def token_response(self, access: AccessToken, refresh: str) -> dict[str, Any]:
        """The body a token grant answers with, for a freshly issued pair."""
        ...

    def issue_token(self, user_uuid: str | None = None, scope: str = "default") -> dict[str, Any]:
        """A grant's answer for a user, minted without going through the OAuth flow."""
        ...

    def personal_access_token(self, user_uuid: str | None = None) -> str:
        """A token for a user that never expires."""
        ...

    def register_client(self) -> tuple[str, str]:
        """Credentials (id, secret) of a newly registered OAuth client."""
        ...

    def book(
        self,
        event_type_uuid: str | None = None,
        start_time: float | str | datetime | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> JSON:
        """Simulate a booking; the new invitee as the API renders it."""
        ...

    def cancel(self, invitee_uri_or_uuid: str, reason: str | None = None) -> JSON:
        """Simulate an invitee cancelling; the invitee afterwards."""
        ...

    def reschedule(
        self, invitee: str, new_start_time: float | str | datetime | None = None
    ) -> JSON:
        """Simulate an invitee moving their booking; the invitee that replaces them."""
        ...

    def mark_no_show(self, invitee: str) -> JSON:
        """Flag an invitee as absent; the resulting no-show record."""
        ...

    def unmark_no_show(self, invitee: str) -> None:
        """Clear an invitee's absence flag."""

    def submit_routing_form(
        self, form_uuid: str | None = None, answers: dict[str, str] | None = None
    ) -> JSON:
        """Simulate someone filling in a routing form; the stored submission."""
        ...

    def set_faults(
        self,
        error_rate_429: float = 0.0,
        error_rate_5xx: float = 0.0,
        latency: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Make API calls fail or slow down at the given rates, for resilience tests."""

    def set_calendar_error(self, user_uuid: str, broken: bool) -> None:
        """Make a user's calendar unreadable (or readable again) for availability calls."""

    def set_plan(self, plan: str) -> None:
        """Move the organization to another plan, changing its limits and features."""

    def summary(self) -> dict[str, Any]:
        """The seeded identifiers a client needs to start exercising the sandbox."""
        ...
