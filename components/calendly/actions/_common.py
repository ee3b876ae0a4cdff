"""Helpers shared by the users, organizations, event-type, availability, scheduled-event and
raw-request actions and by the data sources: reference inputs, the current user's
organization, and the JSON Schemas of the results.

Result schemas describe what Calendly documents and allow unknown fields everywhere
(current payloads carry fields the 2023 spec lacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from components.calendly.client import CalendlyClient, clean_uuid
from components.calendly.inputs import organization_input, user_input
from runtime import Input

if TYPE_CHECKING:
    from collections.abc import Mapping

Schema = dict[str, Any]

UUID_EXAMPLE = "9f53ccd3-88e6-4c62-ad9e-91ea57d2187d"
TIME_EXAMPLE_START = "2019-01-02T03:04:05.678123Z"
TIME_EXAMPLE_END = "2021-01-01T02:04:05.678123Z"

# --- inputs -----------------------------------------------------------------------------------


def org_ref(*, required: bool = False, comments: str = "") -> Input:
    """The reference's ``organization`` input, validated up front as a URI or a bare UUID."""
    return attrs.evolve(organization_input(required=required, comments=comments), clean=clean_uuid)


def user_ref(
    *,
    required: bool = False,
    comments: str = "",
    example: str | None = None,
) -> Input:
    """The reference's ``user`` input, validated up front as a URI or a bare UUID."""
    spec = user_input(required=required, comments=comments)
    if example is not None:
        spec = attrs.evolve(spec, example=example)
    return attrs.evolve(spec, clean=clean_uuid)


def ref_input(
    key: str, label: str, *, required: bool = False, comments: str = "", example: str | None = None
) -> Input:
    """Any other resource reference (event type, schedule...): URI or UUID, cleaned to UUID."""
    return Input(
        key=key,
        label=label,
        required=required,
        comments=comments,
        example=example,
        clean=clean_uuid,
    )


def time_input(
    key: str, label: str, *, comments: str, example: str, required: bool = False
) -> Input:
    """A UTC timestamp kept as the reference's string type, but checked as RFC 3339 before
    any request is made."""
    return Input(
        key=key,
        label=label,
        required=required,
        comments=comments,
        example=example,
        schema={"format": "date-time"},
    )


def email_input(
    key: str = "email", label: str = "Email", *, comments: str, example: str, required: bool = False
) -> Input:
    """An email address (checked before any request)."""
    return Input(
        key=key,
        label=label,
        required=required,
        comments=comments,
        example=example,
        schema={"format": "email"},
    )


# --- Calendly helpers -------------------------------------------------------------------------


async def current_user(client: CalendlyClient) -> dict[str, Any]:
    """The authenticated user (``GET /users/me``)."""
    body = await client.get("/users/me")
    user: dict[str, Any] = body["resource"]
    return user


async def current_organization(client: CalendlyClient) -> str:
    """The current user's organization URI: the default where Calendly needs one (never an
    empty ``.../organizations/`` URI)."""
    return str((await current_user(client))["current_organization"])


def filters(
    client: CalendlyClient,
    params: Mapping[str, Any],
    mapping: Mapping[str, str],
    uris: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Calendly query parameters from action params.

    ``mapping`` is input key -> query name; ``uris`` is input key -> collection for inputs that
    Calendly takes as full URIs (their params hold bare UUIDs). Unset inputs are not sent.
    """
    query: dict[str, Any] = {}
    for key, name in mapping.items():
        value = params.get(key)
        if value is None or value == "":
            continue
        if uris and key in uris:
            value = client.uri(uris[key], value)
        query[name] = value
    return query


def limit_of(params: Mapping[str, Any]) -> int | None:
    """The optional item limit of a list action."""
    value = params.get("limit")
    return int(value) if value is not None else None


# --- result schemas ---------------------------------------------------------------------------

STR: Schema = {"type": "string"}
STR_OR_NULL: Schema = {"type": ["string", "null"]}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
OBJ_OR_NULL: Schema = {"type": ["object", "null"]}


def obj(required: tuple[str, ...], /, **properties: Schema) -> Schema:
    """An object schema that allows unknown fields."""
    return {"type": "object", "properties": properties, "required": list(required)}


def resource_output(item: Schema) -> Schema:
    """``{"data": {"resource": item}}``."""
    return obj(("data",), data=obj(("resource",), resource=item))


def list_output(item: Schema) -> Schema:
    """``{"data": [item, ...]}`` (paginated lists, followed to the end)."""
    return obj(("data",), data={"type": "array", "items": item})


def collection_output(item: Schema) -> Schema:
    """``{"data": {"collection": [item, ...]}}`` (Calendly's unpaginated collections)."""
    return obj(("data",), data=obj(("collection",), collection={"type": "array", "items": item}))


def flagged(schema: Schema, flag: str) -> Schema:
    """``schema`` with a required boolean ``flag`` beside ``data``: whether a repeated call
    found its work already done (and ``data`` is what was there)."""
    return {
        **schema,
        "properties": {**schema["properties"], flag: BOOL},
        "required": [*schema["required"], flag],
    }


NO_CONTENT_OUTPUT: Schema = obj(("data",), data={"type": "null"})

USER_CORE: Schema = obj(
    ("uri", "name", "email"),
    uri=STR,
    name=STR,
    slug=STR,
    email=STR,
    scheduling_url=STR,
    timezone=STR,
    avatar_url=STR_OR_NULL,
    created_at=STR,
    updated_at=STR,
)
USER: Schema = {
    **USER_CORE,
    "properties": {**USER_CORE["properties"], "current_organization": STR, "resource_type": STR},
    "required": [*USER_CORE["required"], "current_organization"],
}
MEMBERSHIP: Schema = obj(
    ("uri", "role", "user", "organization"),
    uri=STR,
    role=STR,
    user=USER_CORE,
    organization=STR,
    created_at=STR,
    updated_at=STR,
)
INVITATION: Schema = obj(
    ("uri", "organization", "email", "status"),
    uri=STR,
    organization=STR,
    email=STR,
    status=STR,
    created_at=STR,
    updated_at=STR,
    last_sent_at=STR_OR_NULL,
    user=STR_OR_NULL,
)
EVENT_TYPE: Schema = obj(
    ("uri", "name", "active"),
    uri=STR,
    name=STR_OR_NULL,
    active=BOOL,
    booking_method=STR,
    slug=STR_OR_NULL,
    scheduling_url=STR,
    duration=INT,
    kind=STR,
    pooling_type=STR_OR_NULL,
    type=STR,
    color=STR,
    created_at=STR,
    updated_at=STR,
    internal_note=STR_OR_NULL,
    description_plain=STR_OR_NULL,
    description_html=STR_OR_NULL,
    profile=OBJ_OR_NULL,
    secret=BOOL,
    deleted_at=STR_OR_NULL,
    admin_managed=BOOL,
    custom_questions={"type": "array", "items": {"type": "object"}},
)
_INTERVAL: Schema = obj(("from", "to"), **{"from": STR, "to": STR})
SCHEDULE: Schema = obj(
    ("uri", "default", "name", "user", "timezone", "rules"),
    uri=STR,
    default=BOOL,
    name=STR,
    user=STR,
    timezone=STR,
    rules={
        "type": "array",
        "items": obj(
            ("type", "intervals"),
            type=STR,
            wday=STR,
            date=STR,
            intervals={"type": "array", "items": _INTERVAL},
        ),
    },
)
AVAILABLE_TIME: Schema = obj(
    ("status", "start_time"),
    status=STR,
    invitees_remaining=INT,
    start_time=STR,
    scheduling_url=STR,
)
BUSY_TIME: Schema = obj(
    ("type", "start_time", "end_time"),
    type=STR,
    start_time=STR,
    end_time=STR,
    buffered_start_time=STR,
    buffered_end_time=STR,
    event=obj(("uri",), uri=STR),
)
EVENT: Schema = obj(
    ("uri", "name", "status", "start_time", "end_time"),
    uri=STR,
    name=STR_OR_NULL,
    status=STR,
    start_time=STR,
    end_time=STR,
    event_type=STR,
    location=OBJ_OR_NULL,
    invitees_counter=obj(("total", "active", "limit"), total=INT, active=INT, limit=INT),
    created_at=STR,
    updated_at=STR,
    event_memberships={"type": "array", "items": obj(("user",), user=STR)},
    event_guests={"type": "array", "items": {"type": "object"}},
    calendar_event=OBJ_OR_NULL,
)
INVITEE: Schema = obj(
    ("uri", "email", "name", "status", "event"),
    uri=STR,
    email=STR,
    name=STR,
    first_name=STR_OR_NULL,
    last_name=STR_OR_NULL,
    status=STR,
    event=STR,
    timezone=STR_OR_NULL,
    created_at=STR,
    updated_at=STR,
    rescheduled=BOOL,
    old_invitee=STR_OR_NULL,
    new_invitee=STR_OR_NULL,
    cancel_url=STR,
    reschedule_url=STR,
    questions_and_answers={"type": "array", "items": {"type": "object"}},
    tracking=OBJ_OR_NULL,
    text_reminder_number=STR_OR_NULL,
    routing_form_submission=STR_OR_NULL,
    payment=OBJ_OR_NULL,
    no_show=OBJ_OR_NULL,
    reconfirmation=OBJ_OR_NULL,
)
CANCELLATION: Schema = obj(
    ("canceled_by", "canceler_type"),
    canceled_by=STR,
    reason=STR_OR_NULL,
    canceler_type=STR,
    created_at=STR,
)
