"""Two worker processes, 50 concurrent executions, one expired token: one refresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from relay_processes import free_port
from relay_service_support import SECRET
from relay_uvicorn import serving

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import Token

from .conftest import Cluster

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis]

FLOW = """\
name: who am i
concurrency: 50
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: me
    action: calendly.getCurrentUser
    inputs: {connection: "${{ config.calendly }}"}
"""


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The Calendly sandbox on a loopback port, so the worker processes reach it too."""
    port = free_port()
    sandbox = Sandbox(SandboxConfig(base_url=f"http://127.0.0.1:{port}", events=5))
    async with serving(sandbox.app, port):
        yield sandbox


async def test_fifty_executions_on_two_workers_refresh_an_expired_token_once(
    cluster: Cluster, sandbox: Sandbox
) -> None:
    fields = {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
        "sandboxUrl": sandbox.config.base_url,
    }
    await cluster.store.save_connection("shared", "calendly", "calendlyOauth2Connection", fields)
    issued = Token.from_response(sandbox.issue_token(), time.time())
    await cluster.store.tokens.save("connection:shared", issued.expired_copy(time.time() - 10))
    config = {"calendly": {"use": "shared"}, "hookSecret": SECRET}
    url = await cluster.deploy(FLOW, "whoami", config)
    # at most 25 messages in hand per process: neither can take all 50
    for _ in range(2):
        cluster.start_worker("--threads", "25", dramatiq_queue_prefetch="25")
    await cluster.wait_for_brokers(2)
    answers = await asyncio.gather(*(cluster.post(url, n) for n in range(50)))
    assert [a.status_code for a in answers] == [202] * 50
    rows = await cluster.all_finished(50, "whoami")
    errors = [r.result.get("error") for r in rows if r.status != "completed"]
    assert errors == []
    grants = [(r.grant_type, r.outcome) for r in sandbox.token_requests]
    assert grants == [("refresh_token", "ok")]
