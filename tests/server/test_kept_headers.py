"""The headers a delivery record keeps: relay's generic ones plus what the trigger declares.

Deliveries go through the real server app (in-process HTTP) into a real SQLite store; the
Calendly instance is deployed against the sandbox, so its signature is a real one.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
from calendly_hook import HOOK_FLOW, sandbox_connection
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_service_support import CONFIG, FLOW, in_process_service, sign

from components.calendly.sandbox import Sandbox, SandboxConfig
from components.calendly.signature import sign as calendly_sign
from runtime import (
    Component,
    Context,
    ManualClock,
    Runtime,
    Service,
    Trigger,
    TriggerEvent,
    WebhookRequest,
)
from runtime.testing import ComponentPlugin

NOW = 1_800_000_000.0
ECHO_FLOW = """\
name: echo hook
trigger: {component: echo, trigger: hook}
steps:
  - id: seen
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""
#: Sent with every delivery below: none of these may reach a record.
UNDECLARED = {"X-Undeclared": "1", "Authorization": "Bearer not-for-records", "Cookie": "a=b"}


def _echo(ctx: Context, request: WebhookRequest, params: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload={"body": request.json()})


ECHO = Component(
    key="echo",
    label="Echo",
    description="A test-only component whose trigger declares its own header.",
    triggers=(
        Trigger(
            key="hook",
            label="Hook",
            description="Accepts every delivery.",
            kind="webhook",
            inputs=(),
            perform=_echo,
            kept_headers=("x-echo-signature",),
        ),
    ),
)


@attrs.define
class Setup:
    relay: Service
    client: httpx.AsyncClient
    home: Path
    sandbox: Sandbox | None = None

    async def deploy(self, text: str, name: str, config: dict[str, Any]) -> Any:
        path = self.home / f"{name}.yaml"
        path.write_text(text)
        return await self.relay.deploy(path, config, name)

    async def recorded_headers(self, response: httpx.Response) -> dict[str, str]:
        assert response.status_code == 202, response.text
        row = await self.relay.store.get_execution(response.json()["execution_id"])
        assert row is not None and row.delivery is not None
        return {k.lower(): v for k, v in row.delivery.headers.items()}


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    clock = ManualClock(now=NOW)
    sandbox = Sandbox(
        SandboxConfig(seed=3, events=5, base_url="http://calendly.test"), clock=clock.time
    )
    runtime = Runtime(
        plugins=[ComponentPlugin(ECHO)], hosts={"calendly.test": sandbox.app}, clock=clock
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    async with in_process_service(runtime, url, tmp_path) as (relay, _executor, client):
        yield Setup(relay, client, tmp_path, sandbox)


@pytest.mark.asyncio
async def test_a_calendly_delivery_keeps_the_calendly_signature(setup: Setup) -> None:
    assert setup.sandbox is not None
    config = await sandbox_connection(setup.relay, setup.sandbox, NOW)
    instance = await setup.deploy(HOOK_FLOW, "cal-hook", config)
    body = json.dumps({"event": "invitee.created", "payload": {"uri": "u"}}).encode()
    signature = calendly_sign(instance.deploy_state["signingKey"], int(NOW), body)
    headers = {"Content-Type": "application/json", "Calendly-Webhook-Signature": signature}
    response = await setup.client.post(
        f"/webhooks/{instance.webhook_token}", content=body, headers={**headers, **UNDECLARED}
    )
    kept = await setup.recorded_headers(response)
    assert set(kept) == {"content-type", "user-agent", "calendly-webhook-signature"}
    assert kept["calendly-webhook-signature"] == signature


@pytest.mark.asyncio
async def test_a_component_trigger_keeps_the_header_it_declares(setup: Setup) -> None:
    instance = await setup.deploy(ECHO_FLOW, "echo-hook", {})
    headers = {
        "Content-Type": "application/json",
        "X-Echo-Signature": "echoed",
        "Calendly-Webhook-Signature": "t=1,v1=00",  # another trigger's header: not this one's
        "X-Relay-Signature": "sha256=00",  # the plain webhook trigger's: not this one's
    }
    response = await setup.client.post(
        f"/webhooks/{instance.webhook_token}", content=b"{}", headers={**headers, **UNDECLARED}
    )
    kept = await setup.recorded_headers(response)
    assert set(kept) == {"content-type", "user-agent", "x-echo-signature"}
    assert kept["x-echo-signature"] == "echoed"


@pytest.mark.asyncio
async def test_a_plain_webhook_keeps_relay_signature_and_drops_the_rest(setup: Setup) -> None:
    instance = await setup.deploy(FLOW, "plain-hook", CONFIG)
    body = json.dumps({"n": 1, "pause": 0}).encode()
    others = {**UNDECLARED, "Calendly-Webhook-Signature": "t=1,v1=00"}
    response = await setup.client.post(
        f"/webhooks/{instance.webhook_token}", content=body, headers={**sign(body), **others}
    )
    kept = await setup.recorded_headers(response)
    assert set(kept) == {"content-type", "user-agent", "x-relay-signature"}
    row = await setup.relay.store.get_execution(response.json()["execution_id"])
    assert row is not None
    assert set(row.payload["headers"]) == set(kept)  # what the flow sees as trigger.headers


#: The header names a delivery to the echo trigger keeps.
ECHO_KEPT = {"content-type", "user-agent", "x-echo-signature"}
_NAMES = st.sampled_from(
    [
        "Content-Type",
        "user-agent",
        "X-ECHO-SIGNATURE",
        "x-echo-signature",
        "X-Relay-Signature",
        "Calendly-Webhook-Signature",
        "Authorization",
        "Cookie",
        "Set-Cookie",
        "X-Forwarded-For",
    ]
) | st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


def _one_per_name(headers: dict[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: keep one spelling of each."""
    seen: dict[str, tuple[str, str]] = {}
    for name, value in headers.items():
        seen.setdefault(name.lower(), (name, value))
    return dict(seen.values())


async def _record_echo(home: Path, headers: dict[str, str]) -> dict[str, str]:
    runtime = Runtime(plugins=[ComponentPlugin(ECHO)], clock=ManualClock(now=NOW))
    url = f"sqlite+aiosqlite:///{home / 'r.db'}"
    async with in_process_service(runtime, url, home) as (relay, _executor, client):
        setup = Setup(relay, client, home)
        instance = await setup.deploy(ECHO_FLOW, "echo-hook", {})
        response = await client.post(
            f"/webhooks/{instance.webhook_token}", content=b"{}", headers=headers
        )
        return await setup.recorded_headers(response)


# each example is a store and an app of its own: fewer than the profile's, for the suite's time
@settings(max_examples=20)
@given(st.dictionaries(_NAMES, _VALUES, max_size=8).map(_one_per_name))
def test_a_record_keeps_exactly_the_kept_headers_of_any_delivery(headers: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as home:
        kept = asyncio.run(_record_echo(Path(home), headers))
    sent = {name.lower(): value for name, value in headers.items()}
    assert set(kept) == (set(sent) | {"user-agent"}) & ECHO_KEPT  # httpx sends a user-agent
    assert all(kept[name] == sent[name] for name in kept if name in sent)
