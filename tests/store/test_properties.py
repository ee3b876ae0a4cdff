"""Property tests: whatever JSON and bytes arrive, the store gives back exactly the same."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.store import Store

from .conftest import make_instance

pytestmark = pytest.mark.asyncio

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=25,
)
headers = st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=60), max_size=6)


@given(payload=json_values, body=st.binary(max_size=4096), head=headers)
async def test_deliveries_round_trip(
    store: Store, payload: Any, body: bytes, head: dict[str, str]
) -> None:
    if await store.get_instance("acme") is None:
        await make_instance(store)
    received_at = 1_700_000_000.123456
    execution_id, new = await store.record_delivery(
        "acme", uuid.uuid4().hex, head, body, received_at, payload
    )
    row = await store.get_execution(execution_id)
    assert new and row is not None and row.delivery is not None
    assert row.payload == payload
    assert (row.delivery.body, row.delivery.headers, row.delivery.received_at) == (
        body,
        head,
        received_at,
    )


@given(payload=json_values, result=st.dictionaries(st.text(max_size=10), json_values, max_size=4))
async def test_executions_and_cursors_round_trip(
    store: Store, payload: Any, result: dict[str, Any]
) -> None:
    execution_id = await store.create_execution(None, "flow: text", 1, payload)
    await store.finish_execution(execution_id, "completed", result, {"execution": {"p": payload}})
    row = await store.get_execution(execution_id)
    assert row is not None
    assert (row.payload, row.result, row.state) == (payload, result, {"p": payload})
    await store.set_cursor("acme", payload)
    assert await store.get_cursor("acme") == payload
