"""The seed's organization-wide extras: routing forms, shares and links, activity.

Part of ``Seeder`` (see ``seed.py``), split out by what it builds.

Times are laid out around midnight UTC of the clock's current day, so past and future events
exist whenever the sandbox starts, while the data stays identical within a day (and exactly
identical under a mocked clock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import (
    JSON,
    ActivityEntry,
    EventType,
    Organization,
    RoutingForm,
    RoutingFormSubmission,
    SchedulingLink,
    Share,
    User,
    WebhookSubscription,
)
from .seed_data import (
    DAY,
    FIRST_NAMES,
    LAST_NAMES,
    empty_tracking,
    working_hours,
)

if TYPE_CHECKING:
    import random

    from .ids import IdFactory
    from .state import State


class OrganizationExtras:
    """The routing forms, scheduling links, shares, webhooks and activity log of a seed."""

    rng: random.Random
    ids: IdFactory
    anchor: float
    base: str
    state: State

    def _person(self) -> tuple[str, str, str]:
        first = self.rng.choice(FIRST_NAMES)
        last = self.rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}{self.rng.randint(1, 999)}@example.org"
        return first, last, email

    def _routing_forms(self, org: Organization, target: EventType) -> None:
        questions: list[JSON] = [
            {
                "uuid": self.ids.new_uuid4(),
                "name": "What is your industry?",
                "type": "select",
                "required": True,
                "answer_choices": ["IT & Software", "Financial Services", "Entertainment"],
            },
            {
                "uuid": self.ids.new_uuid4(),
                "name": "Email",
                "type": "email",
                "required": True,
                "answer_choices": None,
            },
        ]
        for name, status in [("Inbound Demo Request", "published"), ("Draft Intake", "draft")]:
            created = self.anchor - self.rng.randint(30, 200) * DAY
            form = RoutingForm(
                uuid=self.ids.new(),
                org_uuid=org.uuid,
                name=name,
                status=status,
                questions=[dict(q) for q in questions],
                created_at=created,
                updated_at=created + DAY,
            )
            self.state.routing_forms[form.uuid] = form
            if status != "published":
                continue
            invitees = list(self.state.invitees.values())[:6]
            for i in range(8):
                _first, _last, email = self._person()
                sub_created = self.anchor - (20 - i) * DAY
                submitter = invitees[i] if i < len(invitees) else None
                sub = RoutingFormSubmission(
                    uuid=self.ids.new(),
                    form_uuid=form.uuid,
                    questions_and_answers=[
                        {
                            "question_uuid": questions[0]["uuid"],
                            "question": questions[0]["name"],
                            "answer": self.rng.choice(questions[0]["answer_choices"]),
                        },
                        {
                            "question_uuid": questions[1]["uuid"],
                            "question": "Email",
                            "answer": email,
                        },
                    ],
                    tracking=empty_tracking(),
                    result={
                        "type": "event_type",
                        "value": f"{self.base}/event_types/{target.uuid}",
                    },
                    submitter=(submitter.event_uuid, submitter.uuid) if submitter else None,
                    created_at=sub_created,
                    updated_at=sub_created,
                )
                self.state.submissions[sub.uuid] = sub
                if submitter:
                    submitter.routing_form_submission_uuid = sub.uuid

    def _misc(self, org: Organization, owner: User, et: EventType) -> None:
        created = self.anchor - 10 * DAY
        # A subscription Calendly already gave up on: shows the disabled state, receives nothing.
        hook = WebhookSubscription(
            uuid=self.ids.new(),
            url="https://hooks.example.invalid/calendly",
            events=["invitee.created", "invitee.canceled"],
            scope="organization",
            org_uuid=org.uuid,
            user_uuid=None,
            creator_uuid=owner.uuid,
            signing_key=None,
            state="disabled",
            created_at=created,
            updated_at=created + DAY,
            retry_started_at=created + 3600,
        )
        self.state.webhooks[hook.uuid] = hook
        link_id = self.ids.new()
        booking = f"{self.base}/d/{link_id.lower()[:8]}/{et.slug.split('/')[-1]}"
        link = SchedulingLink(
            uuid=link_id,
            event_type_uuid=et.uuid,
            booking_url=booking,
            max_event_count=1,
            created_at=created,
        )
        self.state.scheduling_links[link.uuid] = link
        share_id = self.ids.new()
        share = Share(
            uuid=share_id,
            event_type_uuid=et.uuid,
            created_at=created,
            resource={
                "scheduling_links": [
                    {
                        "booking_url": f"{self.base}/d/{share_id.lower()[:8]}/share",
                        "owner": f"{self.base}/event_types/{et.uuid}",
                        "owner_type": "EventType",
                    }
                ],
                "share_override": {
                    "name": et.name,
                    "duration": et.duration,
                    "period_type": "unlimited",
                    "start_date": None,
                    "end_date": None,
                    "max_booking_time": None,
                    "hide_location": False,
                    "location_configurations": [],
                    "availability_rule": {"rules": working_hours(), "timezone": owner.timezone},
                },
            },
        )
        self.state.shares[share.uuid] = share

    def _activity(self, org: Organization, actors: list[User]) -> None:
        kinds = [
            ("User", "Login"),
            ("User", "Logout"),
            ("Organization", "UserAdded"),
            ("Organization", "InvitationSent"),
            ("EventType", "Created"),
            ("EventType", "Updated"),
            ("Webhook", "Created"),
            ("Compliance", "DataExported"),
        ]
        for i in range(150):
            actor = actors[self.rng.randrange(len(actors))]
            namespace, action = kinds[self.rng.randrange(len(kinds))]
            entry = ActivityEntry(
                uuid=self.ids.new(),
                org_uuid=org.uuid,
                occurred_at=self.anchor - (150 - i) * 4 * 3600 - self.rng.randrange(3600),
                namespace=namespace,
                action=action,
                actor_uuid=actor.uuid,
                actor_name=actor.name,
                details={"ip": f"10.0.0.{self.rng.randint(1, 254)}"},
            )
            self.state.activity[entry.uuid] = entry
