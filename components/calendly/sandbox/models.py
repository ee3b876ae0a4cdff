"""The sandbox's records. Plain mutable data; rendering to API JSON lives in ``render.py``.

Times are epoch seconds (floats) so the injectable clock drives everything.
"""

from __future__ import annotations

from typing import Any

import attrs

JSON = dict[str, Any]


@attrs.define
class Organization:
    """A Calendly organization."""

    uuid: str
    name: str
    created_at: float
    updated_at: float
    uri: str = ""


@attrs.define
class User:
    """A Calendly user; ``org_uuid`` is its current organization."""

    uuid: str
    name: str
    slug: str
    email: str
    timezone: str
    avatar_url: str | None
    org_uuid: str
    created_at: float
    updated_at: float
    uri: str = ""


@attrs.define
class Membership:
    """A user's membership of an organization with its role (owner, admin or user)."""

    uuid: str
    user_uuid: str
    org_uuid: str
    role: str
    created_at: float
    updated_at: float


@attrs.define
class Invitation:
    """An invitation to join an organization."""

    uuid: str
    org_uuid: str
    email: str
    status: str
    created_at: float
    updated_at: float
    last_sent_at: float | None
    user_uuid: str | None = None


@attrs.define
class Schedule:
    """A user availability schedule; ``rules`` are already in Calendly's JSON shape."""

    uuid: str
    user_uuid: str
    name: str
    default: bool
    timezone: str
    rules: list[JSON]


@attrs.define
class EventType:
    """An event type. Team types (profile ``Team``) have several hosts."""

    uuid: str
    org_uuid: str
    name: str
    slug: str
    active: bool
    duration: int
    kind: str
    pooling_type: str | None
    profile_type: str
    profile_owner: str
    profile_name: str
    host_uuids: list[str]
    admin_managed: bool
    secret: bool
    color: str
    description: str | None
    internal_note: str | None
    schedule_uuid: str | None
    custom_questions: list[JSON]
    created_at: float
    updated_at: float
    invitees_limit: int = 1


@attrs.define
class ScheduledEvent:
    """A booked meeting; ``invitee_uuids`` keeps booking order."""

    uuid: str
    org_uuid: str
    event_type_uuid: str
    name: str
    status: str
    start: float
    end: float
    location: JSON
    host_uuids: list[str]
    invitee_uuids: list[str]
    invitees_limit: int
    created_at: float
    updated_at: float
    guests: list[JSON] = attrs.field(factory=list)
    calendar_event: JSON | None = None
    cancellation: JSON | None = None


@attrs.define
class Invitee:
    """A person booked into a scheduled event."""

    uuid: str
    event_uuid: str
    email: str
    name: str
    first_name: str | None
    last_name: str | None
    status: str
    timezone: str | None
    questions_and_answers: list[JSON]
    created_at: float
    updated_at: float
    tracking: JSON
    text_reminder_number: str | None = None
    rescheduled: bool = False
    old_invitee: tuple[str, str] | None = None  # (event uuid, invitee uuid)
    new_invitee: tuple[str, str] | None = None
    cancellation: JSON | None = None
    payment: JSON | None = None
    no_show_uuid: str | None = None
    routing_form_submission_uuid: str | None = None
    scheduling_method: str | None = None


@attrs.define
class NoShow:
    """A no-show mark on an invitee."""

    uuid: str
    invitee_uuid: str
    created_at: float


@attrs.define
class RoutingForm:
    """A routing form with its questions (already in Calendly's JSON shape)."""

    uuid: str
    org_uuid: str
    name: str
    status: str
    questions: list[JSON]
    created_at: float
    updated_at: float


@attrs.define
class RoutingFormSubmission:
    """A routing form submission."""

    uuid: str
    form_uuid: str
    questions_and_answers: list[JSON]
    tracking: JSON
    result: JSON
    submitter: tuple[str, str] | None
    created_at: float
    updated_at: float


@attrs.define
class WebhookSubscription:
    """A webhook subscription. ``signing_key`` is kept but never rendered."""

    uuid: str
    url: str
    events: list[str]
    scope: str
    org_uuid: str
    user_uuid: str | None
    creator_uuid: str | None
    signing_key: str | None
    state: str
    created_at: float
    updated_at: float
    retry_started_at: float | None = None


@attrs.define
class ActivityEntry:
    """An activity log entry."""

    uuid: str
    org_uuid: str
    occurred_at: float
    namespace: str
    action: str
    actor_uuid: str | None
    actor_name: str
    details: JSON


@attrs.define
class Share:
    """A 'customize once and share' override; ``resource`` is the rendered Share."""

    uuid: str
    event_type_uuid: str
    resource: JSON
    created_at: float


@attrs.define
class SchedulingLink:
    """A single-use scheduling link."""

    uuid: str
    event_type_uuid: str
    booking_url: str
    max_event_count: int
    created_at: float
