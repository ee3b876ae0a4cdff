"""Webhook subscriptions, shared by the webhook actions and the ``calendlyTrigger``.

Calendly has no update endpoint and answers 409 to a second subscription for the same URL,
so deploying twice must find and reuse what the first deploy created, and
undeploying must treat an already deleted subscription as done.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from attrs import frozen

from components.calendly.actions._common import STR, STR_OR_NULL, Schema, current_user, obj
from components.calendly.client import CalendlyClient, to_uuid
from runtime import ApiError, Choice

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime import ConnectionHandle

#: The events the reference offers (the trigger's branches).
WEBHOOK_EVENTS: tuple[str, ...] = (
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
)
#: Every event Calendly accepts on a subscription (it refuses others with 400).
CALENDLY_EVENTS: tuple[str, ...] = (
    *WEBHOOK_EVENTS,
    "event_type.created",
    "event_type.updated",
    "event_type.deleted",
    "meeting_recap.created",
    "meeting_recap.updated",
    "meeting_recap.deleted",
    "contact.created",
    "contact.updated",
    "contact.deleted",
)
#: A URL Calendly can post to: an absolute http(s) URI with a host.
CALLBACK_URL_SCHEMA: dict[str, Any] = {"format": "uri", "pattern": "^https?://[^/?#\\s]+"}
SCOPE_CHOICES = (
    Choice(value="organization", label="Organization"),
    Choice(value="user", label="User"),
)
PATH = "/webhook_subscriptions"

WEBHOOK: Schema = obj(
    ("uri", "callback_url", "state", "events", "scope", "organization"),
    uri=STR,
    callback_url=STR,
    created_at=STR,
    updated_at=STR,
    retry_started_at=STR_OR_NULL,
    state=STR,
    events={"type": "array", "items": STR},
    scope={"enum": ["organization", "user"]},
    organization=STR,
    user=STR_OR_NULL,
    creator=STR_OR_NULL,
)


@frozen
class SubscriptionSpec:
    """What a subscription should look like; ``organization``/``user`` are full URIs."""

    url: str
    events: tuple[str, ...]
    organization: str
    scope: str
    user: str | None = None
    signing_key: str | None = None

    def body(self) -> dict[str, Any]:
        """The ``POST /webhook_subscriptions`` body (unset fields are dropped by the client)."""
        return {
            "url": self.url,
            "events": list(self.events),
            "organization": self.organization,
            "scope": self.scope,
            "user": self.user if self.scope == "user" else None,
            "signing_key": self.signing_key,
        }

    def matches(self, existing: dict[str, Any]) -> bool:
        """Whether ``existing`` already delivers exactly what this spec asks for.

        URIs are compared by their last segment: the sandbox and the live API spell the host
        differently, the UUID is what identifies a resource.
        """
        return (
            existing.get("callback_url") == self.url
            and existing.get("state") == "active"
            and set(existing.get("events") or ()) == set(self.events)
            and existing.get("scope") == self.scope
            and _same(existing.get("organization"), self.organization)
            and (self.scope != "user" or _same(existing.get("user"), self.user))
        )


def _same(left: Any, right: Any) -> bool:
    if not left or not right:
        return not left and not right
    try:
        return to_uuid(str(left)) == to_uuid(str(right))
    except ValueError:
        return False


def spec_from_params(
    client: CalendlyClient,
    params: dict[str, Any],
    *,
    url: str,
    events: Iterable[str],
    signing_key: str | None,
) -> SubscriptionSpec:
    """A spec from the common inputs (``organization``, ``scope``, ``user``: URI or UUID)."""
    user = params.get("user")
    return SubscriptionSpec(
        url=url,
        events=tuple(dict.fromkeys(events)),  # Calendly refuses duplicates; keep the order
        organization=client.uri("organizations", params["organization"]),
        scope=params["scope"],
        user=client.uri("users", user) if user else None,
        signing_key=signing_key,
    )


async def list_subscriptions(
    client: CalendlyClient,
    organization: str,
    scope: str,
    user: str | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Every subscription of an organization or a user (all pages)."""
    query = {"organization": organization, "scope": scope, "user": user, "sort": sort}
    return await client.paginate(PATH, query, limit=limit)


async def create_subscription(client: CalendlyClient, spec: SubscriptionSpec) -> dict[str, Any]:
    """``POST /webhook_subscriptions``; returns Calendly's ``{"resource": ...}`` body."""
    body: dict[str, Any] = await client.post(PATH, spec.body())
    return body


async def find_matching(client: CalendlyClient, spec: SubscriptionSpec) -> dict[str, Any] | None:
    """An active subscription that already delivers exactly what ``spec`` asks for, if any."""
    found = await list_subscriptions(client, spec.organization, spec.scope, spec.user)
    return next((s for s in found if spec.matches(s)), None)


async def delete_if_present(client: CalendlyClient, uri_or_uuid: str) -> bool:
    """Delete a subscription; ``False`` when it was already gone (which is success too)."""
    try:
        await client.delete(f"{PATH}/{to_uuid(uri_or_uuid)}")
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


async def create_or_reuse(
    client: CalendlyClient, spec: SubscriptionSpec
) -> tuple[dict[str, Any], bool]:
    """The subscription for ``spec``: an identical active one is reused (``True``), a stale one
    for the same URL (other events, disabled) is replaced, otherwise one is created."""
    same_url = [
        s
        for s in await list_subscriptions(client, spec.organization, spec.scope, spec.user)
        if s.get("callback_url") == spec.url
    ]
    for existing in same_url:
        if spec.matches(existing):
            return existing, True
    for stale in same_url:
        await delete_if_present(client, stale["uri"])
    try:
        created = await create_subscription(client, spec)
    except ApiError as exc:
        # The URL may be taken in the other scope (user vs organization): free it, once.
        if exc.status != 409 or not await _free_url_in_other_scope(client, spec):
            raise
        created = await create_subscription(client, spec)
    return created["resource"], False


async def _free_url_in_other_scope(client: CalendlyClient, spec: SubscriptionSpec) -> bool:
    other = "user" if spec.scope == "organization" else "organization"
    try:
        user = None
        if other == "user":  # the connected user's, unless the spec names one
            user = spec.user or str((await current_user(client))["uri"])
        found = await list_subscriptions(client, spec.organization, other, user)
    except ApiError:
        return False  # e.g. 403 for a non-admin listing organization scope
    freed = False
    for sub in found:
        if sub.get("callback_url") == spec.url:
            freed = await delete_if_present(client, sub["uri"]) or freed
    return freed


async def delete_matching(
    client: CalendlyClient, organization: str, scope: str, user: str | None, urls: set[str]
) -> list[str]:
    """Delete every subscription whose callback URL is in ``urls`` (not just the first);
    returns the URIs deleted."""
    deleted: list[str] = []
    for sub in await list_subscriptions(client, organization, scope, user):
        if sub.get("callback_url") in urls and await delete_if_present(client, sub["uri"]):
            deleted.append(str(sub["uri"]))
    return deleted


def derive_signing_key(connection: ConnectionHandle, webhook_url: str) -> str:
    """A signing key for a trigger deployed without one.

    Calendly never returns a subscription's key, so a redeploy that reuses the subscription
    must arrive at the same key: it is derived (HMAC) from the connection's secret fields and
    the webhook URL, never stored in Calendly in a recoverable form and never equal across
    instances.
    """
    secret = "\x00".join(
        str(connection.fields.get(spec.key, ""))
        for spec in connection.declaration.inputs
        if spec.type == "password"
    )
    material = f"calendly-webhook-signing-key\x00{webhook_url}".encode()
    return hmac.new(secret.encode("utf-8"), material, hashlib.sha256).hexdigest()
