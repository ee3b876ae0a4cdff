"""Deterministic seed data: the same seed and clock day always give the same organization.

Times are laid out around midnight UTC of the clock's current day, so past and future events
exist whenever the sandbox starts, while the data stays identical within a day (and exactly
identical under a mocked clock).
"""

from __future__ import annotations

import random

from .ids import IdFactory
from .models import (
    EventType,
    Invitation,
    Invitee,
    Membership,
    NoShow,
    Organization,
    Schedule,
    ScheduledEvent,
    User,
)
from .seed_data import (
    DAY,
    custom_questions,
    empty_tracking,
    working_hours,
)
from .seed_org import OrganizationExtras
from .state import State
from .timeutil import iso


class Seeder(OrganizationExtras):
    """Builds a :class:`State` for a seed; one instance per sandbox."""

    def __init__(self, seed: int, now: float, base_url: str) -> None:
        self.rng = random.Random(seed)
        self.ids = IdFactory(random.Random(seed ^ 0x5EED))
        self.anchor = (now // DAY) * DAY
        self.base = base_url
        self.state = State(ids=self.ids)

    # helpers --------------------------------------------------------------------------------
    def _user(self, name: str, org: Organization, role: str, tz: str, ago_days: float) -> User:
        slug = name.lower().replace(" ", "-")
        created = self.anchor - ago_days * DAY
        user = User(
            uuid=self.ids.new(),
            name=name,
            slug=slug,
            email=f"{slug.replace('-', '.')}@example.com",
            timezone=tz,
            avatar_url=None,
            org_uuid=org.uuid,
            created_at=created,
            updated_at=created + DAY,
        )
        user.uri = f"{self.base}/users/{user.uuid}"
        self.state.users[user.uuid] = user
        membership = Membership(
            uuid=self.ids.new(),
            user_uuid=user.uuid,
            org_uuid=org.uuid,
            role=role,
            created_at=created,
            updated_at=created,
        )
        self.state.memberships[membership.uuid] = membership
        sched = Schedule(
            uuid=self.ids.new(),
            user_uuid=user.uuid,
            name="Working Hours",
            default=True,
            timezone=tz,
            rules=working_hours(),
        )
        self.state.schedules[sched.uuid] = sched
        return user

    def _event_type(
        self,
        org: Organization,
        name: str,
        owner: User,
        *,
        hosts: list[User] | None = None,
        active: bool = True,
        duration: int = 30,
        admin_managed: bool = False,
        kind: str = "solo",
        pooling: str | None = None,
        limit: int = 1,
    ) -> EventType:
        team = hosts is not None
        host_list = hosts if hosts is not None else [owner]
        slug = (
            f"{owner.slug}/{name.lower().replace(' ', '-')}"
            if not team
            else (f"team/{name.lower().replace(' ', '-')}")
        )
        created = self.anchor - self.rng.randint(60, 400) * DAY
        sched = next(
            (
                s
                for s in self.state.schedules.values()
                if s.user_uuid == host_list[0].uuid and s.default
            ),
            None,
        )
        et = EventType(
            uuid=self.ids.new(),
            org_uuid=org.uuid,
            name=name,
            slug=slug,
            active=active,
            duration=duration,
            kind=kind,
            pooling_type=pooling,
            profile_type="Team" if team else "User",
            profile_owner=(
                f"{self.base}/teams/{org.uuid}" if team else f"{self.base}/users/{owner.uuid}"
            ),
            profile_name="Sales Team" if team else owner.name,
            host_uuids=[h.uuid for h in host_list],
            admin_managed=admin_managed,
            secret=False,
            color=self.rng.choice(["#fff200", "#8247f5", "#0ae8f0", "#17e885"]),
            description=f"{name} with {owner.name}" if not team else f"{name} with our team",
            internal_note=None,
            schedule_uuid=sched.uuid if sched else None,
            custom_questions=custom_questions(),
            created_at=created,
            updated_at=created + DAY,
            invitees_limit=limit,
        )
        self.state.event_types[et.uuid] = et
        return et

    # build ----------------------------------------------------------------------------------
    def build(self, n_events: int) -> State:
        """Build and return the whole state."""
        st = self.state
        org = Organization(
            uuid=self.ids.new(),
            name="Acme Sandbox",
            created_at=self.anchor - 900 * DAY,
            updated_at=self.anchor - 30 * DAY,
        )
        org.uri = f"{self.base}/organizations/{org.uuid}"
        st.organizations[org.uuid] = org
        st.org_uuid = org.uuid
        owner = self._user("Olivia Owner", org, "owner", "America/New_York", 900)
        st.owner_uuid = owner.uuid
        admin = self._user("Adam Admin", org, "admin", "Europe/London", 700)
        members = [
            self._user(n, org, "user", tz, 500 - 50 * i)
            for i, (n, tz) in enumerate(
                [
                    ("Uma User", "America/Chicago"),
                    ("Victor Vance", "Europe/Berlin"),
                    ("Wen Wu", "Asia/Tokyo"),
                    ("Xena Xu", "America/Los_Angeles"),
                ]
            )
        ]
        evening = Schedule(
            uuid=self.ids.new(),
            user_uuid=owner.uuid,
            name="Evening Hours",
            default=False,
            timezone=owner.timezone,
            rules=working_hours("17:00", "21:00"),
        )
        st.schedules[evening.uuid] = evening

        other = Organization(
            uuid=self.ids.new(),
            name="Elsewhere Inc",
            created_at=self.anchor - 300 * DAY,
            updated_at=self.anchor - 3 * DAY,
        )
        other.uri = f"{self.base}/organizations/{other.uuid}"
        st.organizations[other.uuid] = other
        outsider = self._user("Oscar Outsider", other, "owner", "UTC", 300)
        self._event_type(other, "Outside Call", outsider)

        bookable = [
            self._event_type(org, "15 Minute Meeting", owner, duration=15),
            self._event_type(org, "30 Minute Meeting", owner, duration=30),
            self._event_type(org, "Admin Check-in", admin, duration=30),
            self._event_type(
                org,
                "Sales Demo",
                owner,
                hosts=[members[0], members[1]],
                admin_managed=True,
                duration=45,
                pooling="round_robin",
            ),
            self._event_type(
                org, "Team Workshop", owner, hosts=[members[2]], kind="group", duration=60, limit=10
            ),
        ] + [self._event_type(org, "Coffee Chat", m, duration=20) for m in members]
        self._event_type(org, "Old Intro Call", owner, active=False)
        self._event_type(
            org,
            "Managed Onboarding",
            owner,
            hosts=[admin],
            active=False,
            admin_managed=True,
            pooling="collective",
        )

        self._invitations(org, members[3])
        self._events(bookable, n_events)
        self._routing_forms(org, bookable[0])
        self._misc(org, owner, bookable[0])
        self._activity(org, [owner, admin, *members])
        return st

    def _invitations(self, org: Organization, accepted_user: User) -> None:
        for email, status, user in [
            ("pending.one@example.com", "pending", None),
            ("pending.two@example.com", "pending", None),
            (accepted_user.email, "accepted", accepted_user.uuid),
            ("declined@example.com", "declined", None),
        ]:
            created = self.anchor - self.rng.randint(5, 90) * DAY
            inv = Invitation(
                uuid=self.ids.new(),
                org_uuid=org.uuid,
                email=email,
                status=status,
                created_at=created,
                updated_at=created + 3600,
                last_sent_at=created,
                user_uuid=user,
            )
            self.state.invitations[inv.uuid] = inv

    def _events(self, types: list[EventType], n: int) -> None:
        st, rng, ids = self.state, self.rng, self.ids
        # Spread events over ~4 months around today so listings have past and future events.
        span_days = max(120, n // 40)
        first_day = -span_days // 2
        for _ in range(n):
            et = types[rng.randrange(len(types))]
            start = (
                self.anchor
                + (first_day + rng.randrange(span_days)) * DAY
                + rng.randrange(13, 21) * 3600
                + rng.choice((0, 1800))
            )
            created = start - rng.randrange(1, 30) * DAY - rng.randrange(3600)
            canceled = rng.random() < 0.1
            host = et.host_uuids[rng.randrange(len(et.host_uuids))]
            hosts = et.host_uuids if et.kind == "group" else [host]
            ev = ScheduledEvent(
                uuid=ids.new(),
                org_uuid=et.org_uuid,
                event_type_uuid=et.uuid,
                name=et.name,
                status="canceled" if canceled else "active",
                start=start,
                end=start + et.duration * 60,
                location={"type": "physical", "location": "Sandbox Office"},
                host_uuids=list(hosts),
                invitee_uuids=[],
                invitees_limit=et.invitees_limit,
                created_at=created,
                updated_at=created,
                calendar_event={"kind": "google", "external_id": ids.new().lower()},
            )
            if canceled:
                ev.cancellation = {
                    "canceled_by": "Invitee",
                    "reason": "Schedule conflict",
                    "canceler_type": "invitee",
                    "created_at": iso(created + 3600),
                }
                ev.updated_at = created + 3600
            st.events[ev.uuid] = ev
            for _k in range(1 if et.kind == "solo" else rng.randint(1, 3)):
                self._invitee(ev, created, canceled)

    def _invitee(self, ev: ScheduledEvent, created: float, canceled: bool) -> Invitee:
        first, last, email = self._person()
        inv = Invitee(
            uuid=self.ids.new(),
            event_uuid=ev.uuid,
            email=email,
            name=f"{first} {last}",
            first_name=first,
            last_name=last,
            status="canceled" if canceled else "active",
            timezone="UTC",
            questions_and_answers=[
                {"question": "Company Name", "answer": f"{last} Ltd", "position": 0}
            ],
            created_at=created,
            updated_at=ev.updated_at,
            tracking=empty_tracking(),
            scheduling_method="instant",
        )
        if canceled:
            inv.cancellation = {
                "canceled_by": inv.name,
                "reason": "Schedule conflict",
                "canceler_type": "invitee",
                "created_at": iso(ev.updated_at),
            }
        self.state.invitees[inv.uuid] = inv
        ev.invitee_uuids.append(inv.uuid)
        # A few past meetings were missed.
        if not canceled and ev.end < self.anchor and self.rng.random() < 0.05:
            ns = NoShow(uuid=self.ids.new(), invitee_uuid=inv.uuid, created_at=ev.end + 600)
            self.state.no_shows[ns.uuid] = ns
            inv.no_show_uuid = ns.uuid
        return inv


def build_state(seed: int, n_events: int, now: float, base_url: str) -> State:
    """Build the deterministic seed state for ``seed`` with ``n_events`` scheduled events."""
    return Seeder(seed, now, base_url).build(n_events)
