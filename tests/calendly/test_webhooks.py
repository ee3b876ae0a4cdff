"""Webhook subscription actions against the sandbox, idempotent deletes included."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import webhooks
from components.calendly.sandbox import Sandbox
from runtime import (
    ConnectionHandle,
    FatalApiError,
    InputValidationError,
    RetriableApiError,
    Runtime,
)

HOOK_URL = "https://relay.example.com/webhooks/instance-1/flow-a"


async def create(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    url: str = HOOK_URL,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = await runtime.invoke_action(
        "calendly.createWebhookSubscription",
        {
            "connection": connection,
            "url": url,
            "event": ["invitee.created", "invitee.canceled"],
            "organization": sandbox.org_uri(),
            "scope": "organization",
            **extra,
        },
    )
    return out


@pytest.mark.asyncio
async def test_create_sends_uris_and_the_signing_key(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await create(
        runtime, connection, sandbox, signingKey="s3cret", organization=sandbox.organization.uuid
    )  # a bare UUID is fine
    check_output(webhooks.CREATE_WEBHOOK, out)
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("POST", "/webhook_subscriptions")
    assert call["json"] == {
        "url": HOOK_URL,
        "events": ["invitee.created", "invitee.canceled"],
        "organization": sandbox.org_uri(),
        "scope": "organization",
        "signing_key": "s3cret",
    }
    resource = out["data"]["resource"]
    assert resource["callback_url"] == HOOK_URL and resource["state"] == "active"
    assert "signing_key" not in resource
    hook = sandbox.state.webhooks[resource["uri"].rsplit("/", 1)[1]]
    assert hook.signing_key == "s3cret"


@pytest.mark.asyncio
async def test_create_for_a_user_sends_the_user_uri(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await create(runtime, connection, sandbox, scope="user", user=sandbox.owner.uuid)
    check_output(webhooks.CREATE_WEBHOOK, out)
    (call,) = api_calls(sandbox)
    assert call["json"]["user"] == sandbox.user_uri(sandbox.owner)
    assert "signing_key" not in call["json"]  # unset inputs are not sent
    assert out["data"]["resource"]["scope"] == "user"


@pytest.mark.asyncio
async def test_create_for_a_url_taken_by_other_events_is_calendlys_409(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Only the same subscription is reused (test_idempotent_actions); another one for the
    same URL is not this step's to take."""
    await create(runtime, connection, sandbox)
    with pytest.raises(FatalApiError) as info:
        await create(runtime, connection, sandbox, event=["invitee.created"])
    assert info.value.status == 409
    assert info.value.message == "Hook with this url already exists"


@pytest.mark.asyncio
async def test_create_on_the_free_plan_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_plan("free")
    with pytest.raises(FatalApiError) as info:
        await create(runtime, connection, sandbox)
    assert info.value.status == 403
    assert info.value.title == "Permission Denied"


@pytest.mark.asyncio
async def test_create_user_scope_without_user_is_refused_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await create(runtime, connection, sandbox, scope="user")
    assert [str(p) for p in info.value.problems] == ["$.user: is required when scope is 'user'"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_create_validates_inputs_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await create(
            runtime, connection, sandbox, scope="team", url="ftp://x", organization="not a uri!"
        )
    paths = {p.path for p in info.value.problems}
    assert {"$.scope", "$.url"} <= paths
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_get_takes_a_uri_or_uuid(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    uri = (await create(runtime, connection, sandbox))["data"]["resource"]["uri"]
    out = await runtime.invoke_action(
        "calendly.getWebhookSubscription", {"connection": connection, "webhookUuid": uri}
    )
    check_output(webhooks.GET_WEBHOOK, out)
    assert out["data"]["resource"]["uri"] == uri
    assert (
        api_calls(sandbox, method="GET")[-1]["path"]
        == "/webhook_subscriptions/" + uri.rsplit("/")[-1]
    )


@pytest.mark.asyncio
async def test_get_unknown_is_404(runtime: Runtime, connection: ConnectionHandle) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.getWebhookSubscription", {"connection": connection, "webhookUuid": "NOPE"}
        )
    assert info.value.status == 404


@pytest.mark.asyncio
async def test_list_follows_pages_with_count_100(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    for i in range(3):
        await create(runtime, connection, sandbox, url=f"{HOOK_URL}/{i}")
    out = await runtime.invoke_action(
        "calendly.listWebhookSubscription",
        {
            "connection": connection,
            "organization": sandbox.org_uri(),
            "scope": "organization",
            "sort": "created_at:desc",
        },
    )
    check_output(webhooks.LIST_WEBHOOKS, out)
    call = api_calls(sandbox, method="GET")[-1]
    assert call["path"] == "/webhook_subscriptions"
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "scope": "organization",
        "sort": "created_at:desc",
        "count": "100",
    }
    urls = [h["callback_url"] for h in out["data"]]
    assert {f"{HOOK_URL}/{i}" for i in range(3)} <= set(urls)
    # the seeded, disabled subscription is listed too
    assert any(h["state"] == "disabled" for h in out["data"])


@pytest.mark.asyncio
async def test_list_user_scope_and_limit(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    for i in range(2):
        await create(
            runtime,
            connection,
            sandbox,
            url=f"{HOOK_URL}/{i}",
            scope="user",
            user=sandbox.user_uri(sandbox.owner),
        )
    out = await runtime.invoke_action(
        "calendly.listWebhookSubscription",
        {
            "connection": connection,
            "organization": sandbox.org_uri(),
            "scope": "user",
            "user": sandbox.owner.uuid,
            "limit": 1,
        },
    )
    assert len(out["data"]) == 1 and out["data"][0]["scope"] == "user"
    call = api_calls(sandbox, method="GET")[-1]
    assert call["query"]["user"] == sandbox.user_uri(sandbox.owner)
    assert call["query"]["count"] == "1"


@pytest.mark.asyncio
async def test_list_on_the_free_plan_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_plan("free")
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.listWebhookSubscription",
            {"connection": connection, "organization": sandbox.org_uri(), "scope": "organization"},
        )
    assert info.value.status == 403


@pytest.mark.asyncio
async def test_delete_and_delete_again_both_succeed(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Deleting a subscription that is already gone is success, not an error."""
    uri = (await create(runtime, connection, sandbox))["data"]["resource"]["uri"]
    for _ in range(2):
        out = await runtime.invoke_action(
            "calendly.deleteWebhookSubscription", {"connection": connection, "webhookUuid": uri}
        )
        check_output(webhooks.DELETE_WEBHOOK, out)
        assert out == {"data": None}
    deletes = api_calls(sandbox, method="DELETE")
    assert [d["path"] for d in deletes] == ["/webhook_subscriptions/" + uri.rsplit("/")[-1]] * 2
    assert uri.rsplit("/")[-1] not in sandbox.state.webhooks


@pytest.mark.asyncio
async def test_delete_other_errors_still_raise(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    uri = (await create(runtime, connection, sandbox))["data"]["resource"]["uri"]
    sandbox.set_faults(error_rate_5xx=1.0)
    with pytest.raises(RetriableApiError) as info:
        await runtime.invoke_action(
            "calendly.deleteWebhookSubscription", {"connection": connection, "webhookUuid": uri}
        )
    assert info.value.status == 500


@pytest.mark.asyncio
async def test_delete_instanced_webhooks_deletes_every_match(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """Every subscription of this instance goes, not only the first match."""
    mine = [f"{HOOK_URL}/{i}" for i in range(3)]
    for url in [*mine, "https://elsewhere.example.com/hook"]:
        await create(runtime, connection, sandbox, url=url)
    out = await runtime.invoke_action(
        "calendly.deleteInstancedWebhooks",
        {
            "connection": connection,
            "organization": sandbox.org_uri(),
            "scope": "organization",
            "webhookUrls": mine[1:],
        },
        webhook_url=mine[0],  # run for a deployed trigger: its own URL counts too
    )
    check_output(webhooks.DELETE_INSTANCED, out)
    assert len(out["data"]["deleted"]) == 3
    left = {h.url for h in sandbox.state.webhooks.values()}
    assert not left & set(mine)
    assert "https://elsewhere.example.com/hook" in left
    assert len(api_calls(sandbox, method="DELETE")) == 3


@pytest.mark.asyncio
async def test_delete_instanced_webhooks_needs_a_url(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as info:
        await runtime.invoke_action(
            "calendly.deleteInstancedWebhooks",
            {"connection": connection, "organization": sandbox.org_uri(), "scope": "organization"},
        )
    assert info.value.problems[0].path == "$.webhookUrls"
    assert api_calls(sandbox) == []
