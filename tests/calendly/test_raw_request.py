"""rawRequest against the sandbox: bodies, response types, retries, host pinning, debug log."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from calendly_support import api_calls, check_output
from structlog.testing import capture_logs

from components.calendly.actions.raw import RAW_REQUEST
from components.calendly.sandbox import Sandbox
from runtime import (
    ConfigurationError,
    ConnectionHandle,
    FatalApiError,
    InputValidationError,
    RetriableApiError,
    Runtime,
)


async def raw(runtime: Runtime, connection: ConnectionHandle, **inputs: Any) -> Any:
    return await runtime.invoke_action(
        "calendly.rawRequest", {"connection": connection, "method": "GET", **inputs}
    )


@pytest.mark.asyncio
async def test_get_json_with_query_and_headers(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await raw(
        runtime,
        connection,
        url="/organization_memberships",
        queryParams=[
            {"key": "organization", "value": sandbox.org_uri()},
            {"key": "count", "value": "2"},
        ],
        headers=[{"key": "X-Trace", "value": "abc"}],
    )
    check_output(RAW_REQUEST, out)
    assert out["status"] == 200
    assert len(out["data"]["collection"]) == 2
    assert out["headers"]["content-type"].startswith("application/json")
    (call,) = api_calls(sandbox)
    assert call["query"] == {"organization": sandbox.org_uri(), "count": "2"}
    assert call["headers"]["x-trace"] == "abc"


@pytest.mark.asyncio
async def test_post_json_body(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    path = f"/organizations/{sandbox.organization.uuid}/invitations"
    out = await raw(
        runtime, connection, method="POST", url=path, data='{"email": "raw.invite@example.com"}'
    )
    assert out["status"] == 201
    assert out["data"]["resource"]["email"] == "raw.invite@example.com"
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"], call["json"]) == (
        "POST",
        path,
        {"email": "raw.invite@example.com"},
    )


@pytest.mark.asyncio
async def test_data_must_be_json(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as caught:
        await raw(runtime, connection, method="POST", url="/x", data="{not json")
    assert [p.path for p in caught.value.problems] == ["$.data"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_text_and_binary_responses(runtime: Runtime, connection: ConnectionHandle) -> None:
    text = await raw(runtime, connection, url="/users/me", responseType="text")
    binary = await raw(runtime, connection, url="/users/me", responseType="binary")
    assert isinstance(text["data"], str)
    assert json.loads(text["data"])["resource"]["slug"] == "olivia-owner"
    assert base64.b64decode(binary["data"]).decode() == text["data"]


@pytest.mark.asyncio
async def test_form_and_multipart_bodies(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    path = f"/organizations/{sandbox.organization.uuid}/invitations"
    with pytest.raises(FatalApiError):  # Calendly takes JSON only; the request is what matters
        await raw(
            runtime,
            connection,
            method="POST",
            url=path,
            formData=[{"key": "email", "value": "form@example.com"}],
        )
    with pytest.raises(FatalApiError):
        await raw(
            runtime,
            connection,
            method="POST",
            url=path,
            formData=[{"key": "note", "value": "hello"}],
            fileData=[{"key": "upload", "value": "My File Contents"}],
            fileDataFileNames=[{"key": "upload", "value": "example.txt"}],
        )
    form, multipart = api_calls(sandbox)
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert form["json"] == "email=form%40example.com"
    assert multipart["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="upload"; filename="example.txt"' in multipart["json"]
    assert "My File Contents" in multipart["json"]
    assert 'name="note"' in multipart["json"]


@pytest.mark.asyncio
async def test_other_hosts_are_refused(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """The token never leaves Calendly's host."""
    with pytest.raises(ConfigurationError, match="another host"):
        await raw(runtime, connection, url="https://evil.example.com/users/me")
    assert sandbox.requests == [r for r in sandbox.requests if r["path"].startswith("/oauth")]
    same_host = await raw(runtime, connection, url=f"{sandbox.config.base_url}/users/me")
    assert same_host["status"] == 200


@pytest.mark.asyncio
async def test_no_retries_by_default(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_faults(error_rate_5xx=1.0)
    with pytest.raises(RetriableApiError):
        await raw(runtime, connection, url="/users/me")
    assert len(api_calls(sandbox)) == 1


@pytest.mark.asyncio
async def test_retries_with_fixed_delay(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_faults(error_rate_5xx=1.0)
    before = runtime.clock.time()
    with pytest.raises(RetriableApiError) as caught:
        await raw(runtime, connection, url="/users/me", maxRetries="2", retryDelayMS="1500")
    assert caught.value.status == 500
    assert len(api_calls(sandbox)) == 3
    assert runtime.clock.time() - before == pytest.approx(3.0)


@pytest.mark.asyncio
async def test_retries_with_exponential_backoff(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_faults(error_rate_5xx=1.0)
    before = runtime.clock.time()
    with pytest.raises(RetriableApiError):
        await raw(
            runtime,
            connection,
            url="/users/me",
            maxRetries=3,
            retryDelayMS="99999",
            useExponentialBackoff=True,
        )
    assert len(api_calls(sandbox)) == 4
    assert runtime.clock.time() - before == pytest.approx(1.0 + 2.0 + 4.0)


@pytest.mark.asyncio
async def test_retry_then_success(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sandbox.set_faults(error_rate_429=0.3, error_rate_5xx=0.3, seed=3)
    out = await raw(runtime, connection, url="/users/me", maxRetries="10")
    assert out["data"]["resource"]["slug"] == "olivia-owner"
    assert len(api_calls(sandbox)) > 1


@pytest.mark.asyncio
async def test_client_errors_retried_only_when_asked(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(FatalApiError) as caught:
        await raw(runtime, connection, url="/users/NOSUCHUSER", maxRetries="2")
    assert caught.value.status == 404
    assert len(api_calls(sandbox)) == 1
    with pytest.raises(FatalApiError):
        await raw(runtime, connection, url="/users/NOSUCHUSER", maxRetries="2", retryAllErrors=True)
    assert len(api_calls(sandbox)) == 1 + 3


@pytest.mark.asyncio
async def test_numeric_inputs_are_checked(runtime: Runtime, connection: ConnectionHandle) -> None:
    with pytest.raises(InputValidationError) as caught:
        await raw(
            runtime,
            connection,
            url="/users/me",
            maxRetries="three",
            timeout="-1",
            responseType="xml",
        )
    assert sorted(p.path for p in caught.value.problems) == [
        "$.maxRetries",
        "$.responseType",
        "$.timeout",
    ]


@pytest.mark.asyncio
async def test_debug_log_redacts_the_token(runtime: Runtime, connection: ConnectionHandle) -> None:
    token = await runtime.token_store.load(connection.store_key)
    assert token is not None
    with capture_logs() as logs:
        await raw(
            runtime,
            connection,
            url="/users/me",
            debugRequest=True,
            timeout="2000",
            headers=[
                {"key": "Authorization", "value": "Bearer user-supplied-secret"},
                {"key": "X-Trace", "value": "abc"},
            ],
        )
    (entry,) = [e for e in logs if e["event"] == "calendly raw request"]
    assert entry["log_level"] == "warning"  # visible at relay's default log level
    assert entry["method"] == "GET"
    assert entry["url"].endswith("/users/me")
    assert entry["headers"]["Authorization"] == "Bearer [redacted]"
    assert entry["headers"]["X-Trace"] == "abc"
    assert entry["timeout"] == 2.0
    assert token.access_token not in repr(logs)
    assert "user-supplied-secret" not in repr(logs)


@pytest.mark.asyncio
async def test_no_log_without_debug(runtime: Runtime, connection: ConnectionHandle) -> None:
    with capture_logs() as logs:
        await raw(runtime, connection, url="/users/me")
    assert not [e for e in logs if e["event"] == "calendly raw request"]


@pytest.mark.asyncio
async def test_data_nested_too_deeply_is_an_input_problem(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputValidationError) as caught:
        await raw(runtime, connection, method="POST", url="/x", data=deep)
    assert [p.path for p in caught.value.problems] == ["$.data"]
    assert "nested too deeply" in caught.value.problems[0].message
    assert api_calls(sandbox) == []  # nothing was sent
