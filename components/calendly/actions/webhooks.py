"""Webhook subscription actions: create, get, list, delete, and delete this instance's.

Each repeats safely: creating a subscription that already exists returns it, and deleting one
that is already gone succeeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    NO_CONTENT_OUTPUT,
    flagged,
    limit_of,
    list_output,
    obj,
    org_ref,
    resource_output,
    user_ref,
)
from components.calendly.actions._subscriptions import (
    CALENDLY_EVENTS,
    CALLBACK_URL_SCHEMA,
    PATH,
    SCOPE_CHOICES,
    WEBHOOK,
    create_subscription,
    delete_if_present,
    delete_matching,
    find_matching,
    list_subscriptions,
    spec_from_params,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, LIMIT, SORT_SCHEMA, uuid_input
from components.calendly.rules import USER_FOR_USER_SCOPE, check
from runtime import Action, ApiError, Choice, Input, InputValidationError, Problem

if TYPE_CHECKING:
    from components.calendly.actions._subscriptions import SubscriptionSpec
    from runtime import Context

_USER_EXAMPLE = "https://api.calendly.com/users/EBHAAFHDCAEQTSEZ"
_SIGNING_KEY_COMMENTS = (
    "Optional secret key shared between your application and Calendly. See "
    "https://developer.calendly.com/api-docs/ZG9jOjM2MzE2MDM4-webhook-signatures for "
    "additional information."
)


def scope_input(comments: str) -> Input:
    """The required ``scope`` input: organization or user."""
    return Input(
        key="scope", label="Scope", required=True, comments=comments, choices=SCOPE_CHOICES
    )


def signing_key_input() -> Input:
    """The optional ``signingKey`` input (a string in the reference, kept as such)."""
    return Input(key="signingKey", label="Signing Key", comments=_SIGNING_KEY_COMMENTS)


def subscription_owner_inputs(
    org_comments: str, user_comments: str, scope_comments: str
) -> tuple[Input, Input, Input]:
    """``organization``, ``scope`` and ``user``, as every webhook input set declares them."""
    return (
        org_ref(required=True, comments=org_comments),
        scope_input(scope_comments),
        user_ref(comments=user_comments, example=_USER_EXAMPLE),
    )


WEBHOOK_UUID = uuid_input("webhookUuid", "Webhook UUID", comments="The subscription's URI or UUID.")


def _client(ctx: Context, params: dict[str, Any]) -> CalendlyClient:
    return CalendlyClient(ctx, params["connection"])


def _user_uri(client: CalendlyClient, params: dict[str, Any]) -> str | None:
    user = params.get("user")
    return client.uri("users", user) if user else None


async def create_webhook(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Create a subscription as asked.

    Calendly answers 409 for a URL it already delivers to. When an active subscription of the
    same owner already delivers the same events to that URL, it is the result (the signing key
    cannot be compared: Calendly never returns it); any other 409 is surfaced as is.
    """
    check("createWebhookSubscription", params, USER_FOR_USER_SCOPE)
    client = _client(ctx, params)
    spec = spec_from_params(
        client,
        params,
        url=params["url"],
        events=params["event"],
        signing_key=params.get("signingKey"),
    )
    try:
        created = await create_subscription(client, spec)
    except ApiError as exc:
        if exc.status != 409:
            raise
        existing = await _existing(client, spec)
        if existing is None:
            raise
        return {"data": {"resource": existing}, "alreadyExisted": True}
    return {"data": created, "alreadyExisted": False}


async def _existing(client: CalendlyClient, spec: SubscriptionSpec) -> dict[str, Any] | None:
    # a list that cannot be read leaves the 409 as the better error
    try:
        return await find_matching(client, spec)
    except ApiError:
        return None


async def get_webhook(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """One subscription."""
    client = _client(ctx, params)
    return {"data": await client.get(f"{PATH}/{params['webhookUuid']}")}


async def list_webhooks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Every subscription of the organization or user, all pages."""
    check("listWebhookSubscription", params, USER_FOR_USER_SCOPE)
    client = _client(ctx, params)
    items = await list_subscriptions(
        client,
        client.uri("organizations", params["organization"]),
        params["scope"],
        _user_uri(client, params),
        sort=params.get("sort"),
        limit=limit_of(params),
    )
    return {"data": items}


async def delete_webhook(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Delete a subscription; one already gone counts as deleted (undeploys and retries repeat)."""
    await delete_if_present(_client(ctx, params), params["webhookUuid"])
    return {"data": None}


async def delete_instanced_webhooks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Delete every subscription pointing at this instance, not only the first."""
    check("deleteInstancedWebhooks", params, USER_FOR_USER_SCOPE)
    urls = set(params.get("webhookUrls") or ())
    if ctx.webhook_url:
        urls.add(ctx.webhook_url)
    if not urls:
        raise InputValidationError(
            "invalid inputs for calendly.deleteInstancedWebhooks",
            [
                Problem(
                    "is required when the step does not run for a deployed webhook trigger",
                    "$.webhookUrls",
                )
            ],
        )
    client = _client(ctx, params)
    deleted = await delete_matching(
        client,
        client.uri("organizations", params["organization"]),
        params["scope"],
        _user_uri(client, params),
        urls,
    )
    return {"data": {"deleted": deleted}}


_ORG_COMMENTS = "The unique reference to the organization that the webhook will be tied to."
_USER_COMMENTS = "The unique reference to the user that the webhook will be tied to."

CREATE_WEBHOOK = Action(
    key="createWebhookSubscription",
    label="Create Webhook Subscription",
    description=(
        "Create a Webhook Subscription for an Organization or User. If the same subscription "
        "(URL, events, scope, organization, user) already exists, the result is that one, with "
        "alreadyExisted true."
    ),
    inputs=(
        CONNECTION,
        Input(
            key="event",
            label="Event",
            required=True,
            collection="valuelist",
            comments="Event to subscribe to.",
            example=(
                "invitee.canceled, invitee.created, invitee_no_show.created, "
                "routing_form_submission.created"
            ),
            choices=tuple(Choice(value=event, label=event) for event in CALENDLY_EVENTS),
        ),
        org_ref(required=True, comments=_ORG_COMMENTS),
        scope_input(
            "Indicates if the webhook subscription scope will be 'organization' or 'user'."
        ),
        signing_key_input(),
        Input(
            key="url",
            label="URL",
            required=True,
            comments="The URL where you want to receive POST requests for events you are "
            "subscribed to.",
            schema=CALLBACK_URL_SCHEMA,
        ),
        user_ref(comments=_USER_COMMENTS, example=_USER_EXAMPLE),
    ),
    perform=create_webhook,
    output_schema=flagged(resource_output(WEBHOOK), "alreadyExisted"),
)

GET_WEBHOOK = Action(
    key="getWebhookSubscription",
    label="Get Webhook Subscription",
    description="Get a specified Webhook Subscription.",
    inputs=(CONNECTION, WEBHOOK_UUID),
    perform=get_webhook,
    read_only=True,
    output_schema=resource_output(WEBHOOK),
)

LIST_WEBHOOKS = Action(
    key="listWebhookSubscription",
    label="List Webhook Subscription",
    description="Get a list of Webhook Subscriptions for a specified Organization or User.",
    inputs=(
        CONNECTION,
        org_ref(
            required=True, comments="Indicates if the results should be filtered by organization"
        ),
        scope_input("Filter the list by organization or user"),
        Input(
            key="sort",
            label="Sort",
            comments=(
                "Order results by the specified field and direction. Accepts comma-separated list "
                "of {field}:{direction} values. Supported fields are: created_at. Sort direction "
                "is specified as: asc, desc."
            ),
            schema=SORT_SCHEMA,
        ),
        user_ref(
            comments=(
                "Indicates if the results should be filtered by user. This "
                "parameter is only required if the scope parameter is set to user."
            ),
            example=_USER_EXAMPLE,
        ),
        LIMIT,
    ),
    perform=list_webhooks,
    read_only=True,
    output_schema=list_output(WEBHOOK),
)

DELETE_WEBHOOK = Action(
    key="deleteWebhookSubscription",
    label="Delete Webhook Subscription",
    description="Delete a Webhook Subscription. One that is already gone counts as deleted.",
    inputs=(CONNECTION, WEBHOOK_UUID),
    perform=delete_webhook,
    output_schema=NO_CONTENT_OUTPUT,
)

DELETE_INSTANCED = Action(
    key="deleteInstancedWebhooks",
    label="Delete Instanced Webhooks",
    description="Delete all webhooks that point to a flow in this instance.",
    inputs=(
        CONNECTION,
        org_ref(required=True, comments="Organization to delete webhooks from"),
        scope_input("Organization or user webhooks to delete"),
        user_ref(
            comments="User to delete webhooks from. Required if scope is set to user.",
            example=_USER_EXAMPLE,
        ),
        Input(
            key="webhookUrls",
            label="Webhook URLs",
            collection="valuelist",
            comments=(
                "The webhook URLs of this instance's flows. A step run for a deployed "
                "webhook trigger adds that trigger's URL itself."
            ),
            example="https://relay.example.com/webhooks/INSTANCE/FLOW",
        ),
    ),
    perform=delete_instanced_webhooks,
    output_schema=obj(
        ("data",), data=obj(("deleted",), deleted={"type": "array", "items": {"type": "string"}})
    ),
)

ACTIONS: tuple[Action, ...] = (
    CREATE_WEBHOOK,
    GET_WEBHOOK,
    LIST_WEBHOOKS,
    DELETE_WEBHOOK,
    DELETE_INSTANCED,
)
