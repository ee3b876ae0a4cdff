"""Two processes, 50 concurrent executions, one expired token: exactly one refresh.

On both stores: SQLite (a lease-lock row and BEGIN IMMEDIATE) and PostgreSQL. The Dramatiq
version (two `relay worker` processes) is in tests/scale/test_refresh.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_backends import postgres_schema
from relay_processes import free_port, relay_env
from relay_uvicorn import serving

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import Token, open_store

WORKER = Path(__file__).resolve().parents[1] / "support" / "refresh_worker.py"
FLOW = """\
name: who am i
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
steps:
  - id: me
    action: calendly.getCurrentUser
    inputs: {connection: "${{ config.calendly }}"}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with postgres_schema() as url:
        yield {"RELAY_DATABASE_URL": url}


@pytest.mark.asyncio
async def test_two_processes_share_one_refresh(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = Sandbox(SandboxConfig(base_url=url, events=5))
    async with serving(sandbox.app, port):
        store = await open_store(database_env.get("RELAY_DATABASE_URL"), data_dir=tmp_path)
        fields = {
            "clientId": "sandbox-client-id",
            "clientSecret": "sandbox-client-secret",
            "useLiveServer": False,
            "sandboxUrl": url,
        }
        await store.save_connection("shared", "calendly", "calendlyOauth2Connection", fields)
        issued = Token.from_response(sandbox.issue_token(), time.time())
        await store.tokens.save("connection:shared", issued.expired_copy(time.time() - 10))
        await store.close()
        flow = tmp_path / "who.yaml"
        flow.write_text(FLOW)
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                str(tmp_path),
                str(flow),
                "25",
                str(barrier),
                env=relay_env(tmp_path, **database_env),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.wait_for(w.communicate(), 120) for w in workers]
    statuses = [s for out, err in outputs for s in json.loads(out or b"[]")]
    assert statuses == ["completed"] * 50, [err.decode()[-1500:] for _, err in outputs]
    refreshes = [r for r in sandbox.token_requests if r.grant_type == "refresh_token"]
    assert len(refreshes) == 1
    assert [r.outcome for r in sandbox.token_requests if r.outcome != "ok"] == []
