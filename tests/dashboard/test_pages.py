"""The dashboard over HTTP (the real app, a real SQLite store, the in-process executor): sign-in
and its cookie, CSRF on every form, the security headers, what each scope sees and may post,
every page and button, and hostile payloads shown as text."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from relay_api import Api, live
from relay_dashboard import Dashboard, assert_safe_page, page_facts
from relay_service_support import sign
from relay_waiting import status_seen
from sqlalchemy import update

from runtime import Token
from runtime.events import EventFeed, time_cursor
from runtime.store.tables import executions

pytestmark = pytest.mark.asyncio

BRANCHY = """\
name: branchy
config:
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: first
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
  - id: route
    branch:
      - name: big
        when: "${{ trigger.body.n > 1 }}"
        steps:
          - id: each
            for_each: "${{ [1, 2, 3] }}"
            steps:
              - id: twice
                action: relay.value
                inputs: {value: "${{ item * 2 }}"}
      - name: small
        when: "${{ trigger.body.n <= 1 }}"
        steps:
          - id: tiny
            action: relay.value
            inputs: {value: small}
  - id: last
    action: relay.value
    inputs: {value: "${{ 10 / trigger.body.n }}"}
"""


async def signed_in(api: Api, scope: str) -> Dashboard:
    board = Dashboard(api.client)
    answer = await board.sign_in(api.tokens[scope])
    assert answer.status_code == 303, answer.text
    return board


async def deliver(api: Api, payload: object) -> str:
    raw = json.dumps(payload).encode()
    answer = await api.client.post(api.hook, content=raw, headers=sign(raw))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["execution_id"])


async def test_every_page_asks_for_a_sign_in_first(api: Api) -> None:
    for path in ("/", "/instances/hooks", "/executions", "/executions/x", "/connections"):
        answer = await api.client.get("/dashboard" + path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/dashboard/signin?next=")
    events = await api.client.get("/dashboard/events")
    assert events.status_code == 401
    # and the server's root leads to the dashboard
    root = await api.client.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/dashboard/"


async def test_sign_in_sets_an_encrypted_httponly_strict_cookie(api: Api) -> None:
    board = Dashboard(api.client)
    bad = await board.sign_in("not-a-token")
    assert bad.status_code == 401
    assert "not valid" in bad.text and "not-a-token" not in bad.text
    answer = await board.sign_in(api.tokens["read"])
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "relay_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http here: see the https test below
    assert api.tokens["read"] not in cookie
    page = await board.get("/")
    assert page.status_code == 200 and "t-read" in page.text


async def test_over_https_the_cookie_is_secure(api: Api) -> None:
    secure = httpx.AsyncClient(transport=api.client._transport, base_url="https://relay.test")
    async with secure:
        answer = await Dashboard(secure).sign_in(api.tokens["read"])
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "relay_session=" in c)
    assert "Secure" in cookie


async def test_a_forged_or_revoked_session_is_signed_out(api: Api) -> None:
    board = await signed_in(api, "read")
    api.client.cookies.clear()
    api.client.cookies.set("relay_session", "gAAAA" + "x" * 100, "relay.test", "/dashboard")
    assert (await board.get("/")).status_code == 303
    api.client.cookies.clear()
    board = await signed_in(api, "operate")
    assert (await board.get("/")).status_code == 200
    await api.relay.store.revoke_api_token("t-operate")
    assert (await board.get("/")).status_code == 303


async def test_signing_out_ends_the_session_wherever_its_cookie_is(api: Api) -> None:
    board = await signed_in(api, "read")
    copied = api.client.cookies.get("relay_session", path="/dashboard")
    assert copied
    answer = await board.post("/signout")
    assert answer.status_code == 303 and "notice=signedout" in answer.headers["location"]
    assert (await board.get("/")).status_code == 303  # this browser's cookie is gone
    # a copy of the cookie, taken before, opens nothing either
    api.client.cookies.set("relay_session", copied, "relay.test", "/dashboard")
    page = await api.client.get("/dashboard/")
    assert page.status_code == 303 and page.headers["location"].startswith("/dashboard/signin")
    # the token itself still works: signing in again begins a new session
    api.client.cookies.clear()
    again = await signed_in(api, "read")
    assert (await again.get("/")).status_code == 200


async def test_the_sign_in_form_needs_its_csrf_value_and_goes_back_only_inside(api: Api) -> None:
    await api.client.get("/dashboard/signin")
    stale = await api.client.post(
        "/dashboard/signin", data={"csrf": "guess", "token": api.tokens["admin"]}
    )
    assert stale.status_code == 403
    for target, expected in (
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/x", "/dashboard/"),
        ("/dashboard/executions?status=failed", "/dashboard/executions?status=failed"),
    ):
        form = await api.client.get("/dashboard/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = await api.client.post(
            "/dashboard/signin",
            data={"csrf": csrf.group(1), "token": api.tokens["read"], "next": target},
        )
        assert answer.headers["location"] == expected


async def test_pages_carry_the_security_headers_and_no_inline_script(api: Api) -> None:
    execution = await deliver(api, {"n": 1, "pause": 0})
    await status_seen(api.relay.store, execution, "completed")
    board = await signed_in(api, "admin")
    for path in (
        "/",
        "/instances/hooks",
        "/executions",
        f"/executions/{execution}",
        "/connections",
        "/signin",
    ):
        answer = await board.get(path)
        assert answer.status_code == 200, (path, answer.text)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "form-action 'self';" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        assert_safe_page(answer.text)
    script = await api.client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and "EventSource" in script.text


async def test_a_read_token_sees_no_buttons_and_is_refused_when_it_posts(api: Api) -> None:
    execution = await deliver(api, {"n": 1, "pause": 0})
    await status_seen(api.relay.store, execution, "completed")
    board = await signed_in(api, "read")
    for path in (
        "/",
        "/instances/hooks",
        "/executions",
        f"/executions/{execution}",
        "/connections",
    ):
        page = page_facts((await board.get(path)).text)
        # the only form a reader gets is signing out (and the searches, which only read)
        reading = ("/signout", "/executions", "/instances/hooks/deliveries")
        assert [f for f in page.forms if not f.endswith(reading)] == [], path
    for path in (
        "/instances/hooks/pause",
        "/instances/hooks/undeploy",
        f"/executions/{execution}/replay",
        "/executions/replay",
    ):
        answer = await board.post(path, {"ids": execution, "sure": "yes"})
        assert answer.status_code == 403, path
        assert "scope operate or above" in answer.text or "scope admin or above" in answer.text
    instance = await api.relay.store.get_instance("hooks")
    assert instance is not None and instance.status == "running"
    assert len(await api.relay.store.list_executions(limit=10)) == 1


async def test_an_operate_token_may_pause_but_not_undeploy(api: Api) -> None:
    board = await signed_in(api, "operate")
    page = await board.get("/instances/hooks")
    assert "/instances/hooks/pause" in page.text and "/undeploy" not in page.text
    refused = await board.post("/instances/hooks/undeploy", {"sure": "yes"})
    assert refused.status_code == 403 and "scope admin" in refused.text
    assert await api.relay.store.get_instance("hooks") is not None


async def test_every_form_post_needs_the_sessions_csrf_token(api: Api) -> None:
    board = await signed_in(api, "admin")
    await board.get("/instances/hooks")
    for csrf in ("", "forged"):
        answer = await board.post("/instances/hooks/pause", csrf=csrf)
        assert answer.status_code == 403 and "CSRF" in answer.text
    instance = await api.relay.store.get_instance("hooks")
    assert instance is not None and instance.status == "running"
    # another session's token is not this one's
    other = Dashboard(
        httpx.AsyncClient(transport=api.client._transport, base_url="http://relay.test")
    )
    async with other.client:
        await other.sign_in(api.tokens["admin"])
        assert other.csrf and other.csrf != board.csrf
        answer = await other.post("/instances/hooks/pause", csrf=board.csrf)
        assert answer.status_code == 403


async def test_pause_holds_deliveries_and_resume_runs_them(api: Api) -> None:
    board = await signed_in(api, "operate")
    await board.get("/instances/hooks")
    paused = await board.post("/instances/hooks/pause")
    assert paused.status_code == 303
    assert paused.headers["location"] == "/dashboard/instances/hooks?notice=paused"
    page = await board.get("/instances/hooks?notice=paused")
    assert "Deliveries are recorded and held" in page.text.replace("deliveries", "Deliveries", 1)
    assert "/instances/hooks/resume" in page.text
    held = await deliver(api, {"n": 2, "pause": 0})
    assert (await status_seen(api.relay.store, held, "held")).status == "held"
    assert (await board.post("/instances/hooks/resume")).status_code == 303
    await status_seen(api.relay.store, held, "completed")
    overview = await board.get("/")
    assert "hooks" in overview.text and "1 completed" in overview.text


async def test_the_execution_page_draws_the_step_tree_as_the_flow_has_it(
    api: Api, tmp_path: Path
) -> None:
    flow = tmp_path / "branchy.yaml"
    flow.write_text(BRANCHY)
    instance = await api.relay.deploy(flow, {"hookSecret": "s" * 20}, "branchy")
    raw = json.dumps({"n": 2}).encode()
    answer = await api.client.post(
        "/webhooks/" + instance.webhook_token, content=raw, headers=sign(raw, "s" * 20)
    )
    execution = answer.json()["execution_id"]
    await status_seen(api.relay.store, execution, "completed")
    board = await signed_in(api, "operate")
    page = await board.get(f"/executions/{execution}")
    assert page.status_code == 200
    text = page.text
    # the branch's case taken holds the loop, whose iterations hold their step
    assert "case taken: big" in text
    big = text.index('<p class="group-label">big</p>')
    iterations = [text.index(f'<p class="group-label">iteration {i}</p>') for i in range(3)]
    assert big < iterations[0] < iterations[1] < iterations[2] < text.index('data-path="last"')
    assert 'data-path="route.big.each[2].twice"' in text
    assert "tiny" not in text  # the case not taken ran nothing
    assert (
        text.count('class="waterfall"') == 1 + 1 + 1 + 3 + 1
    )  # first, route, each, twice x3, last
    # the replay form offers the top-level steps
    assert re.findall(r'<option value="(\w+)"', text)[:3] == ["first", "route", "last"]


async def test_a_failed_execution_is_replayed_from_its_failed_step(
    api: Api, tmp_path: Path
) -> None:
    flow = tmp_path / "branchy.yaml"
    flow.write_text(BRANCHY)
    instance = await api.relay.deploy(flow, {"hookSecret": "s" * 20}, "branchy")
    raw = json.dumps({"n": 0}).encode()  # 10 / 0 fails the last step
    answer = await api.client.post(
        "/webhooks/" + instance.webhook_token, content=raw, headers=sign(raw, "s" * 20)
    )
    failed = answer.json()["execution_id"]
    await status_seen(api.relay.store, failed, "failed")
    board = await signed_in(api, "operate")
    page = await board.get(f"/executions/{failed}")
    assert 'role="alert"' in page.text and "division by zero" in page.text
    assert '<option value="last" selected>' in page.text
    replayed = await board.post(
        f"/executions/{failed}/replay", {"from_step": "last", "flow_version": "original"}
    )
    assert replayed.status_code == 303
    new_id = replayed.headers["location"].split("/executions/")[1].split("?")[0]
    row = await status_seen(api.relay.store, new_id, "failed")
    assert row.replay_of == failed
    reused = [s["status"] for s in (row.result or {})["steps"]]
    assert reused[:2] == ["reused", "reused"]
    bad = await board.post(f"/executions/{failed}/replay", {"from_step": "nope"})
    assert bad.status_code == 409 and "nope" in bad.text


async def test_cancel_stops_a_running_execution(api: Api) -> None:
    execution = await deliver(api, {"n": 1, "pause": 600})  # a long sleep waits, suspended
    await status_seen(api.relay.store, execution, "waiting")
    board = await signed_in(api, "operate")
    page = await board.get(f"/executions/{execution}")
    assert f"/executions/{execution}/cancel" in page.text
    assert (await board.post(f"/executions/{execution}/cancel")).status_code == 303
    await status_seen(api.relay.store, execution, "canceled")
    page = await board.get(f"/executions/{execution}")
    assert "/cancel" not in page.text
    again = await board.post(f"/executions/{execution}/cancel")
    assert again.status_code == 409


async def test_bulk_replay_shows_the_count_first_then_replays_the_ticked(api: Api) -> None:
    ids = [await deliver(api, {"n": n, "pause": 0}) for n in range(3)]
    for execution in ids:
        await status_seen(api.relay.store, execution, "completed")
    board = await signed_in(api, "operate")
    listing = await board.get("/executions?instance=hooks&status=completed")
    assert all(f'value="{i}"' in listing.text for i in ids)
    confirm = await board.post("/executions/replay", {"ids": ids[:2]})
    assert confirm.status_code == 200
    assert "2 executions will be replayed" in confirm.text
    assert len(await api.relay.store.list_executions(limit=10)) == 3  # nothing yet
    done = await board.post(
        "/executions/replay", {"ids": ids[:2], "confirm": "yes", "flow_version": "original"}
    )
    assert done.status_code == 200 and "Replayed 2" in done.text
    rows = await api.relay.store.list_executions(limit=10)
    replays = [r for r in rows if r.replay_of]
    assert sorted(str(r.replay_of) for r in replays) == sorted(ids[:2])
    for replay in replays:
        await status_seen(api.relay.store, replay.id, "completed")
    # every completed one of an instance, counted by the API's bulk selection first
    everything = await board.post(
        "/executions/replay", {"instance": "hooks", "status": "completed"}
    )
    assert "5 executions will be replayed" in everything.text
    assert len(await api.relay.store.list_executions(limit=10)) == 5  # nothing yet
    none = await board.post("/executions/replay", {})
    assert none.status_code == 422 and "tick at least one" in none.text


async def test_the_search_filters_and_names_each_bad_field(api: Api) -> None:
    ok = await deliver(api, {"n": 1, "pause": 0})
    bad = await deliver(api, {"n": 1, "pause": "x"})  # double("x") fails
    await status_seen(api.relay.store, ok, "completed")
    await status_seen(api.relay.store, bad, "failed")
    board = await signed_in(api, "read")
    failed = await board.get("/executions?status=failed&instance=hooks")
    assert bad[:12] in failed.text and ok[:12] not in failed.text
    row = await api.relay.store.get_execution(bad)
    assert row is not None and row.result is not None
    word = row.result["error"]["message"].split()[0]
    by_error = await board.get("/executions", params={"error": word})
    assert bad[:12] in by_error.text and ok[:12] not in by_error.text
    by_version = await board.get("/executions?version=2")
    assert bad[:12] not in by_version.text and "No executions." in by_version.text
    since = await board.get("/executions?since=2999-01-01T00:00")
    assert "No executions." in since.text
    wrong = await board.get(
        "/executions", params={"status": "bogus", "version": "0", "since": "soon", "cursor": "zz"}
    )
    assert wrong.status_code == 422
    assert "one of canceled" in wrong.text and "a flow version" in wrong.text
    assert "not a time" in wrong.text


async def test_the_search_pages_with_a_cursor(api: Api) -> None:
    for n in range(52):
        await api.relay.start_manual("hooks", {"body": {"n": n, "pause": 0}})
    board = await signed_in(api, "read")
    first = await board.get("/executions")
    found = re.search(r'href="/dashboard/executions(\?[^"]+)" rel="next"', first.text)
    assert found is not None
    second = await board.get("/executions" + html.unescape(found.group(1)))
    assert second.status_code == 200 and second.text.count('data-execution="') == 2
    assert 'rel="next"' not in second.text


async def test_redeploy_shows_every_problem_at_its_line_and_changes_nothing(api: Api) -> None:
    board = await signed_in(api, "admin")
    await board.get("/instances/hooks")
    broken = "name: broken\nsteps:\n  - id: a\n    action: relay.nope\n  - id: a\n    action: relay.value\n"
    answer = await board.post("/instances/hooks/redeploy", {"flow": broken})
    assert answer.status_code == 422
    assert re.search(r'<tr id="line-4" class="has-problem">', answer.text)
    assert "The flow has 2 problems: nothing changed." in answer.text
    assert str(api.relay.store.url) not in answer.text and "plain.yaml" not in answer.text
    instance = await api.relay.store.get_instance("hooks")
    assert instance is not None and instance.flow_version == 1
    current = instance.flow_text.replace("{n: ", "{number: ")
    done = await board.post(
        "/instances/hooks/redeploy", {"flow": ""}, files={"flow_file": ("f.yaml", current.encode())}
    )
    assert done.status_code == 303, done.text
    page = await board.get("/instances/hooks")
    assert "version 2" in page.text and "number:" in page.text
    execution = await deliver(api, {"n": 5, "pause": 0})
    row = await status_seen(api.relay.store, execution, "completed")
    assert row.flow_version == 2
    empty = await board.post("/instances/hooks/redeploy", {"flow": "  "})
    assert empty.status_code == 422 and "paste the new flow" in empty.text


async def test_undeploy_needs_admin_and_removes_it(api: Api) -> None:
    board = await signed_in(api, "admin")
    await board.get("/instances/hooks")
    done = await board.post("/instances/hooks/undeploy", {"sure": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/?notice=undeployed"
    assert await api.relay.store.get_instance("hooks") is None
    gone = await board.get("/instances/hooks")
    assert gone.status_code == 404
    again = await board.post("/instances/hooks/pause")
    assert again.status_code == 404


async def test_hostile_payloads_are_shown_as_text(api: Api) -> None:
    hostile = {
        "n": 1,
        "pause": 0,
        "html": '<script>alert("x")</script><img src=x onerror="alert(1)">',
        "close": "</code></pre></details><b>bold</b>",
        "deep": json.loads("[" * 200 + "]" * 200),
        "surrogate": "\ud800 lone",
        "long": "A" * 300_000,
    }
    execution = await deliver(api, hostile)
    await status_seen(api.relay.store, execution, "completed")
    board = await signed_in(api, "read")
    page = await board.get(f"/executions/{execution}")
    assert page.status_code == 200
    text = page.text  # decoded as UTF-8: the lone surrogate is shown as its escape
    assert "<script>alert" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert" in text and "&lt;/code&gt;&lt;/pre&gt;" in text
    assert "&lt;img src=x onerror=" in text
    assert "more characters not shown" in text
    assert "\ufffd lone" in text  # the intake replaced the lone surrogate
    assert_safe_page(text)
    assert page_facts(text).buttons.count("submit") == 1  # sign out: a reader presses nothing
    # a payload recorded another way is stored with the same replacement
    manual = await api.relay.start_manual("hooks", {"body": {"odd": "\udc80 kept", "n": 1}})
    shown = await board.get(f"/executions/{manual}")
    assert shown.status_code == 200 and "\ufffd kept" in shown.text


async def test_the_overview_says_what_needs_attention(api: Api) -> None:
    failed = await deliver(api, {"n": 1, "pause": "x"})
    await status_seen(api.relay.store, failed, "failed")
    await api.relay.store.record_webhook_url("hooks", "http://old.example/webhooks/x")
    await api.relay.store.save_connection(
        "stale", "calendly", "calendlyOauth2Connection", {"clientId": "c", "clientSecret": "s"}
    )
    board = await signed_in(api, "admin")
    page = await board.get("/")
    assert "badge-failing" in page.text
    assert (
        "Connection <a" in page.text and "stale" in page.text and "no token is stored" in page.text
    )
    assert "http://old.example/webhooks/x" in page.text
    assert "/instances/hooks/sync" in page.text
    assert "1 failed" in page.text


async def test_a_connection_is_tested_and_reconnected_through_oauth(
    api: Api, tmp_path: Path
) -> None:
    fields = {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
    }
    await api.relay.connect("acme", "calendly", "calendlyOauth2Connection", fields)
    await api.relay.store.tokens.save("connection:acme", Token("dead", None, 1.0))
    board = await signed_in(api, "admin")
    page = await board.get("/connections")
    assert "reconnect needed" in page.text and "/connections/acme/reconnect" in page.text
    tested = await board.post("/connections/acme/test")
    assert tested.status_code == 200 and "The test call failed" in tested.text
    started = await board.post("/connections/acme/reconnect")
    assert started.status_code == 200
    link = re.search(r'id="authorize"[^>]*href="([^"]+)"', started.text)
    assert link is not None
    authorize = html.unescape(link.group(1))
    query = parse_qs(urlsplit(authorize).query)
    assert query["redirect_uri"] == ["http://relay.test/dashboard/oauth/callback"]
    assert query["code_challenge_method"] == ["S256"]
    sandbox = api.relay.runtime.http_client()
    consent = await sandbox.get(authorize)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["location"])
    # the browser comes back without the session cookie (another site sent it): the state is
    # the proof
    done = await httpx.AsyncClient(
        transport=api.client._transport, base_url="http://relay.test"
    ).get(f"{back.path}?{back.query}")
    assert done.status_code == 200 and "acme is connected again" in done.text
    again = await board.get("/connections")
    assert "reconnect needed" not in again.text
    ok = await board.post("/connections/acme/test")
    assert "The test call succeeded" in ok.text
    replayed_state = await api.client.get(f"{back.path}?{back.query}")
    assert replayed_state.status_code == 400


async def test_the_event_stream_tells_a_signed_in_page_what_runs(tmp_path: Path) -> None:
    async with live(tmp_path) as (url, headers, _execution):
        token = headers["Authorization"].removeprefix("Bearer ")
        async with httpx.AsyncClient(base_url=url) as client:
            board = Dashboard(client)
            await board.sign_in(token)
            async with client.stream("GET", "/dashboard/events?instance=hooks") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                chunks = stream.aiter_text()
                assert (await anext(chunks)).startswith("retry:")
                found = await client.get("/api/v1/instances/hooks", headers=headers)
                hook = urlsplit(found.json()["webhook_url"]).path
                raw = json.dumps({"n": 7, "pause": 0}).encode()
                posted = await client.post(hook, content=raw, headers=sign(raw))
                execution = posted.json()["execution_id"]
                seen = ""
                while "execution.finished" not in seen:
                    seen += await anext(chunks)
                assert f'"execution_id":"{execution}"' in seen
                assert "execution.recorded" in seen and "execution.step" in seen
            anonymous = await httpx.AsyncClient(base_url=url).get("/dashboard/events")
            assert anonymous.status_code == 401


async def test_a_feed_follows_a_held_execution_through_its_resume(api: Api) -> None:
    await api.relay.pause("hooks")
    held = await deliver(api, {"n": 3, "pause": 0})
    await status_seen(api.relay.store, held, "held")
    # held a while ago (longer than the feed reads back for late records)
    async with api.relay.store.engine.begin() as conn:
        await conn.execute(
            update(executions).where(executions.c.id == held).values(created_at=time.time() - 60)
        )
    # a page rendered now: its stream starts here
    feed = EventFeed(api.relay.store, instance="hooks", after=time_cursor(time.time()))
    assert await feed.look() == []
    for execution in await api.relay.resume("hooks"):
        assert await api.relay.execute(execution, "test") == "completed"
    kinds = [event.kind for event, _cursor in await feed.look()]
    assert kinds[0] == "started" and kinds[-1] == "finished"


async def test_failed_sign_ins_are_rate_limited(api: Api) -> None:
    board = Dashboard(api.client)
    for _ in range(10):
        assert (await board.sign_in("relay_guess")).status_code == 401
    limited = await board.sign_in(api.tokens["admin"])
    assert limited.status_code == 401 and "too many failed authentications" in limited.text


async def test_a_revoked_sessions_pages_do_not_count_as_failed_sign_ins(api: Api) -> None:
    board = await signed_in(api, "operate")
    await api.relay.store.revoke_api_token("t-operate")
    for _ in range(12):
        assert (await board.get("/")).status_code == 303
    assert (await board.sign_in(api.tokens["admin"])).status_code == 303


async def test_the_dashboard_without_its_slash_and_unknown_pages(api: Api) -> None:
    bare = await api.client.get("/dashboard")
    assert bare.status_code in (303, 307) and bare.headers["location"].endswith("/dashboard/")
    board = await signed_in(api, "read")
    missing = await board.get("/nowhere")
    assert missing.status_code == 404 and "no such page" in missing.text
    assert missing.headers["content-security-policy"].startswith("default-src 'self'")
    long_id = await board.get("/executions/" + "x" * 300)
    assert long_id.status_code == 404


async def test_oversized_and_malformed_forms_are_refused_unread(api: Api) -> None:
    board = await signed_in(api, "admin")
    await board.get("/instances/hooks")
    huge = await board.post("/instances/hooks/redeploy", {"flow": "x" * 1_200_000})
    assert huge.status_code == 413 and "at most" in huge.text
    broken = await api.client.post(
        "/dashboard/instances/hooks/pause",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code in (400, 403)
    sign_in = await api.client.post(
        "/dashboard/signin",
        content=b"--b\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert sign_in.status_code in (400, 403) and "Traceback" not in sign_in.text
    instance = await api.relay.store.get_instance("hooks")
    assert instance is not None and instance.status == "running" and instance.flow_version == 1
