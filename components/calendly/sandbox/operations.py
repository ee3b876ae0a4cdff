"""State changes shared by the API and the control API, each emitting Calendly's webhooks.

Booking, cancelling, rescheduling, no-shows and routing-form submissions all go through here,
so a change made through ``/_sandbox`` and one made through the API look the same to
subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ApiError, bad_param, not_found
from .models import (
    JSON,
    EventType,
    Invitee,
    NoShow,
    RoutingFormSubmission,
    ScheduledEvent,
)
from .seed import empty_tracking
from .timeutil import iso

if TYPE_CHECKING:
    from .render import Renderer
    from .state import State

#: (event name, organization uuid, host user uuids, creator user uuid, payload)
Emit = Callable[[str, str, list[str], str | None, JSON], None]


class Operations:
    """Mutations of :class:`State`; ``emit`` hands webhook events to the dispatcher."""

    def __init__(
        self, state: State, render: Renderer, clock: Callable[[], float], emit: Emit
    ) -> None:
        self.state = state
        self.render = render
        self.clock = clock
        self.emit = emit

    # lookups --------------------------------------------------------------------------------
    def invitee(self, ref: str) -> Invitee:
        """An invitee by URI or bare UUID; 404 if unknown."""
        uuid = ref.rstrip("/").rsplit("/", 1)[-1]
        inv = self.state.invitees.get(uuid)
        if inv is None:
            raise not_found()
        return inv

    def _emit_invitee(self, name: str, inv: Invitee) -> None:
        ev = self.state.events[inv.event_uuid]
        creator = ev.host_uuids[0] if ev.host_uuids else None
        self.emit(
            name, ev.org_uuid, list(ev.host_uuids), creator, self.render.invitee_with_event(inv)
        )

    # booking --------------------------------------------------------------------------------
    def default_event_type(self) -> EventType:
        """The first active event type of the owner (what a booking uses by default)."""
        for et in self.state.event_types.values():
            if et.active and self.state.owner_uuid in et.host_uuids:
                return et
        raise ApiError(400, "No active event type to book.")

    def book(
        self,
        event_type_uuid: str | None = None,
        start_time: float | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> Invitee:
        """An invitee books a new event of the event type; fires ``invitee.created``."""
        et = (
            self.state.event_types.get(event_type_uuid)
            if event_type_uuid
            else self.default_event_type()
        )
        if et is None:
            raise not_found()
        if not et.active:
            raise bad_param("event_type", "is not active")
        now = self.clock()
        if start_time is None:
            # Tomorrow at the next half hour: always in the future, never on a seeded slot.
            start_time = ((now + 86400) // 1800 + 1) * 1800
        name = name or "Sandbox Invitee"
        email = email or f"invitee.{self.state.ids.new().lower()[:8]}@example.org"
        ev = ScheduledEvent(
            uuid=self.state.ids.new(),
            org_uuid=et.org_uuid,
            event_type_uuid=et.uuid,
            name=et.name,
            status="active",
            start=start_time,
            end=start_time + et.duration * 60,
            location={"type": "physical", "location": "Sandbox Office"},
            host_uuids=list(et.host_uuids[:1] if et.kind == "solo" else et.host_uuids),
            invitee_uuids=[],
            invitees_limit=et.invitees_limit,
            created_at=now,
            updated_at=now,
            calendar_event={"kind": "google", "external_id": self.state.ids.new().lower()},
        )
        self.state.events[ev.uuid] = ev
        first, _, last = name.partition(" ")
        inv = Invitee(
            uuid=self.state.ids.new(),
            event_uuid=ev.uuid,
            email=email,
            name=name,
            first_name=first or None,
            last_name=last or None,
            status="active",
            timezone="UTC",
            questions_and_answers=[],
            created_at=now,
            updated_at=now,
            tracking=empty_tracking(),
            scheduling_method="instant",
        )
        self.state.invitees[inv.uuid] = inv
        ev.invitee_uuids.append(inv.uuid)
        self._emit_invitee("invitee.created", inv)
        return inv

    # cancelling -----------------------------------------------------------------------------
    def _cancel_invitee(
        self,
        inv: Invitee,
        cancellation: JSON,
        *,
        rescheduled: bool = False,
        new: tuple[str, str] | None = None,
    ) -> None:
        now = self.clock()
        inv.status = "canceled"
        inv.cancellation = cancellation
        inv.rescheduled = rescheduled
        inv.new_invitee = new
        inv.updated_at = now
        self._emit_invitee("invitee.canceled", inv)

    def _close_event_if_empty(self, ev: ScheduledEvent, cancellation: JSON) -> None:
        if ev.status == "active" and not self.state.active_invitees(ev):
            ev.status = "canceled"
            ev.cancellation = cancellation
            ev.updated_at = self.clock()

    def cancel_invitee(self, ref: str, reason: str | None = None) -> Invitee:
        """The invitee cancels; the event is canceled when nobody is left."""
        inv = self.invitee(ref)
        if inv.status != "active":
            raise bad_param("invitee", "is already canceled")
        cancellation = {
            "canceled_by": inv.name,
            "reason": reason,
            "canceler_type": "invitee",
            "created_at": iso(self.clock()),
        }
        self._cancel_invitee(inv, cancellation)
        self._close_event_if_empty(self.state.events[inv.event_uuid], cancellation)
        return inv

    def cancel_event(self, ev: ScheduledEvent, canceled_by: str, reason: str | None) -> JSON:
        """The host cancels the whole event and so every active invitee."""
        now = self.clock()
        cancellation = {
            "canceled_by": canceled_by,
            "reason": reason,
            "canceler_type": "host",
            "created_at": iso(now),
        }
        ev.status = "canceled"
        ev.cancellation = cancellation
        ev.updated_at = now
        for inv in [self.state.invitees[i] for i in ev.invitee_uuids if i in self.state.invitees]:
            if inv.status == "active":
                self._cancel_invitee(inv, cancellation)
        return cancellation

    def reschedule(self, ref: str, new_start: float | None = None) -> Invitee:
        """Move the invitee to a new event: ``invitee.canceled`` (``rescheduled``) for the old
        invitee, then ``invitee.created`` for the new one, as Calendly sends them."""
        old = self.invitee(ref)
        if old.status != "active":
            raise bad_param("invitee", "is already canceled")
        old_event = self.state.events[old.event_uuid]
        if new_start is None:
            new_start = old_event.start + 86400
        # Build the new booking without announcing it yet: the cancel goes out first.
        emit, self.emit = self.emit, (lambda *args: None)
        try:
            new = self.book(old_event.event_type_uuid, new_start, old.email, old.name)
        finally:
            self.emit = emit
        new.old_invitee = (old.event_uuid, old.uuid)
        new.questions_and_answers = list(old.questions_and_answers)
        cancellation = {
            "canceled_by": old.name,
            "reason": "Rescheduled",
            "canceler_type": "invitee",
            "created_at": iso(self.clock()),
        }
        self._cancel_invitee(old, cancellation, rescheduled=True, new=(new.event_uuid, new.uuid))
        self._close_event_if_empty(old_event, cancellation)
        self._emit_invitee("invitee.created", new)
        return new

    # no-shows -------------------------------------------------------------------------------
    def mark_no_show(self, ref: str) -> NoShow:
        """Mark an invitee as a no-show; fires ``invitee_no_show.created``."""
        inv = self.invitee(ref)
        if inv.no_show_uuid is not None:
            raise bad_param("invitee", "is already marked as no-show")
        ns = NoShow(uuid=self.state.ids.new(), invitee_uuid=inv.uuid, created_at=self.clock())
        self.state.no_shows[ns.uuid] = ns
        inv.no_show_uuid = ns.uuid
        inv.updated_at = ns.created_at
        self._emit_invitee("invitee_no_show.created", inv)
        return ns

    def unmark_no_show(self, ns: NoShow) -> None:
        """Remove a no-show mark; fires ``invitee_no_show.deleted``."""
        del self.state.no_shows[ns.uuid]
        inv = self.state.invitees.get(ns.invitee_uuid)
        if inv is not None:
            inv.no_show_uuid = None
            inv.updated_at = self.clock()
            self._emit_invitee("invitee_no_show.deleted", inv)

    def unmark_invitee(self, ref: str) -> None:
        """Remove the no-show mark of an invitee (control API convenience)."""
        inv = self.invitee(ref)
        if inv.no_show_uuid is None or inv.no_show_uuid not in self.state.no_shows:
            raise bad_param("invitee", "is not marked as no-show")
        self.unmark_no_show(self.state.no_shows[inv.no_show_uuid])

    # routing forms --------------------------------------------------------------------------
    def submit_routing_form(
        self, form_uuid: str | None = None, answers: dict[str, str] | None = None
    ) -> RoutingFormSubmission:
        """Submit a routing form; fires ``routing_form_submission.created``."""
        forms = self.state.routing_forms
        form = (
            forms.get(form_uuid)
            if form_uuid
            else next((f for f in forms.values() if f.status == "published"), None)
        )
        if form is None:
            raise not_found()
        answers = answers or {}
        qa: list[JSON] = []
        for q in form.questions:
            answer = answers.get(q["name"], answers.get(q["uuid"]))
            if answer is None and q.get("answer_choices"):
                answer = q["answer_choices"][0]
            if answer is None and q["type"] == "email":
                answer = "submitter@example.org"
            qa.append({"question_uuid": q["uuid"], "question": q["name"], "answer": answer})
        now = self.clock()
        target = next(et for et in self.state.event_types.values() if et.org_uuid == form.org_uuid)
        sub = RoutingFormSubmission(
            uuid=self.state.ids.new(),
            form_uuid=form.uuid,
            questions_and_answers=qa,
            tracking=empty_tracking(),
            result={"type": "event_type", "value": self.render.event_type_uri(target.uuid)},
            submitter=None,
            created_at=now,
            updated_at=now,
        )
        self.state.submissions[sub.uuid] = sub
        self.emit(
            "routing_form_submission.created", form.org_uuid, [], None, self.render.submission(sub)
        )
        return sub
