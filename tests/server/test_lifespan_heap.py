"""While ``relay serve``'s app runs, what its start left alive is frozen out of the collector's
full passes (``runtime.heap.frozen_heap``); once it stops, it is not."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store

pytestmark = pytest.mark.asyncio


async def test_the_servers_lifespan_freezes_its_heap_until_it_stops(tmp_path: Path) -> None:
    store = await open_store(None, data_dir=tmp_path)
    relay = Service(Runtime(), store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    app = create_app(relay, executor)
    before = gc.get_freeze_count()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > before
            garbage: list[object] = []
            garbage.append(garbage)  # a cycle made while serving: still collected
            del garbage
            assert gc.collect() >= 1
        assert gc.get_freeze_count() == 0
    finally:
        await relay.aclose()
        await store.close()
