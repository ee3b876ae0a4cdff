"""A page token that comes back (the same page again, or a cycle) ends the read with one clear
error: no endless loop, no item read twice, no DELETE sent twice.

The fault is an ASGI wrapper around the real sandbox: for one path it answers every page with
the same ``next_page_token`` (and serves the first page again for it), a few times before it
lets the read end, so code without a guard finishes with repeated items instead of hanging.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import pytest_asyncio
from calendly_support import api_calls, connection_fields
from hypothesis import given
from hypothesis import strategies as st

from components.calendly.pages import read_pages
from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ConnectionHandle, FatalApiError, ManualClock, Runtime

HOST = "calendly.test"
BASE = f"http://{HOST}"
AGAIN = "the-same-token"


class RepeatedPageToken:
    """Makes ``path`` answer with ``next_page_token`` = AGAIN ``times`` times (then null)."""

    def __init__(self, app: Any, path: str, times: int = 4) -> None:
        self.app, self.path, self.left = app, path, times

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        query = [(k, v) for k, v in parse_qsl(scope["query_string"].decode()) if v != AGAIN]
        scope = {**scope, "query_string": urlencode(query).encode()}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 200 and self.left > 0:
                self.left -= 1
                parsed = json.loads(body)
                parsed["pagination"]["next_page_token"] = AGAIN
                body = json.dumps(parsed).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(seed=7, events=40, base_url=BASE))


async def _runtime(sandbox: Sandbox, path: str) -> tuple[Runtime, ConnectionHandle]:
    runtime = Runtime(
        hosts={HOST: RepeatedPageToken(sandbox.app, path)}, clock=ManualClock(now=time.time())
    )
    handle = await runtime.open_connection(
        "c", "calendly", "calendlyOauth2Connection", connection_fields(sandbox)
    )
    return runtime, handle


@pytest_asyncio.fixture
async def hooks(sandbox: Sandbox) -> AsyncIterator[tuple[Runtime, ConnectionHandle]]:
    """A runtime whose ``GET /webhook_subscriptions`` repeats its page token."""
    runtime, handle = await _runtime(sandbox, "/webhook_subscriptions")
    yield runtime, handle
    await runtime.aclose()


def _loop_error(caught: pytest.ExceptionInfo[FatalApiError], path: str) -> None:
    assert caught.value.title == "Pagination Loop"
    assert path in caught.value.message and "\n" not in str(caught.value)


@pytest.mark.asyncio
async def test_delete_instanced_webhooks_stops_before_deleting_anything_twice(
    sandbox: Sandbox, hooks: tuple[Runtime, ConnectionHandle]
) -> None:
    runtime, connection = hooks
    urls = [f"https://relay.example.com/webhooks/i/{n}" for n in range(2)]
    for url in urls:
        await runtime.invoke_action(
            "calendly.createWebhookSubscription",
            {
                "connection": connection,
                "url": url,
                "event": ["invitee.created"],
                "organization": sandbox.org_uri(),
                "scope": "organization",
            },
        )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.deleteInstancedWebhooks",
            {
                "connection": connection,
                "organization": sandbox.org_uri(),
                "scope": "organization",
                "webhookUrls": urls,
            },
        )
    _loop_error(caught, "/webhook_subscriptions")
    assert api_calls(sandbox, method="DELETE") == []


@pytest.mark.asyncio
async def test_list_webhooks_does_not_repeat_items(
    sandbox: Sandbox, hooks: tuple[Runtime, ConnectionHandle]
) -> None:
    runtime, connection = hooks
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.listWebhookSubscription",
            {"connection": connection, "organization": sandbox.org_uri(), "scope": "organization"},
        )
    _loop_error(caught, "/webhook_subscriptions")


@pytest.mark.asyncio
async def test_the_webhook_triggers_subscription_lookup_stops(
    sandbox: Sandbox, hooks: tuple[Runtime, ConnectionHandle]
) -> None:
    runtime, connection = hooks
    inputs = {
        "connection": connection,
        "eventNamesInput": ["invitee.created"],
        "organization": sandbox.org_uri(),
        "scope": "organization",
    }
    hook = "https://relay.example.com/webhooks/i/flow"
    with pytest.raises(FatalApiError) as caught:
        await runtime.deploy_trigger("calendly.calendlyTrigger", inputs, webhook_url=hook)
    _loop_error(caught, "/webhook_subscriptions")
    assert api_calls(sandbox, method="POST") == []
    with pytest.raises(FatalApiError):
        await runtime.undeploy_trigger(
            "calendly.calendlyTrigger", inputs, webhook_url=hook, deploy_state={}
        )
    assert api_calls(sandbox, method="DELETE") == []


@pytest.mark.asyncio
async def test_the_polling_trigger_stops(sandbox: Sandbox) -> None:
    runtime, connection = await _runtime(sandbox, "/scheduled_events")
    try:
        with pytest.raises(FatalApiError) as caught:
            await runtime.poll(
                "calendly.pollChangesTrigger",
                {"connection": connection, "lookBackDate": "2020-01-01"},
                None,
            )
        _loop_error(caught, "/scheduled_events")
    finally:
        await runtime.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("events", "/scheduled_events"),
        ("eventTypes", "/event_types"),
        ("organizationMemberships", "/organization_memberships"),
        ("organizations", "/organization_memberships"),
        ("routingForms", "/routing_forms"),
    ],
)
async def test_data_sources_stop(sandbox: Sandbox, source: str, path: str) -> None:
    runtime, connection = await _runtime(sandbox, path)
    params: dict[str, Any] = {"connection": connection}
    if source == "routingForms":
        params["organization"] = sandbox.org_uri()
    try:
        with pytest.raises(FatalApiError) as caught:
            await runtime.picklist(f"calendly.{source}", params)
        _loop_error(caught, path)
    finally:
        await runtime.aclose()


@pytest.mark.asyncio
async def test_the_invitees_data_source_stops(sandbox: Sandbox) -> None:
    event = next(iter(sandbox.state.events.values()))
    path = f"/scheduled_events/{event.uuid}/invitees"
    runtime, connection = await _runtime(sandbox, path)
    try:
        with pytest.raises(FatalApiError) as caught:
            await runtime.picklist(
                "calendly.selectEventInvitee", {"connection": connection, "eventUuid": event.uuid}
            )
        _loop_error(caught, path)
    finally:
        await runtime.aclose()


# --- the helper itself, over any sequence of page tokens -------------------------------------

_TOKENS = st.lists(st.one_of(st.none(), st.sampled_from("abcd")), min_size=1, max_size=12)


@given(tokens=_TOKENS, limit=st.one_of(st.none(), st.integers(1, 30)))
@pytest.mark.asyncio
async def test_any_token_sequence_ends_and_never_repeats_an_item(
    tokens: list[str | None], limit: int | None
) -> None:
    """Page n answers ``tokens[n]`` as its next token (the list ends with null). A repeated
    token is an error exactly when the read would otherwise come back to it."""
    tokens = [*tokens, None]
    asked: list[str | None] = []

    async def fetch(query: dict[str, Any]) -> Any:
        asked.append(query.get("page_token"))
        n = len(asked) - 1
        items = [{"uri": f"u{n}-{i}"} for i in range(3)]
        return {"collection": items, "pagination": {"next_page_token": tokens[n]}}

    followed: list[str] = []
    expect_loop = False
    for n, token in enumerate(tokens):
        if token is None or (limit is not None and 3 * (n + 1) >= limit):
            break
        if token in followed:
            expect_loop = True
            break
        followed.append(token)
    if expect_loop:
        with pytest.raises(FatalApiError, match="Pagination Loop"):
            await read_pages(fetch, "/x", {}, limit=limit)
        return
    items = await read_pages(fetch, "/x", {}, limit=limit)
    uris = [item["uri"] for item in items]
    assert len(uris) == len(set(uris))
    assert len(set(asked)) == len(asked)  # no page asked for twice
    if limit is not None:
        assert len(items) <= limit


@pytest.mark.asyncio
async def test_an_item_on_two_pages_is_kept_once() -> None:
    """Pages shift when items are added mid-read: the same URI on the next page is dropped."""
    pages = [
        {"collection": [{"uri": "a"}, {"uri": "b"}], "pagination": {"next_page_token": "t"}},
        {"collection": [{"uri": "b"}, {"uri": "c"}], "pagination": {"next_page_token": None}},
    ]

    async def fetch(query: dict[str, Any]) -> Any:
        return pages[1 if query.get("page_token") else 0]

    assert [i["uri"] for i in await read_pages(fetch, "/x", {})] == ["a", "b", "c"]
