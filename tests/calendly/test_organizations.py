"""Organization memberships and invitations against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import organizations as orgs
from components.calendly.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from runtime import ConnectionHandle, FatalApiError, InputValidationError, Runtime

SANDBOX_URL = "http://calendly.test"


async def member_connection(runtime: Runtime, sandbox: Sandbox) -> ConnectionHandle:
    """A connection for a plain member (role ``user``) of the seeded organization."""
    member = next(
        m
        for m in sandbox.state.memberships.values()
        if m.org_uuid == sandbox.organization.uuid and m.role == "user"
    )
    return await runtime.open_connection(
        "member",
        "calendly",
        "calendlyOauth2Connection",
        {
            "clientId": DEFAULT_CLIENT_ID,
            "clientSecret": DEFAULT_CLIENT_SECRET,
            "useLiveServer": False,
            "sandboxUrl": SANDBOX_URL,
            "token": sandbox.issue_token(member.user_uuid),
        },
    )


def pending_invitation(sandbox: Sandbox) -> Any:
    return next(i for i in sandbox.state.invitations.values() if i.status == "pending")


@pytest.mark.asyncio
async def test_list_memberships_defaults_to_the_current_organization(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """No organization given -> the user's own, never ``.../organizations/``."""
    out = await runtime.invoke_action(
        "calendly.listOrganizationMemberships", {"connection": connection}
    )
    check_output(orgs.LIST_MEMBERSHIPS, out)
    calls = api_calls(sandbox)
    assert [r["path"] for r in calls] == ["/users/me", "/organization_memberships"]
    assert calls[1]["query"] == {"organization": sandbox.org_uri(), "count": "100"}
    expected = {
        m.uuid
        for m in sandbox.state.memberships.values()
        if m.org_uuid == sandbox.organization.uuid
    }
    assert {m["uri"].rsplit("/", 1)[1] for m in out["data"]} == expected


@pytest.mark.asyncio
async def test_list_memberships_filters_take_uris_or_uuids(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    owner = sandbox.owner
    out = await runtime.invoke_action(
        "calendly.listOrganizationMemberships",
        {
            "connection": connection,
            "organization": sandbox.organization.uuid,
            "user": f"https://api.calendly.com/users/{owner.uuid}",
            "email": owner.email,
        },
    )
    assert [m["user"]["email"] for m in out["data"]] == [owner.email]
    (call,) = api_calls(sandbox)
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "user": sandbox.user_uri(owner),
        "email": owner.email,
        "count": "100",
    }


@pytest.mark.asyncio
async def test_list_memberships_limit(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listOrganizationMemberships",
        {"connection": connection, "organization": sandbox.org_uri(), "limit": 2},
    )
    assert len(out["data"]) == 2
    (call,) = api_calls(sandbox)
    assert call["query"]["count"] == "2"


@pytest.mark.asyncio
async def test_get_membership_by_uri(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    membership = next(iter(sandbox.state.memberships.values()))
    uri = f"{SANDBOX_URL}/organization_memberships/{membership.uuid}"
    out = await runtime.invoke_action(
        "calendly.getOrganizationMembership", {"connection": connection, "uuid": uri}
    )
    check_output(orgs.GET_MEMBERSHIP, out)
    assert out["data"]["resource"]["uri"] == uri
    assert [r["path"] for r in api_calls(sandbox)] == [
        f"/organization_memberships/{membership.uuid}"
    ]


@pytest.mark.asyncio
async def test_remove_user_with_a_picklist_key(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """The picklist's keys are membership UUIDs, which the removal needs."""
    items = await runtime.picklist(
        "calendly.organizationMemberships",
        {"connection": connection, "email": "uma.user@example.com"},
    )
    (item,) = items
    out = await runtime.invoke_action(
        "calendly.removeUserFromOrganization", {"connection": connection, "uuid": item["key"]}
    )
    check_output(orgs.REMOVE_USER, out)
    assert out == {"data": None}
    assert item["key"] not in sandbox.state.memberships
    assert api_calls(sandbox)[-1]["method"] == "DELETE"
    assert api_calls(sandbox)[-1]["path"] == f"/organization_memberships/{item['key']}"


@pytest.mark.asyncio
async def test_removing_the_owner_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    owner = sandbox.state.membership_of(sandbox.owner.uuid, sandbox.organization.uuid)
    assert owner is not None
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.removeUserFromOrganization", {"connection": connection, "uuid": owner.uuid}
        )
    assert caught.value.status == 403


@pytest.mark.asyncio
async def test_list_invitations(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listOrganizationInvitations",
        {
            "connection": connection,
            "uuid": sandbox.org_uri(),
            "status": "pending",
            "sort": "created_at:desc",
        },
    )
    check_output(orgs.LIST_INVITATIONS, out)
    assert {i["status"] for i in out["data"]} == {"pending"}
    assert len(out["data"]) == 2
    (call,) = api_calls(sandbox)
    assert call["path"] == f"/organizations/{sandbox.organization.uuid}/invitations"
    assert call["query"] == {"status": "pending", "sort": "created_at:desc", "count": "100"}


@pytest.mark.asyncio
async def test_invitation_status_is_checked_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as caught:
        await runtime.invoke_action(
            "calendly.listOrganizationInvitations",
            {"connection": connection, "uuid": sandbox.organization.uuid, "status": "active"},
        )
    assert [p.path for p in caught.value.problems] == ["$.status"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_member_cannot_list_invitations(runtime: Runtime, sandbox: Sandbox) -> None:
    member = await member_connection(runtime, sandbox)
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.listOrganizationInvitations",
            {"connection": member, "uuid": sandbox.organization.uuid},
        )
    assert caught.value.status == 403


@pytest.mark.asyncio
async def test_get_invitation_by_uris(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    inv = pending_invitation(sandbox)
    uri = f"{sandbox.org_uri()}/invitations/{inv.uuid}"
    out = await runtime.invoke_action(
        "calendly.getOrganizationInvitation",
        {"connection": connection, "orgUuid": sandbox.org_uri(), "uuid": uri},
    )
    check_output(orgs.GET_INVITATION, out)
    assert out["data"]["resource"] == {**out["data"]["resource"], "uri": uri, "email": inv.email}
    assert [r["path"] for r in api_calls(sandbox)] == [
        f"/organizations/{sandbox.organization.uuid}/invitations/{inv.uuid}"
    ]


@pytest.mark.asyncio
async def test_invite_sends_the_email(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """The invitation carries the email."""
    out = await runtime.invoke_action(
        "calendly.inviteUserToOrganization",
        {"connection": connection, "uuid": sandbox.org_uri(), "email": "new.hire@example.com"},
    )
    check_output(orgs.INVITE_USER, out)
    assert out["data"]["resource"]["email"] == "new.hire@example.com"
    assert out["data"]["resource"]["status"] == "pending"
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"], call["json"]) == (
        "POST",
        f"/organizations/{sandbox.organization.uuid}/invitations",
        {"email": "new.hire@example.com"},
    )


@pytest.mark.asyncio
async def test_inviting_a_member_is_400_with_details(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Only a pending invitation makes a repeat succeed (test_idempotent_actions)."""
    member = sandbox.owner
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.inviteUserToOrganization",
            {"connection": connection, "uuid": sandbox.organization.uuid, "email": member.email},
        )
    assert caught.value.status == 400
    assert caught.value.title == "Invalid Argument"
    assert caught.value.details[0]["parameter"] == "email"


@pytest.mark.asyncio
async def test_invite_needs_an_email(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as caught:
        await runtime.invoke_action(
            "calendly.inviteUserToOrganization", {"connection": connection, "uuid": "not a uuid!"}
        )
    assert [p.path for p in caught.value.problems] == ["$.email", "$.uuid"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_revoke_invitation(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    inv = pending_invitation(sandbox)
    out = await runtime.invoke_action(
        "calendly.revokeUserOrganizationInvitation",
        {
            "connection": connection,
            "orgUuid": sandbox.organization.uuid,
            "uuid": f"{sandbox.org_uri()}/invitations/{inv.uuid}",
        },
    )
    check_output(orgs.REVOKE_INVITATION, out)
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == (
        "DELETE",
        f"/organizations/{sandbox.organization.uuid}/invitations/{inv.uuid}",
    )
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action(
            "calendly.getOrganizationInvitation",
            {"connection": connection, "orgUuid": sandbox.organization.uuid, "uuid": inv.uuid},
        )
    assert caught.value.status == 404
