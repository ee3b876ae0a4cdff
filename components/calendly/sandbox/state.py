"""The sandbox's in-memory store: every record, keyed by UUID, plus small lookup helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from .ids import IdFactory
    from .models import (
        ActivityEntry,
        EventType,
        Invitation,
        Invitee,
        Membership,
        NoShow,
        Organization,
        RoutingForm,
        RoutingFormSubmission,
        Schedule,
        ScheduledEvent,
        SchedulingLink,
        Share,
        User,
        WebhookSubscription,
    )


@attrs.define
class State:
    """All sandbox data. Dicts keep insertion order, which listings use as a stable tie-break."""

    ids: IdFactory
    organizations: dict[str, Organization] = attrs.field(factory=dict)
    users: dict[str, User] = attrs.field(factory=dict)
    memberships: dict[str, Membership] = attrs.field(factory=dict)
    invitations: dict[str, Invitation] = attrs.field(factory=dict)
    schedules: dict[str, Schedule] = attrs.field(factory=dict)
    event_types: dict[str, EventType] = attrs.field(factory=dict)
    events: dict[str, ScheduledEvent] = attrs.field(factory=dict)
    invitees: dict[str, Invitee] = attrs.field(factory=dict)
    no_shows: dict[str, NoShow] = attrs.field(factory=dict)
    routing_forms: dict[str, RoutingForm] = attrs.field(factory=dict)
    submissions: dict[str, RoutingFormSubmission] = attrs.field(factory=dict)
    webhooks: dict[str, WebhookSubscription] = attrs.field(factory=dict)
    activity: dict[str, ActivityEntry] = attrs.field(factory=dict)
    shares: dict[str, Share] = attrs.field(factory=dict)
    scheduling_links: dict[str, SchedulingLink] = attrs.field(factory=dict)
    owner_uuid: str = ""
    org_uuid: str = ""
    #: users whose connected calendar cannot be read: their busy times answer 424
    calendar_errors: set[str] = attrs.field(factory=set)

    def membership_of(self, user_uuid: str, org_uuid: str) -> Membership | None:
        """The membership of a user in an organization, if any."""
        for membership in self.memberships.values():
            if membership.user_uuid == user_uuid and membership.org_uuid == org_uuid:
                return membership
        return None

    def role_of(self, user_uuid: str, org_uuid: str) -> str | None:
        """The user's role in the organization, or ``None`` when not a member."""
        membership = self.membership_of(user_uuid, org_uuid)
        return membership.role if membership else None

    def is_admin(self, user_uuid: str, org_uuid: str) -> bool:
        """Whether the user is an owner or admin of the organization."""
        return self.role_of(user_uuid, org_uuid) in ("owner", "admin")

    def user_by_email(self, email: str) -> User | None:
        """The user with this email (case-insensitive), if any."""
        lowered = email.lower()
        for user in self.users.values():
            if user.email.lower() == lowered:
                return user
        return None

    def active_invitees(self, event: ScheduledEvent) -> list[Invitee]:
        """The event's invitees that are still active."""
        return [
            self.invitees[i]
            for i in event.invitee_uuids
            if i in self.invitees and self.invitees[i].status == "active"
        ]
