"""Pagination: 10,000 events in 100 pages, the five keys, next_page repeating filters."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sandbox_client import in_process_client

from components.calendly.sandbox import Sandbox, SandboxConfig

from .conftest import BASE_URL, FakeClock

KEYS = {"count", "next_page", "previous_page", "next_page_token", "previous_page_token"}


def test_seeding_ten_thousand_events_is_deterministic(clock: FakeClock) -> None:
    # how fast seeding is, is measured in bench/ (figure 3 seeds 10,000), not asserted here
    sb = Sandbox(SandboxConfig(seed=9, events=10_000, base_url=BASE_URL), clock=clock)
    assert len(sb.state.events) == 10_000
    again = Sandbox(SandboxConfig(seed=9, events=10_000, base_url=BASE_URL), clock=clock)
    assert list(sb.state.events) == list(again.state.events)
    assert sb.owner.uuid == again.owner.uuid
    other = Sandbox(SandboxConfig(seed=10, events=10, base_url=BASE_URL), clock=clock)
    assert other.owner.uuid != sb.owner.uuid


@pytest.mark.asyncio
async def test_ten_thousand_events_page_through_without_gaps(clock: FakeClock) -> None:
    sb = Sandbox(SandboxConfig(seed=9, events=10_000, base_url=BASE_URL), clock=clock)
    token = sb.issue_token()["access_token"]
    seen: list[str] = []
    pages = 0
    async with in_process_client(sb, token) as c:
        url: str | None = "/scheduled_events"
        params: dict[str, str] | None = {"organization": sb.organization.uri, "count": "100"}
        while url:
            r = await c.get(url, params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert set(body["pagination"]) == KEYS
            seen.extend(e["uri"] for e in body["collection"])
            pages += 1
            url, params = body["pagination"]["next_page"], None
    assert pages == 100
    assert len(seen) == len(set(seen)) == 10_000
    assert {u.rsplit("/", 1)[1] for u in seen} == set(sb.state.events)


@pytest.mark.asyncio
async def test_pagination_keys_links_and_tokens(sb: Sandbox, client: httpx.AsyncClient) -> None:
    params = {"organization": sb.organization.uri, "status": "active", "count": "7"}
    first = (await client.get("/scheduled_events", params=params)).json()["pagination"]
    assert set(first) == KEYS
    assert first["count"] == 7 and first["previous_page"] is None
    assert first["previous_page_token"] is None
    link = urlsplit(first["next_page"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{BASE_URL}/scheduled_events"
    query = parse_qs(link.query)
    assert query["organization"] == [sb.organization.uri] and query["status"] == ["active"]
    assert query["count"] == ["7"] and query["page_token"] == [first["next_page_token"]]
    # Re-sending the same query plus page_token gives the same page as following next_page.
    via_link = (await client.get(first["next_page"])).json()
    via_token = (
        await client.get(
            "/scheduled_events", params={**params, "page_token": first["next_page_token"]}
        )
    ).json()
    assert via_link["collection"] == via_token["collection"]
    assert via_link["pagination"]["previous_page_token"] is not None
    # Default page size is 20.
    default = (
        await client.get("/scheduled_events", params={"organization": sb.organization.uri})
    ).json()
    assert default["pagination"]["count"] == 20


@pytest.mark.asyncio
async def test_page_tokens_are_bound_to_the_query_and_go_stale(
    sb: Sandbox, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    params = {"organization": sb.organization.uri, "count": "5"}
    token = (await client.get("/scheduled_events", params=params)).json()["pagination"][
        "next_page_token"
    ]
    foreign = await client.get(
        "/scheduled_events", params={**params, "status": "canceled", "page_token": token}
    )
    assert foreign.status_code == 400
    assert foreign.json()["details"] == [{"parameter": "page_token", "message": "is invalid"}]
    clock.advance(sb.config.page_token_ttl + 1)
    stale = await client.get("/scheduled_events", params={**params, "page_token": token})
    assert stale.status_code == 400
    garbage = await client.get("/scheduled_events", params={**params, "page_token": "!!"})
    assert garbage.status_code == 400


@pytest.mark.asyncio
async def test_count_bounds(sb: Sandbox, client: httpx.AsyncClient) -> None:
    org = sb.organization.uri
    for bad in ("0", "101", "abc", "2.5"):
        r = await client.get("/scheduled_events", params={"organization": org, "count": bad})
        assert r.status_code == 400, bad
        assert r.json()["details"][0]["parameter"] == "count"
    ok = await client.get("/activity_log_entries", params={"organization": org, "count": "1000"})
    assert ok.status_code == 200
    too_many = await client.get(
        "/activity_log_entries", params={"organization": org, "count": "1001"}
    )
    assert too_many.status_code == 400
