"""Inputs shared by many Calendly actions, declared once (keys and labels per the reference)."""

from __future__ import annotations

from components.calendly.client import clean_uuid
from runtime import Input

CONNECTION = Input("connection", "Connection", "connection", required=True)


def uuid_input(
    key: str = "uuid",
    label: str = "UUID",
    *,
    required: bool = True,
    example: str = "",
    comments: str = "",
    data_source: str | None = None,
) -> Input:
    """A resource reference: a full Calendly URI or a bare UUID (cleaned to the UUID)."""
    return Input(
        key,
        label,
        required=required,
        example=example or None,
        comments=comments,
        clean=clean_uuid,
        data_source=data_source,
    )


def organization_input(*, required: bool = False, comments: str = "") -> Input:
    return Input(
        "organization",
        "Organization",
        required=required,
        example="https://api.calendly.com/organizations/EBHAAFHDCAEQTSEZ or EBHAAFHDCAEQTSEZ",
        comments=comments or "The organization's URI or UUID.",
    )


def user_input(
    *, required: bool = False, comments: str = "", key: str = "user", label: str = "User"
) -> Input:
    return Input(
        key,
        label,
        required=required,
        example="https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
        comments=comments or "The user's URI or UUID.",
    )


SORT = Input("sort", "Sort", comments="Order results by {field}:{direction}, comma-separated.")
LIMIT = Input(
    "limit",
    "Limit",
    "integer",
    comments="Stop after this many items (all pages are read when unset).",
    schema={"minimum": 1},
)
