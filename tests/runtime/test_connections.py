"""Connection state threads through an execution; refresh: proactive, on 401, single-flight."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from relay_widgets import WidgetApi

from runtime import ManualClock, Runtime

FLOW = """\
name: threading
config:
  conn: {type: connection, component: widgets, connection: oauth}
steps:
  - id: s1
    action: widgets.whoami
    inputs: {connection: "${{ config.conn }}"}
  - id: s2
    action: widgets.whoami
    inputs: {connection: "${{ config.conn }}"}
  - id: s3
    action: widgets.whoami
    inputs: {connection: "${{ config.conn }}", parallel: 3}
  - id: s4
    action: widgets.whoami
    inputs: {connection: "${{ config.conn }}"}
"""
FIELDS = {"clientId": "widget-client", "clientSecret": "widget-secret-value"}


async def _expired_connection(rt: Runtime, api: WidgetApi, clock: ManualClock) -> dict[str, Any]:
    """A connection whose token (from a real authorization) has expired."""
    flow = rt.load_flow_text(FLOW)
    scope, handles = await rt.resolve_config(flow, {"conn": FIELDS})
    first = handles["conn"].token or await rt.token_store.load(handles["conn"].store_key)
    assert first is not None
    clock.advance(api.ttl + 1)
    return {"flow": flow, "scope": scope, "handles": handles, "first": first.access_token}


@pytest.mark.asyncio
async def test_refresh_in_step_one_is_the_token_of_every_later_step(
    rt: Runtime, api: WidgetApi, clock: ManualClock
) -> None:
    setup = await _expired_connection(rt, api, clock)
    result = await rt.run(setup["flow"], config=setup["scope"], connections=setup["handles"])
    assert result.status == "completed", result.error
    assert api.refreshes == 1
    new_token = result.connections["conn"].token
    assert new_token is not None
    assert new_token.access_token != setup["first"]
    assert set(api.seen_tokens) == {new_token.access_token}  # steps 1..4 (and the 3 parallel calls)
    assert len(api.seen_tokens) == 6
    assert result.as_dict()["connections"]["conn"]["refreshes"] == 1
    stored = await rt.token_store.load(result.connections["conn"].store_key)
    assert stored is not None and stored.access_token == new_token.access_token


@pytest.mark.asyncio
async def test_five_concurrent_needs_cause_one_refresh(
    rt: Runtime, api: WidgetApi, clock: ManualClock
) -> None:
    setup = await _expired_connection(rt, api, clock)
    results = await asyncio.gather(
        *(
            rt.run(setup["flow"], config=setup["scope"], connections=setup["handles"])
            for _ in range(5)
        )
    )
    assert [r.status for r in results] == ["completed"] * 5
    assert api.refreshes == 1
    assert api.invalid_grants == 0


@pytest.mark.asyncio
async def test_five_parallel_requests_in_one_step_refresh_once(
    rt: Runtime, api: WidgetApi, clock: ManualClock
) -> None:
    setup = await _expired_connection(rt, api, clock)
    handle = setup["handles"]["conn"]
    out = await rt.invoke_action("widgets.whoami", {"connection": handle, "parallel": 5})
    assert out == {"data": {"name": "Widget Owner"}}
    assert api.refreshes == 1


@pytest.mark.asyncio
async def test_a_401_refreshes_once_then_succeeds(rt: Runtime, api: WidgetApi) -> None:
    flow = rt.load_flow_text(FLOW)
    _, handles = await rt.resolve_config(flow, {"conn": FIELDS})
    api.access.clear()  # the server revoked every access token; the refresh token still works
    out = await rt.invoke_action("widgets.whoami", {"connection": handles["conn"]})
    assert out["data"]["name"] == "Widget Owner"
    assert api.refreshes == 1


@pytest.mark.asyncio
async def test_invalid_grant_asks_to_reconnect_and_leaks_nothing(
    rt: Runtime, api: WidgetApi, clock: ManualClock
) -> None:
    setup = await _expired_connection(rt, api, clock)
    api.refresh_tokens.clear()
    result = await rt.run(setup["flow"], config=setup["scope"], connections=setup["handles"])
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["type"] == "ReconnectRequired"
    assert "reconnect this connection (conn)" in result.error["message"]
    text = str(result.as_dict())
    assert "widget-secret-value" not in text
    assert setup["first"] not in text
    assert "[connection conn]" in text


@pytest.mark.asyncio
async def test_config_problems_are_listed(rt: Runtime) -> None:
    from runtime import InputValidationError

    flow = rt.load_flow_text(FLOW.replace("config:\n", "config:\n  size: {type: integer}\n"))
    with pytest.raises(InputValidationError) as info:
        await rt.resolve_config(flow, {"size": "big", "extra": 1, "conn": {"clientId": "x"}})
    paths = {p.path for p in info.value.problems}
    assert paths == {"$.conn.clientSecret", "$.size", "$.extra"}


@pytest.mark.asyncio
async def test_each_runtime_learns_the_secrets_of_its_own_connections(
    rt: Runtime, api: WidgetApi, clock: ManualClock
) -> None:
    other = Runtime(plugins=list(rt.plugin_manager.get_plugins()), load_entry_points=False)
    derived = rt.using()
    assert derived.redactor is rt.redactor and other.redactor is not rt.redactor
    setup = await _expired_connection(rt, api, clock)
    result = await rt.run(setup["flow"], config=setup["scope"], connections=setup["handles"])
    token = result.connections["conn"].token
    assert token is not None
    learned = rt.redactor.secrets
    assert {FIELDS["clientSecret"], setup["first"], token.access_token} <= learned
    assert not learned & other.redactor.secrets
    await other.aclose()
