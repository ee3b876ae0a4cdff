"""Writes change state, and the /_sandbox control API drives the simulation."""

from __future__ import annotations

import httpx
import pytest

from components.calendly.sandbox import Sandbox

from .conftest import FakeClock


@pytest.mark.asyncio
async def test_cancellation_cancels_event_and_invitees(
    sb: Sandbox, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    invitee = sb.book(start_time=clock() + 86400)
    event_uuid = invitee["event"].rsplit("/", 1)[1]
    r = await client.post(f"/scheduled_events/{event_uuid}/cancellation", json={"reason": "Ill"})
    assert r.status_code == 201
    assert r.json()["resource"]["reason"] == "Ill"
    event = (await client.get(f"/scheduled_events/{event_uuid}")).json()["resource"]
    assert event["status"] == "canceled" and event["cancellation"]["canceler_type"] == "host"
    invitees = (await client.get(f"/scheduled_events/{event_uuid}/invitees")).json()
    assert [i["status"] for i in invitees["collection"]] == ["canceled"]
    again = await client.post(f"/scheduled_events/{event_uuid}/cancellation")
    assert again.status_code == 403 and again.json()["message"] == "Event is already canceled"
    past = next(e for e in sb.state.events.values() if e.status == "active" and e.start < clock())
    r = await client.post(f"/scheduled_events/{past.uuid}/cancellation")
    assert r.status_code == 403 and r.json()["message"] == "Event in the past"
    long = await client.post(
        f"/scheduled_events/{event_uuid}/cancellation", json={"reason": "x" * 10001}
    )
    assert long.status_code == 400


@pytest.mark.asyncio
async def test_deletions_and_revocations(sb: Sandbox, client: httpx.AsyncClient) -> None:
    org = sb.organization
    pending = next(i for i in sb.state.invitations.values() if i.status == "pending")
    path = f"/organizations/{org.uuid}/invitations/{pending.uuid}"
    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404
    member = next(m for m in sb.state.memberships.values() if m.role == "user")
    assert (await client.delete(f"/organization_memberships/{member.uuid}")).status_code == 204
    listed = (
        await client.get(
            "/organization_memberships", params={"organization": org.uri, "count": 100}
        )
    ).json()["collection"]
    assert member.uuid not in {m["uri"].rsplit("/", 1)[1] for m in listed}
    owner_m = next(
        m for m in sb.state.memberships.values() if m.role == "owner" and m.org_uuid == org.uuid
    )
    assert (await client.delete(f"/organization_memberships/{owner_m.uuid}")).status_code == 403
    dup = await client.post(
        f"/organizations/{org.uuid}/invitations", json={"email": sb.owner.email}
    )
    assert dup.status_code == 400


@pytest.mark.asyncio
async def test_data_compliance_removes_data(sb: Sandbox, client: httpx.AsyncClient) -> None:
    booked = sb.book(email="forget.me@example.org")
    r = await client.post(
        "/data_compliance/deletion/invitees", json={"emails": ["forget.me@example.org"]}
    )
    assert r.status_code == 202 and r.json() == {}
    found = await client.get(
        "/scheduled_events",
        params={"organization": sb.organization.uri, "invitee_email": "forget.me@example.org"},
    )
    assert found.json()["collection"] == []
    assert booked["uri"].rsplit("/", 1)[1] not in sb.state.invitees
    before = len(sb.state.events)
    events = sorted(sb.state.events.values(), key=lambda e: e.start)
    from components.calendly.sandbox.timeutil import iso

    r = await client.post(
        "/data_compliance/deletion/events",
        json={"start_time": iso(events[0].start), "end_time": iso(events[9].start)},
    )
    assert r.status_code == 202
    assert len(sb.state.events) < before
    assert events[0].uuid not in sb.state.events


@pytest.mark.asyncio
async def test_event_type_filters_only_when_sent(sb: Sandbox, client: httpx.AsyncClient) -> None:
    org = sb.organization.uri
    everything = (
        await client.get("/event_types", params={"organization": org, "count": 100})
    ).json()["collection"]
    assert {t["active"] for t in everything} == {True, False}
    active = (
        await client.get("/event_types", params={"organization": org, "active": "true"})
    ).json()["collection"]
    assert active and all(t["active"] for t in active)
    managed = (
        await client.get("/event_types", params={"organization": org, "admin_managed": "true"})
    ).json()
    assert managed["collection"] and all(t["admin_managed"] for t in managed["collection"])
    desc = (
        await client.get(
            "/event_types", params={"organization": org, "sort": "name:desc", "count": 100}
        )
    ).json()["collection"]
    assert [t["uri"] for t in desc] == [t["uri"] for t in reversed(everything)] or [
        t["name"].lower() for t in desc
    ] == sorted((t["name"].lower() for t in desc), reverse=True)
    r = await client.get("/event_types", params={"organization": org, "sort": "color:asc"})
    assert r.status_code == 400


@pytest.mark.asyncio
async def test_control_api(sb: Sandbox, anon: httpx.AsyncClient) -> None:
    summary = (await anon.get("/_sandbox/state")).json()
    assert summary["owner"]["uri"] == sb.owner.uri
    assert summary["organization"]["uri"] == sb.organization.uri
    et = next(t for t in summary["event_types"] if t["active"])
    booked = await anon.post(
        "/_sandbox/book",
        json={
            "event_type": et["uri"],
            "start_time": "2031-01-06T15:00:00Z",
            "email": "c@example.org",
            "name": "Cee Control",
        },
    )
    assert booked.status_code == 201
    invitee = booked.json()["resource"]
    assert invitee["first_name"] == "Cee" and invitee["email"] == "c@example.org"
    moved = await anon.post("/_sandbox/reschedule", json={"invitee": invitee["uri"]})
    new = moved.json()["resource"]
    assert new["old_invitee"] == invitee["uri"]
    assert (await anon.post("/_sandbox/no_show", json={"invitee": new["uri"]})).status_code == 201
    assert (
        await anon.post("/_sandbox/no_show/delete", json={"invitee": new["uri"]})
    ).status_code == 204
    canceled = await anon.post("/_sandbox/cancel", json={"invitee": new["uri"], "reason": "r"})
    assert canceled.json()["resource"]["status"] == "canceled"
    assert sb.state.events[new["event"].rsplit("/", 1)[1]].status == "canceled"
    sub = await anon.post("/_sandbox/routing_form_submissions", json={})
    assert sub.status_code == 201
    creds = (await anon.post("/_sandbox/clients")).json()
    assert set(creds) == {"client_id", "client_secret"}
    tok = (await anon.post("/_sandbox/tokens", json={})).json()
    assert tok["owner"] == sb.owner.uri
    pat = (await anon.post("/_sandbox/tokens", json={"kind": "pat"})).json()["access_token"]
    me = await anon.get("/users/me", headers={"Authorization": f"Bearer {pat}"})
    assert me.status_code == 200
    recorded = (await anon.get("/_sandbox/requests")).json()["collection"]
    assert recorded[-1]["path"] == "/users/me"
    assert recorded[-1]["headers"]["authorization"] == "[redacted]"
    assert (await anon.get("/_sandbox/deliveries")).json() == {"collection": []}
    assert (await anon.post("/_sandbox/cancel", json={})).status_code == 400
    assert (await anon.post("/_sandbox/cancel", json={"invitee": "NOPE"})).status_code == 404
    assert (await anon.post("/_sandbox/plan", json={"plan": "free"})).json() == {"plan": "free"}
    broken = await anon.post("/_sandbox/calendar", json={"broken": True})
    assert broken.json() == {"user": sb.owner.uuid, "broken": True}
    assert sb.state.calendar_errors == {sb.owner.uuid}
    mended = await anon.post("/_sandbox/calendar", json={"user": sb.owner.uri, "broken": False})
    assert mended.status_code == 200 and not sb.state.calendar_errors
    assert (await anon.post("/_sandbox/calendar", json={"broken": "yes"})).status_code == 400
    nobody = await anon.post("/_sandbox/calendar", json={"user": "NOPE", "broken": True})
    assert nobody.status_code == 404
    assert sb.plan == "free"
