"""Routing forms and their submissions against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import routing_forms as rf
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, FatalApiError, Runtime


def published_form(sandbox: Sandbox) -> Any:
    return next(
        f
        for f in sandbox.state.routing_forms.values()
        if f.status == "published" and f.org_uuid == sandbox.organization.uuid
    )


def uri(sandbox: Sandbox, collection: str, uuid: str) -> str:
    return f"{sandbox.config.base_url}/{collection}/{uuid}"


@pytest.mark.asyncio
async def test_list_forms(runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox) -> None:
    out = await runtime.invoke_action(
        "calendly.listRoutingForms",
        {
            "connection": connection,
            "organization": sandbox.organization.uuid,
            "sort": "created_at:desc",
        },
    )
    check_output(rf.LIST_FORMS, out)
    (call,) = api_calls(sandbox)
    assert call["path"] == "/routing_forms"
    assert call["query"] == {
        "organization": sandbox.org_uri(),
        "sort": "created_at:desc",
        "count": "100",
    }
    expected = [
        f for f in sandbox.state.routing_forms.values() if f.org_uuid == sandbox.organization.uuid
    ]
    assert {f["name"] for f in out["data"]} == {f.name for f in expected}
    created = [f["created_at"] for f in out["data"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.asyncio
async def test_list_forms_bad_sort_is_400(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.listRoutingForms",
            {"connection": connection, "organization": sandbox.org_uri(), "sort": "name:asc"},
        )
    assert info.value.status == 400
    assert info.value.details[0]["parameter"] == "sort"


@pytest.mark.asyncio
async def test_list_forms_of_another_organization_is_403(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    other = next(o for o in sandbox.state.organizations if o != sandbox.organization.uuid)
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.listRoutingForms", {"connection": connection, "organization": other}
        )
    assert info.value.status == 403


@pytest.mark.asyncio
async def test_get_form(runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox) -> None:
    form = published_form(sandbox)
    out = await runtime.invoke_action(
        "calendly.getRoutingForm",
        {"connection": connection, "uuid": f"https://api.calendly.com/routing_forms/{form.uuid}"},
    )
    check_output(rf.GET_FORM, out)
    (call,) = api_calls(sandbox)
    assert (call["method"], call["path"]) == ("GET", f"/routing_forms/{form.uuid}")
    resource = out["data"]["resource"]
    assert resource["uri"] == uri(sandbox, "routing_forms", form.uuid)
    assert [q["name"] for q in resource["questions"]] == [q["name"] for q in form.questions]


@pytest.mark.asyncio
async def test_get_unknown_form_is_404(runtime: Runtime, connection: ConnectionHandle) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.getRoutingForm", {"connection": connection, "uuid": "NOPE"}
        )
    assert info.value.status == 404


@pytest.mark.asyncio
async def test_list_submissions_follows_every_page(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    form = published_form(sandbox)
    for i in range(120):  # more than one page of 100
        sandbox.submit_routing_form(form.uuid, {"Email": f"lead{i}@example.org"})
    out = await runtime.invoke_action(
        "calendly.listRoutingFormSubmissions",
        {"connection": connection, "form": form.uuid, "sort": "created_at:asc"},
    )
    check_output(rf.LIST_SUBMISSIONS, out)
    calls = api_calls(sandbox)
    assert [c["path"] for c in calls] == ["/routing_form_submissions"] * 2
    assert calls[0]["query"] == {
        "form": uri(sandbox, "routing_forms", form.uuid),
        "sort": "created_at:asc",
        "count": "100",
    }
    assert "page_token" in calls[1]["query"]
    expected = sum(1 for s in sandbox.state.submissions.values() if s.form_uuid == form.uuid)
    assert len(out["data"]) == expected >= 120
    assert len({s["uri"] for s in out["data"]}) == expected


@pytest.mark.asyncio
async def test_list_submissions_limit(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listRoutingFormSubmissions",
        {"connection": connection, "form": published_form(sandbox).uuid, "limit": 3},
    )
    assert len(out["data"]) == 3
    assert api_calls(sandbox)[0]["query"]["count"] == "3"


@pytest.mark.asyncio
async def test_get_submission(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    form = published_form(sandbox)
    submitted = sandbox.submit_routing_form(form.uuid, {"What is your industry?": "Entertainment"})
    out = await runtime.invoke_action(
        "calendly.getRoutingFormSubmission", {"connection": connection, "uuid": submitted["uri"]}
    )
    check_output(rf.GET_SUBMISSION, out)
    (call,) = api_calls(sandbox)
    assert call["path"] == "/routing_form_submissions/" + submitted["uri"].rsplit("/", 1)[1]
    resource = out["data"]["resource"]
    assert resource["routing_form"] == uri(sandbox, "routing_forms", form.uuid)
    answers = {qa["question"]: qa["answer"] for qa in resource["questions_and_answers"]}
    assert answers["What is your industry?"] == "Entertainment"


@pytest.mark.asyncio
async def test_get_unknown_submission_is_404(
    runtime: Runtime, connection: ConnectionHandle
) -> None:
    with pytest.raises(FatalApiError) as info:
        await runtime.invoke_action(
            "calendly.getRoutingFormSubmission", {"connection": connection, "uuid": "NOPE"}
        )
    assert info.value.status == 404
