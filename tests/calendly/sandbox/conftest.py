"""Fixtures for the Calendly sandbox's own tests."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sandbox_client import in_process_client

from components.calendly.sandbox import Sandbox, SandboxConfig

BASE_URL = "http://calendly.sandbox.invalid"
#: A fixed start time so seed data and expiry maths are the same on every run.
T0 = 1_800_000_000.0
#: Calendly's OpenAPI document, reduced to what the tests validate (no prose or examples).
SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "openapi.json"


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@functools.cache
def _raw_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def spec_dict() -> dict[str, Any]:
    """The spec, with its two internal inconsistencies reconciled.

    The spec accepts 14 webhook events on POST but its WebhookSubscription response schema
    still lists 3, and ``/shares`` accepts ``webex_conference`` locations its Share response
    schema omits. A faithful server echoes what it accepted, so the response enums are widened
    to the request enums here.
    """
    raw = _raw_spec()
    spec = copy.deepcopy(raw)
    post = spec["paths"]["/webhook_subscriptions"]["post"]
    events = post["requestBody"]["content"]["application/json"]["schema"]["properties"]["events"]
    sub = spec["components"]["schemas"]["WebhookSubscription"]["properties"]["events"]
    sub["items"]["enum"] = list(events["items"]["enum"])
    share_req = spec["paths"]["/shares"]["post"]["requestBody"]["content"]["application/json"]
    req_kinds = share_req["schema"]["properties"]["location_configurations"]["items"]
    override = spec["components"]["schemas"]["Share"]["properties"]["share_override"]
    resp_kinds = override["properties"]["location_configurations"]["items"]["properties"]["kind"]
    resp_kinds["enum"] = list(req_kinds["properties"]["kind"]["enum"])
    return spec


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock."""
    return FakeClock()


@pytest.fixture
def sb(clock: FakeClock) -> Sandbox:
    """A small deterministic sandbox on the fake clock."""
    return Sandbox(
        SandboxConfig(seed=1, events=60, base_url=BASE_URL), clock=clock, sleep=clock.sleep
    )


@pytest.fixture
def owner_token(sb: Sandbox) -> str:
    """An OAuth access token of the organization owner."""
    token: str = sb.issue_token()["access_token"]
    return token


@pytest_asyncio.fixture
async def client(sb: Sandbox, owner_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client authenticated as the owner."""
    async with in_process_client(sb, owner_token) as c:
        yield c


@pytest_asyncio.fixture
async def anon(sb: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with no credentials."""
    async with in_process_client(sb) as c:
        yield c
