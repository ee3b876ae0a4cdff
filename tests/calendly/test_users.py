"""Users actions against the sandbox: requests made, results, auth failures, UUID inputs."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from calendly_support import api_calls, check_output
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.calendly.actions.users import GET_CURRENT_USER, GET_USER
from components.calendly.sandbox import Sandbox
from runtime import (
    ApiError,
    ConnectionHandle,
    FatalApiError,
    InputValidationError,
    ReconnectRequired,
    Runtime,
)


@pytest.mark.asyncio
async def test_get_current_user(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action("calendly.getCurrentUser", {"connection": connection})
    check_output(GET_CURRENT_USER, out)
    assert out["data"]["resource"]["uri"].endswith(f"/users/{sandbox.owner.uuid}")
    assert out["data"]["resource"]["current_organization"].endswith(sandbox.organization.uuid)
    assert [(r["method"], r["path"], r["query"]) for r in api_calls(sandbox)] == [
        ("GET", "/users/me", {})
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("as_uri", [False, True])
async def test_get_user_by_uuid_or_uri(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, as_uri: bool
) -> None:
    member = next(
        u
        for u in sandbox.state.users.values()
        if u.org_uuid == sandbox.organization.uuid and u.uuid != sandbox.owner.uuid
    )
    ref = f"https://api.calendly.com/users/{member.uuid}" if as_uri else member.uuid
    out = await runtime.invoke_action("calendly.getUser", {"connection": connection, "uuid": ref})
    check_output(GET_USER, out)
    assert out["data"]["resource"]["email"] == member.email
    assert [r["path"] for r in api_calls(sandbox)] == [f"/users/{member.uuid}"]


@pytest.mark.asyncio
async def test_unknown_user_is_404(runtime: Runtime, connection: ConnectionHandle) -> None:
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.getUser", {"connection": connection, "uuid": "NOSUCHUSER0000"}
        )
    assert caught.value.status == 404
    assert caught.value.title == "Resource Not Found"


@pytest.mark.asyncio
async def test_user_of_another_organization_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    outsider = next(
        u for u in sandbox.state.users.values() if u.org_uuid != sandbox.organization.uuid
    )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.getUser", {"connection": connection, "uuid": outsider.uuid}
        )
    assert caught.value.status == 403
    assert caught.value.title == "Permission Denied"


async def _stored_token(runtime: Runtime, connection: ConnectionHandle) -> Any:
    token = await runtime.token_store.load(connection.store_key)
    assert token is not None
    return token


def _refresh_calls(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.token_requests if r.grant_type == "refresh_token")


@pytest.mark.asyncio
async def test_expired_access_token_is_refreshed_once(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    token = await _stored_token(runtime, connection)
    sandbox.tokens.revoke(token.access_token)
    out = await runtime.invoke_action("calendly.getCurrentUser", {"connection": connection})
    assert out["data"]["resource"]["name"] == sandbox.owner.name
    assert _refresh_calls(sandbox) == 1
    assert [r["path"] for r in api_calls(sandbox)] == ["/users/me", "/users/me"]


@pytest.mark.asyncio
async def test_revoked_grant_gives_a_clear_error_after_one_refresh(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    token = await _stored_token(runtime, connection)
    sandbox.tokens.revoke(token.access_token)
    sandbox.tokens.revoke(token.refresh_token)
    with pytest.raises(ReconnectRequired) as caught:
        await runtime.invoke_action("calendly.getCurrentUser", {"connection": connection})
    assert "invalid_grant" in str(caught.value)
    assert _refresh_calls(sandbox) == 1
    assert len(api_calls(sandbox)) == 1


_REFS = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\Ahttps?://[a-z.]{1,12}/[a-z_]{1,12}/[^/?#]{0,20}\Z"),
    st.from_regex(r"\A[A-Za-z0-9_-]{1,70}\Z"),
)


@pytest.mark.asyncio
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ref=_REFS, other=_REFS)
async def test_uuid_inputs_only_raise_relay_errors(
    runtime: Runtime, connection: ConnectionHandle, ref: str, other: str
) -> None:
    """Whatever the string, UUID inputs end in success, an input error or an API error."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("calendly.getUser", {"uuid": ref}),
        ("calendly.getEvent", {"uuid": ref}),
        ("calendly.getEventInvitee", {"eventUuid": ref, "inviteeUuid": other}),
        ("calendly.getOrganizationInvitation", {"orgUuid": other, "uuid": ref}),
        ("calendly.listUserAvailabilitySchedules", {"user": ref}),
    ]
    for key, inputs in calls:
        with contextlib.suppress(InputValidationError, ApiError):
            await runtime.invoke_action(key, {"connection": connection, **inputs})
