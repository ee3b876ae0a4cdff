"""The instance page's deliveries panel, its deliveries page and the overview's last delivery,
over HTTP against the real app on a real SQLite store: accepted, duplicate (the same
Idempotency-Key twice) and rejected (a bad signature) deliveries, the outcome filter, keyset
paging, and hostile reasons and keys shown as text."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_api import Api
from relay_dashboard import Dashboard, assert_safe_page
from relay_service_support import sign

from runtime.store.deliveries import RejectionCount
from runtime.store.execution_pages import ExecutionFilter

pytestmark = pytest.mark.asyncio

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def signed_in(api: Api, scope: str) -> Dashboard:
    board = Dashboard(api.client)
    answer = await board.sign_in(api.tokens[scope])
    assert answer.status_code == 303, answer.text
    return board


async def post(api: Api, payload: object, key: str | None = None, *, forged: bool = False) -> int:
    raw = json.dumps(payload).encode()
    headers = sign(b"another body" if forged else raw)
    if key is not None:
        headers["Idempotency-Key"] = key
    answer = await api.client.post(api.hook, content=raw, headers=headers)
    return answer.status_code


def panel(page: str) -> str:
    """The deliveries section of a page."""
    found = re.search(r'<section[^>]*id="deliveries".*?</section>', page, re.S)
    assert found is not None, page
    return found.group(0)


def rows(section: str) -> list[str]:
    return re.findall(r'<tr class="delivery delivery-[a-z]+">.*?</tr>', section, re.S)


def outcomes(section: str) -> list[str]:
    return re.findall(r'<tr class="delivery delivery-([a-z]+)">', section)


async def test_the_panel_shows_accepted_duplicate_and_rejected_deliveries(api: Api) -> None:
    assert await post(api, {"n": 1, "pause": 0}) == 202
    assert await post(api, {"n": 2, "pause": 0}, "twice") == 202
    assert await post(api, {"n": 2, "pause": 0}, "twice") == 202
    assert await post(api, {"n": 3, "pause": 0, "secret-body": "do-not-show"}, forged=True) == 401
    found = await api.relay.store.page_executions(ExecutionFilter(instance="hooks"), 10)
    executions = {r.id for r in found}
    assert len(executions) == 2
    board = await signed_in(api, "read")
    page = await board.get("/instances/hooks")
    assert page.status_code == 200
    assert_safe_page(page.text)
    section = panel(page.text)
    assert sorted(outcomes(section)) == ["accepted", "duplicate", "rejected"]
    duplicate = next(r for r in rows(section) if "delivery-duplicate" in r)
    assert "2 times, last" in duplicate and "key:twice" in duplicate
    rejected = next(r for r in rows(section) if "delivery-rejected" in r)
    assert "HTTP 401" in rejected and "bad signature" in rejected and "1 in this minute" in rejected
    assert "/executions/" not in rejected
    assert "do-not-show" not in page.text and "secret-body" not in page.text
    linked = set(re.findall(r'href="/dashboard/executions/([^"]+)"', section))
    assert linked == executions  # the accepted and the duplicate each link their execution
    # the read-only token sees it, and the overview shows the newest delivery (rejections
    # are counted by minute: a minute's count sorts before what was accepted in it)
    newest = outcomes(section)[0]
    assert newest == "duplicate"
    overview = await board.get("/")
    last = re.search(r'<p class="last-delivery">.*?</p>', overview.text, re.S)
    assert last is not None and f"badge-{newest}" in last.group(0)
    assert "Last execution:" in overview.text


async def test_the_overview_shows_a_rejection_as_the_last_delivery(api: Api) -> None:
    board = await signed_in(api, "read")
    before = await board.get("/")
    assert re.search(r'Last delivery:\s*<span class="muted">none yet', before.text)
    assert await post(api, {"n": 3, "pause": 0}, forged=True) == 401
    overview = await board.get("/")
    last = re.search(r'<p class="last-delivery">.*?</p>', overview.text, re.S)
    assert last is not None and "badge-rejected" in last.group(0)
    assert "bad signature" in last.group(0) and "HTTP 401" in last.group(0)


async def test_the_outcome_filter_is_a_plain_get_form(api: Api) -> None:
    assert await post(api, {"n": 1, "pause": 0}, "once") == 202
    assert await post(api, {"n": 2, "pause": 0}, "again") == 202
    assert await post(api, {"n": 2, "pause": 0}, "again") == 202
    assert await post(api, {"n": 3, "pause": 0}, forged=True) == 401
    # an event the flow does not select is counted as ignored (a 2xx answer)
    ignored = RejectionCount("hooks", 60.0, "event not selected", 200, 3, 61.0, 62.0)
    await api.relay.store.record_rejections([ignored])
    board = await signed_in(api, "read")
    page = await board.get("/instances/hooks")
    form = re.search(r'<form method="get" action="([^"]+)"', panel(page.text))
    assert form is not None and form.group(1) == "/dashboard/instances/hooks/deliveries"
    expected = {
        "": ["duplicate", "accepted", "rejected", "ignored"],
        "accepted": ["duplicate", "accepted"],
        "duplicate": ["duplicate"],
        "rejected": ["rejected"],
        "ignored": ["ignored"],
    }
    for outcome, shown in expected.items():
        answer = await board.get("/instances/hooks/deliveries", params={"outcome": outcome})
        assert answer.status_code == 200, answer.text
        assert_safe_page(answer.text)
        assert sorted(outcomes(panel(answer.text))) == sorted(shown), outcome
        if outcome:
            assert f'<option value="{outcome}" selected>' in answer.text
        if outcome == "ignored":
            row = rows(panel(answer.text))[0]
            assert "HTTP 200" in row and "event not selected" in row and "3 in this minute" in row
    bad = await board.get("/instances/hooks/deliveries", params={"outcome": "<b>all</b>"})
    assert bad.status_code == 422
    assert "one of accepted, duplicate, rejected, ignored" in bad.text
    assert "<b>all</b>" not in bad.text
    missing = await board.get("/instances/nope/deliveries")
    assert missing.status_code == 404


async def test_older_deliveries_are_paged_by_a_keyset_cursor(api: Api) -> None:
    for n in range(25):
        assert await post(api, {"n": n, "pause": 0}, f"k{n:02d}") == 202
    board = await signed_in(api, "read")
    page = await board.get("/instances/hooks")
    first = panel(page.text)
    assert len(rows(first)) == 20
    more = re.search(r'<a href="([^"]+)" rel="next">Older deliveries</a>', first)
    assert more is not None
    link = html.unescape(more.group(1))
    assert urlsplit(link).path == "/dashboard/instances/hooks/deliveries"
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    answer = await api.client.get(link)
    assert answer.status_code == 200
    second = panel(answer.text)
    assert len(rows(second)) == 5 and "Older deliveries" not in second
    keys = re.findall(r">key:(k\d\d)<", first + second)
    assert sorted(keys) == [f"k{n:02d}" for n in range(25)]  # each once, none skipped
    # the API reads the same cursor: the dashboard pages as the API does
    api_page = await api.client.get(
        "/api/v1/instances/hooks/deliveries",
        params={"cursor": cursor, "limit": 50},
        headers={"Authorization": f"Bearer {api.tokens['read']}"},
    )
    assert api_page.status_code == 200, api_page.text
    assert len(api_page.json()["items"]) == 5
    for broken in ("not-a-cursor", "x" * 500):
        refused = await board.get("/instances/hooks/deliveries", params={"cursor": broken})
        assert refused.status_code == 422
        assert "not a page this dashboard linked to" in refused.text


async def test_a_hostile_reason_and_key_are_shown_as_text(api: Api) -> None:
    assert await post(api, {"n": 1, "pause": 0}, HOSTILE.replace(" ", "_")[:150]) == 202
    await api.relay.store.record_rejections(
        [RejectionCount("hooks", 0.0, HOSTILE, 400, 1, 1.0, 1.0)]
    )
    board = await signed_in(api, "read")
    for path in ("/instances/hooks", "/instances/hooks/deliveries", "/"):
        page = await board.get(path)
        assert page.status_code == 200
        assert_safe_page(page.text)
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    section = panel((await board.get("/instances/hooks")).text)
    reasons = re.findall(r'<span class="reason">([^<]*)</span>', section)
    assert [html.unescape(r) for r in reasons] == [HOSTILE]  # every character, as text
    assert "&lt;img_src=x_onerror=alert(1)&gt;" in section


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    outcome=st.text(max_size=30),
    cursor=st.text(max_size=60),
)
async def test_any_query_is_a_page_or_a_clear_422(api: Api, outcome: str, cursor: str) -> None:
    board = Dashboard(api.client)
    if not api.client.cookies:
        await board.sign_in(api.tokens["read"])
    answer = await board.get(
        "/instances/hooks/deliveries", params={"outcome": outcome, "cursor": cursor}
    )
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert "not a page this dashboard linked to" in answer.text or "one of" in answer.text
    assert "Traceback" not in answer.text
