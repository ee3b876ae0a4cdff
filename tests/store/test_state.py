"""State scopes and poll cursors on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.store import Store

from .conftest import make_instance

pytestmark = pytest.mark.asyncio


async def test_state_starts_empty(store: Store) -> None:
    assert await store.load_state("acme", "F") == {"flow": {}, "cross_flow": {}, "integration": {}}


async def test_scopes_are_keyed_by_instance_and_flow(store: Store) -> None:
    await store.save_state("a", "F", {"n": 1}, {"x": "a"}, {"shared": 1})
    await store.save_state("b", "F", {"n": 2}, {"x": "b"}, {"shared": 2})
    await store.save_state("c", "G", {"n": 3}, {}, {"other": True})
    assert await store.load_state("a", "F") == {
        "flow": {"n": 1},
        "cross_flow": {"x": "a"},
        "integration": {"shared": 2},  # one integration scope per flow: b wrote last
    }
    assert (await store.load_state("c", "G"))["integration"] == {"other": True}
    # an instance named like a flow does not see that flow's integration scope as its own
    assert (await store.load_state("F", "H")) == {"flow": {}, "cross_flow": {}, "integration": {}}


async def test_finish_execution_persists_scopes(store: Store) -> None:
    await make_instance(store)
    execution_id = await store.create_execution("acme", "flow", 1, {"p": 1})
    state = {
        "execution": {"e": 1},
        "flow": {"f": 1},
        "cross_flow": {"c": 1},
        "integration": {"i": 1},
    }
    await store.finish_execution(execution_id, "completed", {"flow": "Booking follow-up"}, state)
    assert await store.load_state("acme", "Booking follow-up") == {
        "flow": {"f": 1},
        "cross_flow": {"c": 1},
        "integration": {"i": 1},
    }
    row = await store.get_execution(execution_id)
    assert row is not None and row.state == {"e": 1}


async def test_finish_without_instance_keeps_the_integration_scope(store: Store) -> None:
    execution_id = await store.create_execution(None, "flow", 1, None)
    state = {"execution": {}, "flow": {"f": 1}, "cross_flow": {}, "integration": {"i": 2}}
    await store.finish_execution(execution_id, "completed", {"flow": "Adhoc"}, state)
    assert (await store.load_state("x", "Adhoc"))["integration"] == {"i": 2}


@pytest.mark.parametrize(
    "cursor", [0, "page-2", {"after": "2024-01-01T00:00:00Z", "ids": [1, 2]}, [None]]
)
async def test_cursors(store: Store, cursor: Any) -> None:
    assert await store.get_cursor("acme") is None
    await store.set_cursor("acme", "first")
    await store.set_cursor("acme", cursor)
    assert await store.get_cursor("acme") == cursor
    assert await store.get_cursor("other") is None
