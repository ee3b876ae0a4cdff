"""Property tests: random query parameters and control bodies never cause a 5xx."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from components.calendly.sandbox import Sandbox, SandboxConfig

from .conftest import BASE_URL

SB = Sandbox(SandboxConfig(seed=11, events=50, base_url=BASE_URL, rate_limit_per_minute=10**6))
TOKEN = SB.personal_access_token()
ORG = SB.organization.uri
OWNER = SB.owner.uri

LISTS = [
    "/scheduled_events",
    "/event_types",
    "/organization_memberships",
    "/webhook_subscriptions",
    "/routing_forms",
    "/routing_form_submissions",
    "/activity_log_entries",
    "/event_type_available_times",
    "/user_busy_times",
    "/user_availability_schedules",
    f"/organizations/{SB.organization.uuid}/invitations",
]
NAMES = [
    "organization",
    "user",
    "count",
    "page_token",
    "sort",
    "status",
    "email",
    "invitee_email",
    "min_start_time",
    "max_start_time",
    "active",
    "admin_managed",
    "scope",
    "form",
    "event_type",
    "start_time",
    "end_time",
    "actor",
    "action",
    "namespace",
    "search_term",
    "min_occurred_at",
    "junk",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            ORG,
            OWNER,
            "true",
            "false",
            "0",
            "100",
            "101",
            "-1",
            "1e3",
            "start_time:desc",
            "name:asc",
            "created_at:sideways",
            "organization",
            "user",
            "active",
            "canceled",
            "2030-01-01T00:00:00Z",
            "2020-13-45",
            f"{BASE_URL}/users/",
            "https://api.calendly.com/organizations/X",
            "a@b.co",
            "not-an-email",
        ]
    ),
)


def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=SB.app),
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


def _calendly_shaped(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.url, r.text)
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body["title"], str) and isinstance(body["message"], str)
        for detail in body.get("details", []):
            assert isinstance(detail["message"], str)
    else:
        body = r.json()
        assert "collection" in body


@settings(max_examples=50)
@given(
    path=st.sampled_from(LISTS),
    params=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=6),
)
def test_random_queries_give_calendly_shaped_answers(
    path: str, params: list[tuple[str, str]]
) -> None:
    _calendly_shaped(_call("GET", path, params=params))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
CONTROL = [
    "/_sandbox/book",
    "/_sandbox/cancel",
    "/_sandbox/reschedule",
    "/_sandbox/no_show",
    "/_sandbox/no_show/delete",
    "/_sandbox/routing_form_submissions",
    "/_sandbox/tokens",
    "/_sandbox/faults",
    "/_sandbox/plan",
    "/_sandbox/calendar",
]
BODY_KEYS = [
    "invitee",
    "event_type",
    "start_time",
    "email",
    "name",
    "reason",
    "form",
    "answers",
    "kind",
    "user",
    "scope",
    "plan",
    "latency",
    "error_rate_429",
    "broken",
]


@settings(max_examples=50)
@given(
    path=st.sampled_from(CONTROL),
    body=st.dictionaries(st.sampled_from(BODY_KEYS), JSONISH, max_size=4),
)
def test_random_control_bodies_never_5xx(path: str, body: dict[str, Any]) -> None:
    r = _call("POST", path, json=body)
    SB.set_faults()  # a generated fault body must not leak into the next example
    SB.set_plan("enterprise")
    SB.state.calendar_errors.clear()
    assert r.status_code < 500, (path, body, r.text)
    if r.status_code >= 400:
        assert {"title", "message"} <= set(r.json())


@settings(max_examples=30)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "url",
                "events",
                "organization",
                "scope",
                "user",
                "signing_key",
                "max_event_count",
                "owner",
                "owner_type",
                "event_type",
                "duration",
                "period_type",
                "emails",
                "invitee",
                "reason",
            ]
        ),
        JSONISH,
        max_size=5,
    ),
    path=st.sampled_from(
        [
            "/webhook_subscriptions",
            "/scheduling_links",
            "/shares",
            "/invitee_no_shows",
            "/data_compliance/deletion/invitees",
            "/data_compliance/deletion/events",
            f"/organizations/{SB.organization.uuid}/invitations",
        ]
    ),
)
def test_random_write_bodies_never_5xx(path: str, body: dict[str, Any]) -> None:
    r = _call("POST", path, json=body)
    assert r.status_code < 500, (path, body, r.text)
    if r.status_code >= 400:
        assert {"title", "message"} <= set(r.json())
