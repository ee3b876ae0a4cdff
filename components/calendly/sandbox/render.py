"""Turns records into Calendly API v2 JSON, with every URI built on the sandbox base URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .timeutil import iso

if TYPE_CHECKING:
    from .models import (
        JSON,
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
        User,
        WebhookSubscription,
    )
    from .state import State

_KIND_DESCRIPTIONS = {
    ("solo", None): "One-on-One",
    ("group", None): "Group",
    ("solo", "round_robin"): "Round Robin",
    ("solo", "collective"): "Collective",
    ("group", "round_robin"): "Round Robin",
    ("group", "collective"): "Collective",
}


class Renderer:
    """Renders records; needs the state to resolve references such as membership users."""

    def __init__(self, state: State, base_url: str) -> None:
        self.state = state
        self.base = base_url

    # URIs -----------------------------------------------------------------------------------
    def user_uri(self, uuid: str) -> str:
        """URI of a user."""
        return f"{self.base}/users/{uuid}"

    def org_uri(self, uuid: str) -> str:
        """URI of an organization."""
        return f"{self.base}/organizations/{uuid}"

    def event_uri(self, uuid: str) -> str:
        """URI of a scheduled event."""
        return f"{self.base}/scheduled_events/{uuid}"

    def invitee_uri(self, event_uuid: str, invitee_uuid: str) -> str:
        """URI of an invitee (nested under its event, as Calendly does)."""
        return f"{self.base}/scheduled_events/{event_uuid}/invitees/{invitee_uuid}"

    def event_type_uri(self, uuid: str) -> str:
        """URI of an event type."""
        return f"{self.base}/event_types/{uuid}"

    def page_url(self, path: str) -> str:
        """A public page of the sandbox (scheduling pages, cancel links...)."""
        return f"{self.base}/{path.lstrip('/')}"

    # Resources ------------------------------------------------------------------------------
    def user_core(self, user: User) -> JSON:
        """The user fields shared by User and OrganizationMembership.user."""
        return {
            "uri": self.user_uri(user.uuid),
            "name": user.name,
            "slug": user.slug,
            "email": user.email,
            "scheduling_url": self.page_url(user.slug),
            "timezone": user.timezone,
            "avatar_url": user.avatar_url,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.updated_at),
        }

    def user(self, user: User) -> JSON:
        """A User resource."""
        out = self.user_core(user)
        out["current_organization"] = self.org_uri(user.org_uuid)
        out["resource_type"] = "User"
        out["locale"] = "en"
        return out

    def organization(self, org: Organization, plan: str) -> JSON:
        """An Organization resource (used by the control API summary)."""
        api_plan = {"free": "basic", "standard": "essentials", "enterprise": "enterprise"}[plan]
        return {
            "uri": self.org_uri(org.uuid),
            "name": org.name,
            "plan": api_plan,
            "stage": "free" if plan == "free" else "paid",
            "created_at": iso(org.created_at),
            "updated_at": iso(org.updated_at),
        }

    def membership(self, membership: Membership) -> JSON:
        """An OrganizationMembership resource."""
        return {
            "uri": f"{self.base}/organization_memberships/{membership.uuid}",
            "role": membership.role,
            "user": self.user_core(self.state.users[membership.user_uuid]),
            "organization": self.org_uri(membership.org_uuid),
            "updated_at": iso(membership.updated_at),
            "created_at": iso(membership.created_at),
        }

    def invitation(self, inv: Invitation) -> JSON:
        """An OrganizationInvitation resource."""
        out: JSON = {
            "uri": f"{self.org_uri(inv.org_uuid)}/invitations/{inv.uuid}",
            "organization": self.org_uri(inv.org_uuid),
            "email": inv.email,
            "status": inv.status,
            "created_at": iso(inv.created_at),
            "updated_at": iso(inv.updated_at),
            "last_sent_at": iso(inv.last_sent_at) if inv.last_sent_at is not None else None,
        }
        if inv.user_uuid:
            out["user"] = self.user_uri(inv.user_uuid)
        return out

    def event_type(self, et: EventType) -> JSON:
        """An EventType resource."""
        return {
            "uri": self.event_type_uri(et.uuid),
            "name": et.name,
            "active": et.active,
            "booking_method": "instant",
            "slug": et.slug,
            "scheduling_url": self.page_url(et.slug),
            "duration": et.duration,
            "kind": et.kind,
            "pooling_type": et.pooling_type,
            "type": "StandardEventType",
            "color": et.color,
            "created_at": iso(et.created_at),
            "updated_at": iso(et.updated_at),
            "internal_note": et.internal_note,
            "description_plain": et.description,
            "description_html": (f"<p>{et.description}</p>" if et.description else None),
            "profile": {
                "type": et.profile_type,
                "name": et.profile_name,
                "owner": et.profile_owner,
            },
            "secret": et.secret,
            "deleted_at": None,
            "admin_managed": et.admin_managed,
            "custom_questions": et.custom_questions,
            "kind_description": _KIND_DESCRIPTIONS[(et.kind, et.pooling_type)],
        }

    def schedule(self, sched: Schedule) -> JSON:
        """A UserAvailabilitySchedule resource."""
        return {
            "uri": f"{self.base}/user_availability_schedules/{sched.uuid}",
            "default": sched.default,
            "name": sched.name,
            "user": self.user_uri(sched.user_uuid),
            "timezone": sched.timezone,
            "rules": sched.rules,
        }

    def event(self, ev: ScheduledEvent) -> JSON:
        """An Event resource."""
        invitees = [self.state.invitees[i] for i in ev.invitee_uuids if i in self.state.invitees]
        out: JSON = {
            "uri": self.event_uri(ev.uuid),
            "name": ev.name,
            "status": ev.status,
            "booking_method": "instant",
            "start_time": iso(ev.start),
            "end_time": iso(ev.end),
            "event_type": self.event_type_uri(ev.event_type_uuid),
            "location": ev.location,
            "invitees_counter": {
                "total": len(invitees),
                "active": sum(1 for i in invitees if i.status == "active"),
                "limit": ev.invitees_limit,
            },
            "created_at": iso(ev.created_at),
            "updated_at": iso(ev.updated_at),
            "event_memberships": [
                {
                    "user": self.user_uri(h),
                    "user_email": self.state.users[h].email if h in self.state.users else None,
                    "user_name": self.state.users[h].name if h in self.state.users else None,
                }
                for h in ev.host_uuids
            ],
            "event_guests": ev.guests,
            "calendar_event": ev.calendar_event,
            "meeting_notes_plain": None,
            "meeting_notes_html": None,
        }
        if ev.cancellation is not None:
            out["cancellation"] = ev.cancellation
        return out

    def invitee(self, inv: Invitee) -> JSON:
        """An Invitee resource."""
        no_show = None
        if inv.no_show_uuid and inv.no_show_uuid in self.state.no_shows:
            ns = self.state.no_shows[inv.no_show_uuid]
            no_show = {"uri": self.no_show_uri(ns), "created_at": iso(ns.created_at)}
        sub = inv.routing_form_submission_uuid
        out: JSON = {
            "uri": self.invitee_uri(inv.event_uuid, inv.uuid),
            "email": inv.email,
            "first_name": inv.first_name,
            "last_name": inv.last_name,
            "name": inv.name,
            "status": inv.status,
            "questions_and_answers": inv.questions_and_answers,
            "timezone": inv.timezone,
            "event": self.event_uri(inv.event_uuid),
            "created_at": iso(inv.created_at),
            "updated_at": iso(inv.updated_at),
            "tracking": inv.tracking,
            "text_reminder_number": inv.text_reminder_number,
            "rescheduled": inv.rescheduled,
            "old_invitee": self.invitee_uri(*inv.old_invitee) if inv.old_invitee else None,
            "new_invitee": self.invitee_uri(*inv.new_invitee) if inv.new_invitee else None,
            "cancel_url": self.page_url(f"cancellations/{inv.uuid}"),
            "reschedule_url": self.page_url(f"reschedulings/{inv.uuid}"),
            "routing_form_submission": (
                f"{self.base}/routing_form_submissions/{sub}" if sub else None
            ),
            "payment": inv.payment,
            "no_show": no_show,
            "reconfirmation": None,
            "scheduling_method": inv.scheduling_method,
            "invitee_scheduled_by": None,
        }
        if inv.cancellation is not None:
            out["cancellation"] = inv.cancellation
        return out

    def invitee_with_event(self, inv: Invitee) -> JSON:
        """An Invitee whose ``scheduled_event`` embeds the full Event (webhook payloads)."""
        out = self.invitee(inv)
        out["scheduled_event"] = self.event(self.state.events[inv.event_uuid])
        return out

    def no_show_uri(self, ns: NoShow) -> str:
        """URI of a no-show mark."""
        return f"{self.base}/invitee_no_shows/{ns.uuid}"

    def no_show(self, ns: NoShow) -> JSON:
        """An InviteeNoShow resource."""
        inv = self.state.invitees.get(ns.invitee_uuid)
        invitee_uri = (
            self.invitee_uri(inv.event_uuid, inv.uuid)
            if inv
            else f"{self.base}/invitees/{ns.invitee_uuid}"
        )
        return {
            "uri": self.no_show_uri(ns),
            "invitee": invitee_uri,
            "created_at": iso(ns.created_at),
        }

    def routing_form(self, form: RoutingForm) -> JSON:
        """A RoutingForm resource."""
        return {
            "uri": f"{self.base}/routing_forms/{form.uuid}",
            "organization": self.org_uri(form.org_uuid),
            "name": form.name,
            "status": form.status,
            "questions": form.questions,
            "created_at": iso(form.created_at),
            "updated_at": iso(form.updated_at),
        }

    def submission(self, sub: RoutingFormSubmission) -> JSON:
        """A RoutingFormSubmission resource."""
        return {
            "uri": f"{self.base}/routing_form_submissions/{sub.uuid}",
            "routing_form": f"{self.base}/routing_forms/{sub.form_uuid}",
            "questions_and_answers": sub.questions_and_answers,
            "tracking": sub.tracking,
            "result": sub.result,
            "submitter": self.invitee_uri(*sub.submitter) if sub.submitter else None,
            "submitter_type": "Invitee" if sub.submitter else None,
            "created_at": iso(sub.created_at),
            "updated_at": iso(sub.updated_at),
        }

    def webhook(self, hook: WebhookSubscription) -> JSON:
        """A WebhookSubscription resource; the signing key is never returned."""
        return {
            "uri": f"{self.base}/webhook_subscriptions/{hook.uuid}",
            "callback_url": hook.url,
            "created_at": iso(hook.created_at),
            "updated_at": iso(hook.updated_at),
            "retry_started_at": (
                iso(hook.retry_started_at) if hook.retry_started_at is not None else None
            ),
            "state": hook.state,
            "events": hook.events,
            "scope": hook.scope,
            "organization": self.org_uri(hook.org_uuid),
            "user": self.user_uri(hook.user_uuid) if hook.user_uuid else None,
            "creator": self.user_uri(hook.creator_uuid) if hook.creator_uuid else None,
        }

    def activity(self, entry: ActivityEntry) -> JSON:
        """An activity log Entry."""
        role = self.state.role_of(entry.actor_uuid, entry.org_uuid) if entry.actor_uuid else None
        actor: JSON = {
            "type": "User" if entry.actor_uuid else "System",
            "display_name": entry.actor_name,
        }
        if entry.actor_uuid:
            actor["uri"] = self.user_uri(entry.actor_uuid)
            actor["organization"] = {"uri": self.org_uri(entry.org_uuid), "role": role or "user"}
            user = self.state.users.get(entry.actor_uuid)
            if user:
                actor["alternative_identifier"] = user.email
        return {
            "occurred_at": iso(entry.occurred_at),
            "actor": actor,
            "details": entry.details,
            "fully_qualified_name": f"{entry.namespace}.{entry.action}",
            "uri": f"{self.base}/activity_log_entries/{entry.uuid}",
            "namespace": entry.namespace,
            "action": entry.action,
            "organization": self.org_uri(entry.org_uuid),
        }
