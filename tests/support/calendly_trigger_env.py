"""The Calendly triggers' test environment: relay and the sandbox on one ManualClock, the
sandbox's webhook POSTs routed to an in-process receiver, so real signed deliveries reach the
trigger."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
from calendly_support import api_calls, open_sandbox_connection

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ConnectionHandle, ManualClock, Runtime, WebhookRequest

HOST = "calendly.test"
BASE = f"http://{HOST}"
HOOK = "https://relay.example.com/hooks/instance-1/booking"
TRIGGER = "calendly.calendlyTrigger"
POLL = "calendly.pollChangesTrigger"
SIG = "Calendly-Webhook-Signature"


class Receiver:
    """An ASGI app standing in for relay's webhook endpoint: records each delivery raw."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.requests: list[WebhookRequest] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        url = f"{scope['scheme']}://{headers['host']}{scope['path']}"
        self.requests.append(
            WebhookRequest(
                method=scope["method"],
                url=url,
                headers=headers,
                body=body,
                received_at=self.clock.time(),
            )
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@attrs.define
class Env:
    sandbox: Sandbox
    runtime: Runtime
    clock: ManualClock
    connection: ConnectionHandle
    receiver: Receiver
    deploy_state: dict[str, Any] = attrs.field(factory=dict)

    def api_calls(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded Calendly API requests (OAuth left out), of one method, to exactly ``path``."""
        calls = api_calls(self.sandbox, path or "", method)
        return calls if path is None else [r for r in calls if r["path"] == path]

    def inputs(self, **extra: Any) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "eventNamesInput": ["invitee.created", "invitee.canceled"],
            "organization": self.sandbox.org_uri(),
            "scope": "organization",
            **extra,
        }


def settle_seed(sandbox: Sandbox, now: float) -> None:
    """The seed stamps some future events as created in the future (a sandbox quirk): move
    those stamps into the past so only what a test does counts as a change."""
    for event in sandbox.state.events.values():
        event.created_at = min(event.created_at, now - 3600)
        event.updated_at = min(event.updated_at, now - 3600)


@contextlib.asynccontextmanager
async def open_env() -> AsyncIterator[Env]:
    """A fresh sandbox and runtime sharing a clock, with an authorized connection."""
    clock = ManualClock(now=float(int(time.time())))
    receiver = Receiver(clock)
    sandbox = Sandbox(
        SandboxConfig(seed=7, events=40, base_url=BASE),
        clock=clock.time,
        webhook_transport=httpx.ASGITransport(app=receiver),
        sleep=clock.sleep,
    )
    settle_seed(sandbox, clock.time())
    runtime = Runtime(hosts={HOST: sandbox.app}, clock=clock)
    connection = await open_sandbox_connection(runtime, sandbox)
    try:
        yield Env(sandbox, runtime, clock, connection, receiver)
    finally:
        await runtime.aclose()
