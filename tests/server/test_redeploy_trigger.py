"""A redeploy runs the trigger's deploy step again only when what it is given changed: a
Calendly instance against the sandbox keeps its subscription across a redeploy that changes
only the steps, and gets it replaced (one subscription at the same URL) when its events
change; a delivery signed as the sandbox signs it runs on the new version."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
from calendly_hook import HOOK_FLOW, sandbox_connection
from relay_service_support import in_process_service

from components.calendly.sandbox import Sandbox, SandboxConfig
from components.calendly.signature import sign as calendly_sign
from runtime import ManualClock, Runtime, Service

NOW = 1_800_000_000.0
FLOW = HOOK_FLOW
#: Only a step differs: the trigger's deploy step is given what it was given before.
STEPS_CHANGED = FLOW.replace('{value: "${{ trigger.body.event }}"}', "{value: second}")
#: The subscription's events differ: the deploy step must run again.
EVENTS_CHANGED = STEPS_CHANGED.replace("[invitee.created]", "[invitee.created, invitee.canceled]")


@attrs.define
class Setup:
    relay: Service
    client: httpx.AsyncClient
    sandbox: Sandbox
    config: dict[str, Any]

    def subscriptions(self) -> list[tuple[str, str, tuple[str, ...], float]]:
        return sorted(
            (h.uuid, h.url, tuple(sorted(h.events)), h.updated_at)
            for h in self.sandbox.state.webhooks.values()
            if h.state == "active"
        )


@pytest_asyncio.fixture
async def setup(tmp_path: Path, store_url: str) -> AsyncIterator[Setup]:
    clock = ManualClock(now=NOW)
    sandbox = Sandbox(
        SandboxConfig(seed=3, events=5, base_url="http://calendly.test"), clock=clock.time
    )
    runtime = Runtime(hosts={"calendly.test": sandbox.app}, clock=clock)
    async with in_process_service(runtime, store_url, tmp_path) as (relay, _executor, client):
        config = await sandbox_connection(relay, sandbox, NOW)
        yield Setup(relay, client, sandbox, config)


@pytest.mark.asyncio
async def test_the_deploy_step_runs_again_only_when_its_inputs_change(
    setup: Setup, tmp_path: Path
) -> None:
    flow = tmp_path / "hook.yaml"
    flow.write_text(FLOW)
    first = await setup.relay.deploy(flow, setup.config, "hook")
    url = setup.relay.webhook_url(first)
    seeded = {s for s in setup.subscriptions() if s[1] != url}
    [subscription] = [s for s in setup.subscriptions() if s[1] == url]

    same = await setup.relay.redeploy("hook", STEPS_CHANGED)
    assert same.deployed is False
    # the step run again would have reused the identical subscription and said so ("reused")
    assert same.instance.deploy_state == first.deploy_state
    assert first.deploy_state["reused"] is False
    assert [s for s in setup.subscriptions() if s[1] == url] == [subscription]  # untouched

    changed = await setup.relay.redeploy("hook", EVENTS_CHANGED)
    assert changed.deployed is True
    assert changed.instance.flow_version == 3
    assert changed.instance.webhook_token == first.webhook_token
    mine = [s for s in setup.subscriptions() if s[1] == url]
    assert [s[2] for s in mine] == [("invitee.canceled", "invitee.created")]  # one, replaced
    assert changed.instance.deploy_state["subscription"].endswith(mine[0][0])
    assert {s for s in setup.subscriptions() if s[1] != url} == seeded  # nobody else's touched

    payload = json.dumps({"event": "invitee.canceled", "payload": {"uri": "u"}}).encode()
    signature = calendly_sign(changed.instance.deploy_state["signingKey"], int(NOW), payload)
    response = await setup.client.post(
        f"/webhooks/{first.webhook_token}",
        content=payload,
        headers={"Content-Type": "application/json", "Calendly-Webhook-Signature": signature},
    )
    assert response.status_code == 202, response.text
    row = await setup.relay.store.get_execution(response.json()["execution_id"])
    assert row is not None and row.flow_version == 3
