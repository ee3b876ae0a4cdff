"""Routing form actions: forms of an organization and their submissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from components.calendly.actions._common import (
    STR,
    STR_OR_NULL,
    UUID_EXAMPLE,
    Schema,
    limit_of,
    list_output,
    obj,
    org_ref,
    ref_input,
    resource_output,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, LIMIT, SORT_SCHEMA, uuid_input
from runtime import Action, Input

if TYPE_CHECKING:
    from runtime import Context

_QUESTION: Schema = obj(
    ("uuid", "name", "type"),
    uuid=STR,
    name=STR,
    type=STR,
    required={"type": "boolean"},
    answer_choices={"type": ["array", "null"], "items": STR},
)
ROUTING_FORM: Schema = obj(
    ("uri", "organization", "name", "status", "questions"),
    uri=STR,
    organization=STR,
    name=STR,
    status=STR,
    questions={"type": "array", "items": _QUESTION},
    created_at=STR,
    updated_at=STR,
)
SUBMISSION: Schema = obj(
    ("uri", "routing_form", "questions_and_answers"),
    uri=STR,
    routing_form=STR,
    questions_and_answers={
        "type": "array",
        "items": obj(("question",), question_uuid=STR, question=STR, answer=STR_OR_NULL),
    },
    tracking={"type": ["object", "null"]},
    result={"type": ["object", "null"]},
    submitter=STR_OR_NULL,
    submitter_type=STR_OR_NULL,
    created_at=STR,
    updated_at=STR,
)


def _sort(fields: str, example: str | None = None) -> Input:
    return Input(
        key="sort",
        label="Sort",
        example=example,
        comments=(
            f"Order results by the specified field and direction. {fields}Supported fields are: "
            "created_at. Sort direction is specified as: asc, desc."
        ),
        schema=SORT_SCHEMA,
    )


async def get_form(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /routing_forms/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/routing_forms/{params['uuid']}")}


async def list_forms(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Every routing form of the organization, all pages."""
    client = CalendlyClient(ctx, params["connection"])
    query = {
        "organization": client.uri("organizations", params["organization"]),
        "sort": params.get("sort"),
    }
    return {"data": await client.paginate("/routing_forms", query, limit=limit_of(params))}


async def get_submission(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /routing_form_submissions/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/routing_form_submissions/{params['uuid']}")}


async def list_submissions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Every submission of one routing form, all pages."""
    client = CalendlyClient(ctx, params["connection"])
    query = {"form": client.uri("routing_forms", params["form"]), "sort": params.get("sort")}
    return {
        "data": await client.paginate("/routing_form_submissions", query, limit=limit_of(params))
    }


GET_FORM = Action(
    key="getRoutingForm",
    label="Get Routing Form",
    description="Get a specified Routing Form.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE, data_source="routingForms")),
    perform=get_form,
    read_only=True,
    output_schema=resource_output(ROUTING_FORM),
)

LIST_FORMS = Action(
    key="listRoutingForms",
    label="List Routing Forms",
    description="Get a list of Routing Forms for a specified Organization.",
    inputs=(
        CONNECTION,
        org_ref(
            required=True,
            comments=("View organization routing forms associated with the organization's URI."),
        ),
        _sort(
            "Accepts comma-separated list of {field}:{direction} values. ",
            example="created_at:desc",
        ),
        LIMIT,
    ),
    perform=list_forms,
    read_only=True,
    output_schema=list_output(ROUTING_FORM),
)

GET_SUBMISSION = Action(
    key="getRoutingFormSubmission",
    label="Get Routing Form Submission",
    description="Get a specified Routing Form Submission.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE)),
    perform=get_submission,
    read_only=True,
    output_schema=resource_output(SUBMISSION),
)

LIST_SUBMISSIONS = Action(
    key="listRoutingFormSubmissions",
    label="List Routing Form Submissions",
    description="Get a list of Routing Form Submissions for a specified Routing Form.",
    inputs=(
        CONNECTION,
        attrs.evolve(
            ref_input(
                "form",
                "Form",
                required=True,
                comments=("View routing form submissions associated with the routing form's URI."),
                example="https://api.calendly.com/routing_forms/AAAAAAAAAAAAAAAA",
            ),
            data_source="routingForms",
        ),
        _sort(""),
        LIMIT,
    ),
    perform=list_submissions,
    read_only=True,
    output_schema=list_output(SUBMISSION),
)

ACTIONS: tuple[Action, ...] = (GET_FORM, LIST_FORMS, GET_SUBMISSION, LIST_SUBMISSIONS)
