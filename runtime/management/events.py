"""``GET /events``: the execution event feed (``runtime.events``) as Server-Sent Events.

Each event is one SSE message: ``id`` is the cursor after it (a client reconnecting sends it
back as ``Last-Event-ID``, as browsers' ``EventSource`` do, and misses nothing), ``event`` is
``execution.<kind>``, ``data`` the event's JSON. A comment line every ``heartbeat`` seconds
keeps proxies from closing a quiet stream. Each subscriber reads the store on its own; one
whose client stops reading for ``SEND_TIMEOUT`` seconds is disconnected (it resumes from its
cursor when it reconnects), so a slow client holds nothing but its own task. A client that
disconnects stops its task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import structlog
from fastapi import APIRouter, Depends, Header, Query
from starlette.responses import StreamingResponse

from runtime.events import HEARTBEAT, EventFeed, decode_cursor, encode_cursor, time_cursor
from runtime.management.problems import ApiProblem, FieldProblem, ProblemRoute

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message, Receive, Scope, Send

    from runtime.management.auth import Authenticator
    from runtime.service import Service

log = structlog.get_logger("relay.api")

#: Seconds a client may take to accept one message before it is disconnected.
SEND_TIMEOUT = 30.0
#: Milliseconds a client waits before reconnecting (the SSE ``retry`` field).
RETRY_MS = 2000

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A stream of execution events (`text/event-stream`): each message's "
        "`event` is `execution.recorded`, `execution.started`, `execution.step`, "
        "`execution.waiting` or `execution.finished`; its `data` is JSON with `kind`, "
        "`execution_id`, `instance`, `status`, `at` (UNIX seconds), `step` {path, status} "
        "for a step and `attempt` for a start; its `id` is the cursor to resume after it.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that stops when the client disconnects (whatever ASGI
    version the server speaks) or takes longer than ``SEND_TIMEOUT`` to accept a message."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream until the messages end, the client goes, or it stops reading."""

        async def timed(message: Message) -> None:
            with anyio.fail_after(SEND_TIMEOUT):
                await send(message)

        async with anyio.create_task_group() as group:

            async def stream() -> None:
                try:
                    await self.stream_response(timed)
                except TimeoutError:
                    log.warning("event stream closed: the client stopped reading")
                except OSError:  # the client went while a message was sent
                    pass
                group.cancel_scope.cancel()

            async def listen() -> None:
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            group.start_soon(listen)


def message(event_name: str, data: dict[str, object], cursor: str) -> str:
    """One SSE message (``data`` is one line of JSON: no field can break the framing)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"id: {cursor}\nevent: {event_name}\ndata: {text}\n\n"


async def sse(feed: EventFeed) -> AsyncIterator[str]:
    """The feed's events as SSE messages, and a comment for each heartbeat."""
    yield f"retry: {RETRY_MS}\n: relay execution events\n\n"
    async for batch in feed.batches():
        if not batch:
            yield ": keepalive\n\n"
        for event, mark in batch:
            yield message(f"execution.{event.kind}", event.as_dict(), encode_cursor(mark))


def events_router(relay: Service, auth: Authenticator, heartbeat: float = HEARTBEAT) -> APIRouter:
    """``/events``: read scope."""
    router = APIRouter(tags=["events"], route_class=ProblemRoute)

    @router.get(
        "/events",
        dependencies=[Depends(auth.require("read"))],
        response_class=EventStreamResponse,
        responses=_STREAM,
    )
    async def execution_events(
        instance: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        since: Annotated[
            datetime | None,
            Query(
                description="Events after this time: ISO 8601 (UTC when no offset) or UNIX "
                "seconds. Default: from now."
            ),
        ] = None,
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                max_length=400,
                description="The id of the last event received: the stream goes on after it "
                "(takes precedence over `since`).",
            ),
        ] = None,
    ) -> EventStreamResponse:
        """Execution events as they happen (Server-Sent Events): recorded, started, each step
        checkpointed, waiting, finished. Ids, instance, statuses and step paths only."""
        after = None
        if last_event_id:
            after = decode_cursor(last_event_id)
            if after is None:
                raise ApiProblem(
                    422,
                    "validation",
                    "the request is not valid",
                    errors=[
                        FieldProblem(
                            location="header",
                            field="$.Last-Event-ID",
                            message="not an event id this API sent (send the last id as it is)",
                        )
                    ],
                )
        elif since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            after = time_cursor(moment.timestamp())
        feed = EventFeed(relay.store, instance=instance, after=after, heartbeat=heartbeat)
        return EventStreamResponse(
            sse(feed), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    return router
