"""Calendly triggers: ``calendlyTrigger`` (webhooks) and ``pollChangesTrigger`` (polling).

The webhook trigger verifies every delivery's signature and manages its subscription
idempotently (a redeploy reuses it, an undeploy of one already gone succeeds). The polling
trigger keeps a cursor and asks Calendly only for events that can have changed since the last
poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import current_user, org_ref, user_ref
from components.calendly.actions._subscriptions import (
    WEBHOOK_EVENTS,
    create_or_reuse,
    delete_if_present,
    delete_matching,
    derive_signing_key,
    spec_from_params,
)
from components.calendly.actions.webhooks import scope_input, signing_key_input
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION
from components.calendly.rules import USER_FOR_USER_SCOPE, check
from components.calendly.signature import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    SignatureError,
    verify,
)
from runtime import (
    Choice,
    ConfigurationError,
    Input,
    PollResult,
    Trigger,
    TriggerEvent,
    WebhookRejected,
    WebhookRequest,
)

if TYPE_CHECKING:
    from runtime import Context

# --- webhook trigger ------------------------------------------------------------------------

#: Headers handed to the flow: never credentials, cookies or proxy internals.
SAFE_HEADERS = ("content-type", "user-agent", SIGNATURE_HEADER.lower())
#: A Calendly envelope is a few kilobytes; refuse to parse anything absurd.
MAX_BODY = 1_000_000


def _signing_key(ctx: Context, params: Mapping[str, Any], url: str) -> str:
    """The key deliveries are signed with: what deploy stored, else the input, else the key
    deploy would have derived for this URL."""
    stored = ctx.deploy_state.get("signingKey")
    if isinstance(stored, str) and stored:
        return stored
    given = params.get("signingKey")
    if isinstance(given, str) and given:
        return given
    return derive_signing_key(params["connection"], url)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _envelope(body: bytes) -> dict[str, Any]:
    """The parsed delivery; ``WebhookRejected(400)`` when it is not a Calendly envelope."""
    if len(body) > MAX_BODY:
        raise WebhookRejected("body too large for a Calendly webhook", status=400)
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WebhookRejected("body is not JSON", status=400) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), str):
        raise WebhookRejected("body is not a Calendly webhook envelope", status=400)
    return parsed


async def on_webhook(
    ctx: Context, request: WebhookRequest, params: dict[str, Any]
) -> TriggerEvent | None:
    """Verify, parse and route one delivery; unselected events are accepted and ignored."""
    headers = _lower_headers(request.headers)
    key = _signing_key(ctx, params, ctx.webhook_url or request.url)
    try:
        verify(
            key,
            headers.get(SIGNATURE_HEADER.lower()),
            request.body,
            now=request.received_at,
            tolerance=params.get("tolerance", DEFAULT_TOLERANCE),
        )
    except SignatureError as exc:
        raise WebhookRejected(exc.reason, status=401) from None
    envelope = _envelope(request.body)
    event = envelope["event"]
    if event not in params["eventNamesInput"]:
        return None
    safe = {name: headers[name] for name in SAFE_HEADERS if name in headers}
    return TriggerEvent(payload={"headers": safe, "body": envelope}, branch=event)


async def on_deploy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Subscribe this flow's webhook URL, reusing an identical subscription (redeploys)."""
    check("calendlyTrigger", params, USER_FOR_USER_SCOPE)
    if not ctx.webhook_url:
        raise ConfigurationError("calendlyTrigger needs the flow's webhook URL to deploy")
    client = CalendlyClient(ctx, params["connection"])
    key = params.get("signingKey") or derive_signing_key(params["connection"], ctx.webhook_url)
    spec = spec_from_params(
        client, params, url=ctx.webhook_url, events=params["eventNamesInput"], signing_key=key
    )
    resource, reused = await create_or_reuse(client, spec)
    return {"subscription": resource["uri"], "signingKey": key, "reused": reused}


async def on_undeploy(ctx: Context, params: dict[str, Any]) -> None:
    """Delete the subscription; one already gone is fine."""
    client = CalendlyClient(ctx, params["connection"])
    uri = ctx.deploy_state.get("subscription")
    if isinstance(uri, str) and uri:
        await delete_if_present(client, uri)
        return
    if ctx.webhook_url:  # deployed by an older version that kept no state: find it by URL
        user = params.get("user")
        await delete_matching(
            client,
            client.uri("organizations", params["organization"]),
            params["scope"],
            client.uri("users", user) if user else None,
            {ctx.webhook_url},
        )


CALENDLY_TRIGGER = Trigger(
    key="calendlyTrigger",
    label="Scheduled Event",
    description="Receive data from scheduled events in real time with webhook subscriptions.",
    kind="webhook",
    inputs=(
        CONNECTION,
        Input(
            key="eventNamesInput",
            label="Webhook Event Name",
            required=True,
            collection="valuelist",
            choices=tuple(Choice(value=name, label=name) for name in WEBHOOK_EVENTS),
            comments="The events that start the flow (one branch per event).",
        ),
        org_ref(
            required=True,
            comments=("The unique reference to the organization that the webhook will be tied to."),
        ),
        scope_input(
            "Indicates if the webhook subscription scope will be 'organization' or 'user'."
        ),
        signing_key_input(),
        user_ref(
            comments="The unique reference to the user that the webhook will be tied to.",
            example="https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
        ),
        Input(
            key="tolerance",
            label="Signature Tolerance",
            type="integer",
            default=DEFAULT_TOLERANCE,
            comments=(
                "Seconds a delivery's signed timestamp may differ from the time it "
                "arrives; older deliveries are rejected as replays."
            ),
            schema={"minimum": 1, "maximum": 86400},
        ),
    ),
    perform=on_webhook,
    on_deploy=on_deploy,
    on_undeploy=on_undeploy,
    branches=WEBHOOK_EVENTS,
    # kept with each delivery record, so a recorded delivery can be verified again
    kept_headers=(SIGNATURE_HEADER.lower(),),
    # a redelivery is the same event about the same resource at the same time, whatever its
    # bytes (Calendly signs each attempt anew; a proxy may re-serialize the JSON)
    dedupe_key=("body.event", "body.payload.uri", "body.created_at"),
)

# --- polling trigger ------------------------------------------------------------------------

#: Each poll re-reads this many seconds before the last one (deduplicated through the cursor)
#: so a change stamped slightly before our clock said "now" is not lost to clock skew.
OVERLAP = 60.0


def _epoch(value: str) -> float:
    """ISO 8601 (``Z`` or offset; a bare date is midnight UTC) to epoch seconds."""
    text = value.strip()
    if len(text) == 10:
        text += "T00:00:00"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean_look_back(value: Any) -> str:
    """A date or date-time, normalised to Calendly's timestamp format."""
    try:
        return _iso(_epoch(str(value)))
    except ValueError:
        raise ValueError("is not a date (YYYY-MM-DD) or an ISO 8601 date-time") from None


def _change_key(event: Mapping[str, Any]) -> str:
    """One version of one event: the same event updated again is a new change."""
    return f"{event.get('uri')}@{event.get('updated_at')}"


def _load_cursor(cursor: Any) -> dict[str, Any] | None:
    if isinstance(cursor, Mapping) and isinstance(cursor.get("since"), str):
        return dict(cursor)
    return None


async def _owner_filter(
    client: CalendlyClient, params: Mapping[str, Any], cursor: Mapping[str, Any] | None
) -> dict[str, str]:
    """Whose events to watch: the inputs, else the connected user (looked up once)."""
    query: dict[str, str] = {}
    if params.get("organization"):
        query["organization"] = client.uri("organizations", params["organization"])
    if params.get("user"):
        query["user"] = client.uri("users", params["user"])
    if not query:
        remembered = (cursor or {}).get("user")
        query["user"] = (
            remembered if isinstance(remembered, str) else str((await current_user(client))["uri"])
        )
    return query


def _classify(event: Mapping[str, Any], since: float) -> str:
    return "created" if _epoch(str(event["created_at"])) >= since else "updated"


async def poll_changes(ctx: Context, params: dict[str, Any], cursor: Any) -> PollResult:
    """Scheduled events created or updated since the last poll.

    Calendly cannot filter by ``updated_at``, but an event only changes before it starts
    (bookings are in the future; past events cannot be canceled), so every event changed
    after ``T`` starts after ``T``: ``min_start_time`` bounds each poll to the upcoming
    events instead of the organization's whole history.
    """
    now = ctx.clock.time()
    state = _load_cursor(cursor)
    look_back = params.get("lookBackDate")
    if state is None and look_back is None:
        # First poll without a backfill: start watching from now.
        return PollResult(items=(), cursor={"since": _iso(now), "origin": _iso(now), "seen": []})
    if state is None:
        origin = since = _epoch(str(look_back))
        seen: set[str] = set()
    else:
        origin, since = _epoch(state.get("origin") or state["since"]), _epoch(state["since"])
        seen = set(state.get("seen") or ())
    lower = max(since - OVERLAP, origin)
    client = CalendlyClient(ctx, params["connection"])
    owner = await _owner_filter(client, params, state)
    events = await client.paginate(
        "/scheduled_events", {**owner, "min_start_time": _iso(lower), "sort": "start_time:asc"}
    )
    wanted = {
        "created": params.get("showNewEvents", True),
        "updated": params.get("showUpdatedEvents", True),
    }
    items: list[dict[str, Any]] = []
    recent: list[str] = []
    for event in events:
        updated = _epoch(str(event["updated_at"]))
        if not lower <= updated <= now:
            continue  # unchanged, or stamped after our "now": picked up by a later poll
        key = _change_key(event)
        if updated >= now - OVERLAP:
            recent.append(key)  # may be seen again by the next poll's overlap
        if key in seen:
            continue
        change = _classify(event, since)
        if wanted[change]:
            items.append({"change": change, "event": event})
    new_cursor: dict[str, Any] = {"since": _iso(now), "origin": _iso(origin), "seen": recent}
    if "user" in owner and not params.get("user") and not params.get("organization"):
        new_cursor["user"] = owner["user"]
    return PollResult(items=tuple(items), cursor=new_cursor)


POLL_CHANGES_TRIGGER = Trigger(
    key="pollChangesTrigger",
    label="New and Updated Events",
    description=(
        "Checks for scheduled events created or updated since the last run and starts the "
        "flow with them."
    ),
    kind="polling",
    inputs=(
        CONNECTION,
        org_ref(
            comments=(
                "Watch the events of this organization (needs an admin or owner). "
                "Without organization or user, the connected user's events."
            )
        ),
        user_ref(
            comments="Watch the events of this user.",
            example="https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
        ),
        Input(
            key="showNewEvents",
            label="Show New Events",
            type="boolean",
            default=True,
            comments="Include events created since the last run.",
        ),
        Input(
            key="showUpdatedEvents",
            label="Show Updated Events",
            type="boolean",
            default=True,
            comments="Include events updated (e.g. canceled) since the last run.",
        ),
        Input(
            key="lookBackDate",
            label="Look-Back Date",
            example="2024-01-01",
            comments=(
                "Backfill on the first run: every event created or updated on or after "
                "this date is returned once. Empty: start from the first run with no "
                "backfill."
            ),
            schema={"anyOf": [{"format": "date"}, {"format": "date-time"}]},
            clean=_clean_look_back,
        ),
    ),
    poll=poll_changes,
    poll_interval=300.0,
)

TRIGGERS: tuple[Trigger, ...] = (CALENDLY_TRIGGER, POLL_CHANGES_TRIGGER)
