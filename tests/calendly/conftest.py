"""Fixtures for the Calendly component's tests: a real sandbox, served in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from calendly_support import open_sandbox_connection
from calendly_trigger_env import Env, open_env

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ConnectionHandle, ManualClock, Runtime

SANDBOX_HOST = "calendly.test"
SANDBOX_URL = f"http://{SANDBOX_HOST}"


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh sandbox with a small, deterministic data set."""
    return Sandbox(SandboxConfig(seed=7, events=40, base_url=SANDBOX_URL))


@pytest_asyncio.fixture
async def runtime(sandbox: Sandbox) -> AsyncIterator[Runtime]:
    """A runtime whose requests to ``calendly.test`` reach ``sandbox`` with no socket.

    Time is a ManualClock so rate-limit waits and retries cost nothing.
    """
    rt = Runtime(hosts={SANDBOX_HOST: sandbox.app}, clock=ManualClock(now=_now()))
    yield rt
    await rt.aclose()


def _now() -> float:
    import time

    return time.time()


@pytest_asyncio.fixture
async def connection(runtime: Runtime, sandbox: Sandbox) -> ConnectionHandle:
    """An OAuth connection to the sandbox, authorized headlessly (state + PKCE)."""
    return await open_sandbox_connection(runtime, sandbox)


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    """The triggers' environment: sandbox and relay on one clock, deliveries received in-process."""
    async with open_env() as made:
        yield made
