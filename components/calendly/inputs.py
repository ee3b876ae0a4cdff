"""Inputs shared by many Calendly actions, declared once (keys and labels per the reference)."""

from __future__ import annotations

from typing import Any

from components.calendly.client import clean_uuid
from runtime import Input

CONNECTION = Input(key="connection", label="Connection", type="connection", required=True)


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
        key=key,
        label=label,
        required=required,
        example=example or None,
        comments=comments,
        clean=clean_uuid,
        data_source=data_source,
    )


def organization_input(*, required: bool = False, comments: str = "") -> Input:
    """An ``organization`` input taking a URI or a bare UUID."""
    return Input(
        key="organization",
        label="Organization",
        required=required,
        example="https://api.calendly.com/organizations/EBHAAFHDCAEQTSEZ or EBHAAFHDCAEQTSEZ",
        comments=comments or "The organization's URI or UUID.",
    )


def user_input(
    *, required: bool = False, comments: str = "", key: str = "user", label: str = "User"
) -> Input:
    """A user input (``user`` unless ``key`` says otherwise) taking a URI or a bare UUID."""
    return Input(
        key=key,
        label=label,
        required=required,
        example="https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
        comments=comments or "The user's URI or UUID.",
    )


#: Calendly's sort syntax, ``{field}:{asc|desc}`` comma-separated, checked before any request
#: (the fields differ by endpoint and are left to Calendly); empty means unset. The lookahead
#: ends the match at the very end (``$`` would also allow a trailing newline).
SORT_SCHEMA: dict[str, Any] = {
    "pattern": r"^(?:[A-Za-z0-9_.]+:(?:asc|desc)(?:,[A-Za-z0-9_.]+:(?:asc|desc))*)?(?![\s\S])"
}
SORT = Input(
    key="sort",
    label="Sort",
    comments="Order results by {field}:{direction}, comma-separated.",
    schema=SORT_SCHEMA,
)
LIMIT = Input(
    key="limit",
    label="Limit",
    type="integer",
    comments="Stop after this many items (all pages are read when unset).",
    schema={"minimum": 1},
)
