"""Forged deliveries cost no more than real ones: a refused delivery re-reads the stored
instance at most once per instance per ``RECHECK_AFTER``, and a secret changed elsewhere is
still accepted within that interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from attrs import define
from relay_service_support import FLOW, LiveService, body, sign

from runtime import InProcessExecutor, ManualClock, Runtime, Service, create_app, open_store
from runtime.instance_cache import INSTANCE_TTL, RECHECK_AFTER
from runtime.plain_webhooks import DEPLOY_STATE_KEY
from runtime.store.crypto import Keyring

pytestmark = pytest.mark.asyncio


class CountingKeyring(Keyring):
    """A keyring that counts decryptions (each stored instance read decrypts two columns)."""

    decrypted = 0

    def decrypt_json(self, token: bytes) -> Any:
        self.decrypted += 1
        return super().decrypt_json(token)


@define
class Setup:
    service: LiveService
    keyring: CountingKeyring
    clock: ManualClock


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    keyring = CountingKeyring([Keyring.generate().keys[0]])
    clock = ManualClock(now=1000.0)
    runtime = Runtime()
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path, keyring=keyring
    )
    relay = Service(runtime, store, base_url="http://relay.test", monotonic=clock.time)
    executor = InProcessExecutor(relay)
    await executor.start()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(relay, executor)),
        base_url="http://relay.test",
    ) as client:
        yield Setup(LiveService(relay, executor, client, flow), keyring, clock)
    await executor.shutdown(5)
    await relay.aclose()
    await runtime.aclose()
    await store.close()


def forged(n: int) -> dict[str, str]:
    return sign(body(n), secret=f"guess-{n}")


@pytest.mark.parametrize("elapsed", [0.0, RECHECK_AFTER, INSTANCE_TTL + 1.0])
async def test_a_burst_of_forged_deliveries_reads_the_store_at_most_once(
    setup: Setup, elapsed: float
) -> None:
    path = await setup.service.deploy("a")
    assert (await setup.service.post(path, body(0))).status_code == 202  # cached now
    await setup.service.executor.drain()  # its execution's own reads are not the burst's
    setup.clock.advance(elapsed)
    before = setup.keyring.decrypted
    for n in range(1, 31):
        assert (await setup.service.post(path, body(n), forged(n))).status_code == 401
    answers = await asyncio.gather(
        *(setup.service.post(path, body(n), forged(n)) for n in range(31, 61))
    )
    assert {a.status_code for a in answers} == {401}
    # one read of the instance (config and deploy state: two decryptions) at most
    assert setup.keyring.decrypted - before <= 2
    assert len(await setup.service.executions()) == 1  # the genuine one only


async def test_a_secret_changed_by_another_process_is_accepted_within_the_interval(
    setup: Setup,
) -> None:
    path = await setup.service.deploy("a")
    assert (await setup.service.post(path, body(0))).status_code == 202
    rotated = "rotated-webhook-secret"
    # another process rewrites the instance's (encrypted) deploy state, as a redeploy would
    await setup.service.relay.store.set_deploy_state("a", {DEPLOY_STATE_KEY: rotated})
    early = await setup.service.post(path, body(1), sign(body(1), secret=rotated))
    assert early.status_code == 401  # the cached copy was read a moment ago
    setup.clock.advance(RECHECK_AFTER)
    later = await setup.service.post(path, body(2), sign(body(2), secret=rotated))
    assert later.status_code == 202
    # and the old secret is refused from then on
    assert (await setup.service.post(path, body(3))).status_code == 401
