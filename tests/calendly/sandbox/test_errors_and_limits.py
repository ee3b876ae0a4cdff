"""Calendly-shaped errors, permissions, plan gating, rate limits and fault injection."""

from __future__ import annotations

import httpx
import pytest
from sandbox_client import in_process_client

from components.calendly.sandbox import Sandbox, SandboxConfig

from .conftest import BASE_URL, FakeClock


def _assert_error(r: httpx.Response, status: int, title: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    body: dict[str, object] = r.json()
    assert body["title"] == title and isinstance(body["message"], str)
    assert set(body) <= {"title", "message", "details"}
    return body


@pytest.mark.asyncio
async def test_error_bodies(
    sb: Sandbox, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    body = _assert_error(await client.get("/scheduled_events"), 400, "Invalid Argument")
    assert body["message"] == "The supplied parameters are invalid."
    assert body["details"] == [
        {"parameter": "organization", "message": "organization or user is required"}
    ]
    _assert_error(
        await client.get("/scheduled_events", params={"user": "not a uri"}), 400, "Invalid Argument"
    )
    _assert_error(await anon.get("/users/me"), 401, "Unauthenticated")
    _assert_error(
        await anon.get("/users/me", headers={"Authorization": "Bearer nope"}),
        401,
        "Unauthenticated",
    )
    body = _assert_error(await client.get("/scheduled_events/NOPE"), 404, "Resource Not Found")
    assert body["message"] == "The server could not find the requested resource."
    _assert_error(await client.get("/nothing/here"), 404, "Resource Not Found")
    other_org = next(o for o in sb.state.organizations.values() if o.uuid != sb.organization.uuid)
    _assert_error(
        await client.get("/organization_memberships", params={"organization": other_org.uri}),
        403,
        "Permission Denied",
    )


@pytest.mark.asyncio
async def test_time_range_rules(sb: Sandbox, client: httpx.AsyncClient, clock: FakeClock) -> None:
    user = sb.owner.uri
    day = 86400.0
    from components.calendly.sandbox.timeutil import iso

    cases = {
        "past": (clock() - day, clock() + day),
        "over 7 days": (clock() + day, clock() + 9 * day),
        "reversed": (clock() + 2 * day, clock() + day),
    }
    for name, (start, end) in cases.items():
        r = await client.get(
            "/user_busy_times",
            params={"user": user, "start_time": iso(start), "end_time": iso(end)},
        )
        _assert_error(r, 400, "Invalid Argument")
        assert r.json()["details"], name
    r = await client.get("/user_busy_times", params={"user": user, "start_time": "2030-01-01"})
    _assert_error(r, 400, "Invalid Argument")
    ok = await client.get(
        "/user_busy_times",
        params={"user": user, "start_time": iso(clock() + 60), "end_time": iso(clock() + 7 * day)},
    )
    assert ok.status_code == 200 and set(ok.json()) == {"collection"}


@pytest.mark.asyncio
async def test_role_rules(sb: Sandbox, anon: httpx.AsyncClient) -> None:
    member = next(u for u in sb.state.users.values() if u.name == "Uma User")
    headers = {"Authorization": f"Bearer {sb.issue_token(member.uuid)['access_token']}"}
    org = sb.organization.uri
    r = await anon.get("/scheduled_events", params={"organization": org}, headers=headers)
    assert _assert_error(r, 403, "Permission Denied")["message"] == (
        "You do not have permission to access this resource."
    )
    own = await anon.get("/scheduled_events", params={"user": member.uri}, headers=headers)
    assert own.status_code == 200
    for ev in own.json()["collection"]:
        assert member.uri in [m["user"] for m in ev["event_memberships"]]
    r = await anon.get("/scheduled_events", params={"user": sb.owner.uri}, headers=headers)
    _assert_error(r, 403, "Permission Denied")
    owner_headers = {"Authorization": f"Bearer {sb.issue_token()['access_token']}"}
    r = await anon.get("/scheduled_events", params={"user": member.uri}, headers=owner_headers)
    assert "specify organization" in str(_assert_error(r, 403, "Permission Denied")["message"])
    r = await anon.post(
        "/webhook_subscriptions",
        headers=headers,
        json={
            "url": "https://x.example/h",
            "events": ["invitee.created"],
            "organization": org,
            "scope": "organization",
        },
    )
    _assert_error(r, 403, "Permission Denied")
    r = await anon.get("/activity_log_entries", params={"organization": org}, headers=headers)
    _assert_error(r, 403, "Permission Denied")
    scoped = sb.issue_token(scope="users:read")["access_token"]
    assert (
        await anon.get("/users/me", headers={"Authorization": f"Bearer {scoped}"})
    ).status_code == 200
    r = await anon.get(
        "/scheduled_events",
        params={"user": sb.owner.uri},
        headers={"Authorization": f"Bearer {scoped}"},
    )
    _assert_error(r, 403, "Permission Denied")


@pytest.mark.asyncio
async def test_plan_gating(sb: Sandbox, client: httpx.AsyncClient) -> None:
    org = sb.organization.uri
    sb.set_plan("standard")
    r = await client.get("/activity_log_entries", params={"organization": org})
    assert _assert_error(r, 403, "Permission Denied")["message"] == (
        "Please upgrade your Calendly account to Enterprise."
    )
    r = await client.post("/data_compliance/deletion/invitees", json={"emails": ["a@b.co"]})
    _assert_error(r, 403, "Permission Denied")
    ok = await client.get(
        "/webhook_subscriptions", params={"organization": org, "scope": "organization"}
    )
    assert ok.status_code == 200
    sb.set_plan("free")
    r = await client.get(
        "/webhook_subscriptions", params={"organization": org, "scope": "organization"}
    )
    _assert_error(r, 403, "Permission Denied")
    me = await client.get("/users/me")
    assert me.headers["x-ratelimit-limit"] == "50"


@pytest.mark.asyncio
async def test_rate_limit_window(clock: FakeClock) -> None:
    sb = Sandbox(
        SandboxConfig(seed=1, events=5, base_url=BASE_URL, rate_limit_per_minute=3), clock=clock
    )
    token = sb.issue_token()["access_token"]
    async with in_process_client(sb, token) as c:
        seen = []
        for _ in range(3):
            r = await c.get("/users/me")
            seen.append(r.headers["x-ratelimit-remaining"])
            clock.advance(10)
        assert seen == ["2", "1", "0"]
        limited = await c.get("/users/me")
        assert limited.status_code == 429
        assert "retry-after" not in limited.headers
        assert limited.headers["x-ratelimit-limit"] == "3"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-reset"] == "30"  # seconds until reset
        other = sb.issue_token(next(u for u in sb.state.users if u != sb.owner.uuid))
        r = await c.get("/users/me", headers={"Authorization": f"Bearer {other['access_token']}"})
        assert r.status_code == 200  # limits are per user
        clock.advance(30)
        r = await c.get("/users/me")
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "2"


@pytest.mark.asyncio
async def test_fault_injection(sb: Sandbox, client: httpx.AsyncClient, clock: FakeClock) -> None:
    sb.set_faults(error_rate_5xx=1.0, seed=1)
    r = await client.get("/users/me")
    _assert_error(r, 500, "Internal Server Error")
    sb.set_faults(error_rate_429=1.0)
    r = await client.get("/users/me")
    assert r.status_code == 429 and r.headers["x-ratelimit-remaining"] == "0"
    sb.set_faults(error_rate_429=0.3, error_rate_5xx=0.2, seed=42)
    codes = [(await client.get("/users/me")).status_code for _ in range(200)]
    assert 40 <= codes.count(429) <= 80 and 20 <= codes.count(500) <= 60
    assert set(codes) == {200, 429, 500}
    # The control API sets the same knobs; latency passes on the sandbox's clock.
    r = await client.post("/_sandbox/faults", json={"latency": 0.05})
    assert r.json() == {"error_rate_429": 0.0, "error_rate_5xx": 0.0, "latency": 0.05}
    started = clock.now
    assert (await client.get("/users/me")).status_code == 200
    assert clock.now - started == pytest.approx(0.05)
    bad = await client.post("/_sandbox/faults", json={"error_rate_429": 2})
    assert bad.status_code == 400
