"""The fast webhook path answers what the plain Starlette route answers: the same status, body
and headers for any request, whatever its path, headers, body or the answer given."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_service_support import CONFIG, FLOW, body, in_process_service, sign
from starlette.applications import Starlette
from starlette.types import Message

from runtime import Runtime
from runtime.server._fast_webhooks import FastWebhookApp
from runtime.server.webhooks import MAX_BODY, Answer, webhook_routes


class Echo:
    """Answers each delivery with what it was given; the request chooses the status and the
    extra headers (``x-status``, ``x-echo-*``)."""

    def __init__(self, body_timeout: float = 5.0) -> None:
        self.body_timeout = body_timeout
        self.wrong: list[tuple[str, str]] = []

    def too_large(self, token: str) -> Answer:
        return Answer(413, {"error": "body too large"})

    def too_slow(self) -> Answer:
        return Answer(408, {"error": "slow"}, (("connection", "close"),))

    def wrong_method(self, token: str, method: str) -> None:
        self.wrong.append((token, method))

    async def deliver(self, token: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        status = int(headers.get("x-status", "202"))
        extra = tuple(
            (k.removeprefix("x-echo-"), v) for k, v in sorted(headers.items()) if "x-echo-" in k
        )
        content = {"token": token, "url": url, "headers": dict(headers), "body": body.hex()}
        return Answer(status, content, extra)


def _apps(answers: Echo) -> tuple[Starlette, Starlette]:
    return FastWebhookApp(answers, routes=webhook_routes(answers)), Starlette(
        routes=webhook_routes(answers)
    )


_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
_NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-"), min_size=1, max_size=10)
_PATH = st.one_of(
    st.builds(lambda t: f"/webhooks/{t}", _TEXT.filter(lambda t: "?" not in t and "#" not in t)),
    st.sampled_from(["/webhooks/abc/", "/webhooks/", "/webhooks/a/b", "/webhooks//", "/health"]),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    # a list: a header may repeat
    headers = draw(st.lists(st.tuples(_NAME.map(lambda n: f"x-{n}"), _TEXT), max_size=4))
    repeat = draw(st.booleans())
    if headers and repeat:
        headers.append((headers[0][0], draw(_TEXT)))
    if draw(st.booleans()):
        headers.append(("x-echo-" + draw(_NAME), draw(_TEXT)))
    headers.append(("x-status", str(draw(st.sampled_from([200, 202, 401, 404, 503])))))
    payload = draw(st.binary(max_size=300))
    if draw(st.integers(0, 9)) == 0:
        payload += b"x" * MAX_BODY  # over the limit
    return {
        "method": draw(st.sampled_from(["POST", "POST", "POST", "GET"])),
        "url": draw(_PATH) + draw(st.sampled_from(["", "?a=1", "?x=%20y"])),
        "headers": headers,
        "content": payload,
    }


def _answered(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    return response.status_code, response.content, sorted(response.headers.multi_items())


async def _both(request: dict[str, Any]) -> list[tuple[int, bytes, list[tuple[str, str]]]]:
    answered = []
    for app in _apps(Echo()):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://relay.test") as client:
            answered.append(_answered(await client.request(**request)))
    return answered


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_the_fast_and_plain_paths_answer_alike(request: dict[str, Any]) -> None:
    fast, plain = asyncio.run(_both(request))
    assert fast == plain


async def _asgi(app: Starlette, messages: list[Message]) -> list[Message]:
    """Run one request through ``app``; after ``messages`` the body never arrives."""
    sent: list[Message] = []
    pending = list(messages)
    never = asyncio.Event()

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/tok",
        "raw_path": b"/webhooks/tok",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"relay.test")],
        "server": ("relay.test", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app(scope, receive, send)
    return sent


def _normal(sent: list[Message]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    start, *bodies = sent
    return (
        start["status"],
        sorted(start["headers"]),
        b"".join(m.get("body", b"") for m in bodies),
    )


@pytest.mark.asyncio
async def test_a_body_that_never_finishes_is_answered_alike() -> None:
    # the body deadline is what ends the wait: the request never completes otherwise
    part: list[Message] = [{"type": "http.request", "body": b'{"n": 1', "more_body": True}]
    fast, plain = [_normal(await _asgi(app, part)) for app in _apps(Echo(body_timeout=0.05))]
    assert fast == plain and fast[0] == 408


@pytest.mark.asyncio
async def test_a_body_in_chunks_is_answered_alike() -> None:
    chunks: list[Message] = [
        {"type": "http.request", "body": b'{"n":', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
    ]
    fast, plain = [_normal(await _asgi(app, list(chunks))) for app in _apps(Echo())]
    assert fast == plain
    assert json.loads(fast[2])["body"] == b'{"n": 1}'.hex()


@pytest.mark.asyncio
async def test_the_plain_route_serves_a_real_service(tmp_path: Path) -> None:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    plain_only = in_process_service(Runtime(), url, tmp_path, fast_webhooks=False)
    async with plain_only as (relay, executor, http):
        instance = await relay.deploy(flow, CONFIG, "a")
        path = f"/webhooks/{instance.webhook_token}"
        named = {**sign(body(1)), "Idempotency-Key": "one"}
        accepted = await http.post(path + "/", content=body(1), headers=named)
        assert accepted.status_code == 202 and accepted.json()["duplicate"] is False
        again = await http.post(path, content=body(1), headers=named)
        original = accepted.json()["execution_id"]
        assert again.json() == {
            "execution_id": original,
            "duplicate": True,
            "duplicate_of": original,
        }
        forged = await http.post(path, content=body(2), headers=sign(body(2), "wrong"))
        assert forged.status_code == 401
        unknown = await http.post("/webhooks/nope", content=body(3), headers=sign(body(3)))
        assert unknown.status_code == 404
        assert (await http.get(path)).status_code == 405
        await executor.drain()
        row = await relay.store.get_execution(accepted.json()["execution_id"])
        assert row is not None and row.status == "completed"
