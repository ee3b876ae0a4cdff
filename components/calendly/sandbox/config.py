"""Configuration of the Calendly sandbox."""

from __future__ import annotations

from typing import Literal

import attrs

Plan = Literal["free", "standard", "enterprise"]

#: The public, sandbox-only OAuth client every sandbox knows. It is documented so the demo and
#: ``relay sandbox`` can print it; it grants nothing outside the sandbox.
DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - public sandbox-only default


def _default_clients() -> dict[str, str]:
    return {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}


@attrs.frozen(kw_only=True)
class SandboxConfig:
    """Everything that shapes one sandbox: seed data, limits and timings.

    ``base_url`` is the public URL of the sandbox; every resource URI and every ``next_page``
    link is built on it, exactly as Calendly builds them on ``https://api.calendly.com``.
    """

    seed: int = 0
    events: int = 200
    base_url: str = "http://calendly.sandbox.invalid"
    rate_limit_per_minute: int = 500
    #: Calendly allows 50 requests per minute on the Free plan whatever the paid limit is.
    free_plan_rate_limit_per_minute: int = 50
    token_requests_per_minute: int = 8
    access_token_ttl: int = 7200
    authorization_code_ttl: float = 600.0
    page_token_ttl: float = 3600.0
    webhook_retry_window: float = 86400.0
    webhook_backoff_initial: float = 0.5
    webhook_backoff_factor: float = 2.0
    webhook_backoff_max: float = 3600.0
    webhook_timeout: float = 10.0
    clients: dict[str, str] = attrs.field(factory=_default_clients)
    webhook_signing_key: str | None = None
    plan: Plan = "enterprise"

    def __attrs_post_init__(self) -> None:
        if self.plan not in ("free", "standard", "enterprise"):
            raise ValueError(f"plan must be free, standard or enterprise, not {self.plan!r}")
        if self.events < 0:
            raise ValueError("events must be >= 0")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
