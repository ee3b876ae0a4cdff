"""Every operation the 35 actions use, validated (request and response) against openapi.yaml."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from components.calendly.sandbox import Sandbox

from .conftest import FakeClock, spec_dict

SPEC_HOST = "https://api.calendly.com"


class _Req:
    """openapi-core's Request protocol over an httpx request, re-hosted on the spec server."""

    def __init__(self, request: httpx.Request) -> None:
        self.host_url = SPEC_HOST
        self.path = request.url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(list(request.headers.items())),
        )

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


class _Resp:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "application/json")
        self.headers = dict(response.headers)
        self.data: bytes | None = response.content or None


class Checker:
    """Sends requests and validates both sides; remembers which operations it covered."""

    def __init__(self, client: httpx.AsyncClient, api: OpenAPI) -> None:
        self.client = client
        self.api = api
        self.seen: set[tuple[str, str]] = set()

    async def __call__(self, method: str, url: str, expect: int, **kwargs: Any) -> Any:
        response = await self.client.request(method, url, **kwargs)
        assert response.status_code == expect, (method, url, response.status_code, response.text)
        req, resp = _Req(response.request), _Resp(response)
        self.api.validate_request(req)
        self.api.validate_response(req, resp)
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert name in response.headers
        self.seen.add((method.upper(), urlsplit(str(response.request.url)).path))
        return response.json() if response.content else None


# openapi-core cannot check the oauth2 scheme; the sandbox's own auth tests cover it.
@pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")
@pytest.mark.asyncio
async def test_every_action_operation_matches_the_spec(
    sb: Sandbox, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    api = OpenAPI.from_dict(spec_dict())
    check = Checker(client, api)
    org, org_uuid = sb.organization.uri, sb.organization.uuid
    me = (await check("GET", "/users/me", 200))["resource"]
    assert me["uri"] == sb.owner.uri and me["current_organization"] == org

    # Users and organizations
    users = (
        await check(
            "GET", "/organization_memberships", 200, params={"organization": org, "count": 100}
        )
    )["collection"]
    member = next(m for m in users if m["role"] == "user")
    await check("GET", f"/users/{member['user']['uri'].rsplit('/', 1)[1]}", 200)
    membership_uuid = member["uri"].rsplit("/", 1)[1]
    await check("GET", f"/organization_memberships/{membership_uuid}", 200)
    await check(
        "GET",
        "/organization_memberships",
        200,
        params={"organization": org, "email": member["user"]["email"]},
    )
    invitations = await check(
        "GET",
        f"/organizations/{org_uuid}/invitations",
        200,
        params={"status": "pending", "sort": "created_at:desc"},
    )
    assert invitations["collection"]
    created = await check(
        "POST",
        f"/organizations/{org_uuid}/invitations",
        201,
        json={"email": "new.person@example.com"},
    )
    inv_uuid = created["resource"]["uri"].rsplit("/", 1)[1]
    await check("GET", f"/organizations/{org_uuid}/invitations/{inv_uuid}", 200)
    await check("DELETE", f"/organizations/{org_uuid}/invitations/{inv_uuid}", 204)
    await check("DELETE", f"/organization_memberships/{membership_uuid}", 204)

    # Event types and availability
    types = (await check("GET", "/event_types", 200, params={"organization": org}))["collection"]
    assert [t["name"] for t in types] == sorted((t["name"] for t in types), key=str.lower)
    await check(
        "GET",
        "/event_types",
        200,
        params={"user": sb.owner.uri, "active": "true", "admin_managed": "false"},
    )
    et = next(t for t in types if t["active"] and t["profile"]["owner"] == sb.owner.uri)
    await check("GET", f"/event_types/{et['uri'].rsplit('/', 1)[1]}", 200)
    window = {"start_time": "2027-01-18T00:00:00Z", "end_time": "2027-01-24T00:00:00Z"}
    times = await check(
        "GET", "/event_type_available_times", 200, params={"event_type": et["uri"], **window}
    )
    assert times["collection"], "a weekday window should have free slots"
    await check("GET", "/user_busy_times", 200, params={"user": sb.owner.uri, **window})
    sb.set_calendar_error(sb.owner.uuid, True)  # the owner's calendar cannot be read
    broken = await check("GET", "/user_busy_times", 424, params={"user": sb.owner.uri, **window})
    assert broken["title"] == "External Calendar Error"
    sb.set_calendar_error(sb.owner.uuid, False)
    await check("GET", "/user_busy_times", 200, params={"user": sb.owner.uri, **window})
    schedules = await check(
        "GET", "/user_availability_schedules", 200, params={"user": sb.owner.uri}
    )
    await check("GET", schedules["collection"][0]["uri"].replace(sb.config.base_url, ""), 200)

    # Scheduled events, invitees, no-shows, cancellation
    booked = sb.book(et["uri"], start_time=clock() + 5 * 86400, email="booker@example.org")
    event_uuid = booked["event"].rsplit("/", 1)[1]
    await check(
        "GET",
        "/scheduled_events",
        200,
        params={"organization": org, "status": "active", "sort": "start_time:desc", "count": 5},
    )
    await check(
        "GET",
        "/scheduled_events",
        200,
        params={
            "user": sb.owner.uri,
            "invitee_email": "booker@example.org",
            "min_start_time": "2020-01-01T00:00:00.000000Z",
        },
    )
    await check("GET", f"/scheduled_events/{event_uuid}", 200)
    invitees = await check(
        "GET", f"/scheduled_events/{event_uuid}/invitees", 200, params={"status": "active"}
    )
    invitee_uuid = invitees["collection"][0]["uri"].rsplit("/", 1)[1]
    await check("GET", f"/scheduled_events/{event_uuid}/invitees/{invitee_uuid}", 200)
    no_show = await check("POST", "/invitee_no_shows", 201, json={"invitee": booked["uri"]})
    ns_uuid = no_show["resource"]["uri"].rsplit("/", 1)[1]
    await check("GET", f"/invitee_no_shows/{ns_uuid}", 200)
    await check("DELETE", f"/invitee_no_shows/{ns_uuid}", 204)
    cancel = await check(
        "POST",
        f"/scheduled_events/{event_uuid}/cancellation",
        201,
        json={"reason": "Double booked"},
    )
    assert cancel["resource"]["canceler_type"] == "host"

    # Links and shares
    await check(
        "POST",
        "/scheduling_links",
        201,
        json={"max_event_count": 1, "owner": et["uri"], "owner_type": "EventType"},
    )
    await check(
        "POST",
        "/shares",
        201,
        json={
            "event_type": et["uri"],
            "name": "Shared",
            "duration": 45,
            "period_type": "fixed",
            "start_date": "2027-01-02",
            "end_date": "2027-01-09",
            "hide_location": True,
            "location_configurations": [{"location": "HQ", "kind": "physical", "position": 0}],
        },
    )

    # Webhooks
    hook = await check(
        "POST",
        "/webhook_subscriptions",
        201,
        json={
            "url": "https://receiver.example/hook",
            "events": ["invitee.created", "invitee.canceled"],
            "organization": org,
            "scope": "organization",
            "signing_key": "k",
        },
    )
    hook_uuid = hook["resource"]["uri"].rsplit("/", 1)[1]
    assert "signing_key" not in hook["resource"]
    await check(
        "POST",
        "/webhook_subscriptions",
        201,
        json={
            "url": "https://receiver.example/user-hook",
            "events": ["invitee_no_show.created"],
            "organization": org,
            "scope": "user",
            "user": sb.owner.uri,
        },
    )
    await check(
        "GET", "/webhook_subscriptions", 200, params={"organization": org, "scope": "organization"}
    )
    await check(
        "GET",
        "/webhook_subscriptions",
        200,
        params={"organization": org, "scope": "user", "user": sb.owner.uri},
    )
    await check("GET", f"/webhook_subscriptions/{hook_uuid}", 200)
    await check("DELETE", f"/webhook_subscriptions/{hook_uuid}", 204)

    # Routing forms
    forms = await check(
        "GET", "/routing_forms", 200, params={"organization": org, "sort": "created_at:desc"}
    )
    form = next(f for f in forms["collection"] if f["status"] == "published")
    await check("GET", f"/routing_forms/{form['uri'].rsplit('/', 1)[1]}", 200)
    subs = await check("GET", "/routing_form_submissions", 200, params={"form": form["uri"]})
    await check(
        "GET", f"/routing_form_submissions/{subs['collection'][0]['uri'].rsplit('/', 1)[1]}", 200
    )

    # Activity log and data compliance (Enterprise)
    log = await check(
        "GET",
        "/activity_log_entries",
        200,
        params={
            "organization": org,
            "count": 500,
            "sort": "occurred_at:asc,action:desc",
            "namespace": "User,Organization",
            "action": "Login,Logout,UserAdded",
            "actor": sb.owner.uri,
            "min_occurred_at": "2020-01-01T00:00:00Z",
        },
    )
    assert log["total_count"] == len(log["collection"])
    await check(
        "POST", "/data_compliance/deletion/invitees", 202, json={"emails": ["booker@example.org"]}
    )
    await check(
        "POST",
        "/data_compliance/deletion/events",
        202,
        json={"start_time": "2020-01-01T00:00:00Z", "end_time": "2020-02-01T00:00:00Z"},
    )

    # Every path template the actions use was exercised.
    assert len(check.seen) >= 35
