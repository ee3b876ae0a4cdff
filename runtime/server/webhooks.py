"""The webhook endpoint: ``POST /webhooks/{token}`` (a trailing slash is the same URL). The body
is read within a size and time bound, the service verifies and records the delivery (with its
pending execution) and the executor is handed the execution; the answer is JSON.

``WebhookEndpoint`` turns one delivery into its ``Answer``; ``webhook_routes`` is the plain
Starlette route serving it. ``runtime.server._fast_webhooks`` answers the same requests without
Starlette's request objects (the hot path); both render the same ``Answer``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

from attrs import frozen
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.declarations import WebhookRequest
from runtime.server.health import RETRY_AFTER, Metrics, StoreHealth
from runtime.store import StoreUnavailable

if TYPE_CHECKING:
    from runtime.executors import Executor
    from runtime.service import Service

#: Bytes a webhook body may have.
MAX_BODY = 1024 * 1024
#: Seconds a sender has to finish sending a webhook body once its headers arrived.
BODY_TIMEOUT = 30.0

_UNAVAILABLE = (("retry-after", str(RETRY_AFTER)),)
_CLOSE = (("connection", "close"),)


@frozen
class Answer:
    """What a webhook request is answered: ``status``, a JSON ``content`` and extra headers."""

    status: int
    content: Any
    headers: tuple[tuple[str, str], ...] = ()


class WebhookAnswers(Protocol):
    """What answers webhook requests, whichever path (plain or fast) reads them."""

    #: seconds the body has to arrive in
    body_timeout: float

    def too_large(self, token: str) -> Answer:
        """The answer to a body over ``MAX_BODY`` posted to ``token``."""
        ...

    def too_slow(self) -> Answer:
        """The answer to a body that did not arrive within ``body_timeout``."""
        ...

    def wrong_method(self, token: str, method: str) -> None:
        """Note a request to ``token`` with a method other than POST (answered 405 by the
        routes)."""
        ...

    async def deliver(self, token: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer to a whole delivery to ``token`` (``headers``: the request's, each name
        lower case with its last value; the answerer may keep the dict)."""
        ...


class WebhookEndpoint:
    """Answers deliveries for one service and executor, counting them in ``metrics``."""

    def __init__(
        self,
        relay: Service,
        executor: Executor,
        metrics: Metrics,
        health: StoreHealth,
        *,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self._relay = relay
        self._executor = executor
        self._metrics = metrics
        self._health = health
        self.body_timeout = body_timeout

    def too_large(self, token: str) -> Answer:
        """413, counted (and, for a cached instance's token, recorded as its rejection)."""
        self._metrics.outcomes["too_large"].inc()
        at = self._relay.runtime.clock.time()
        self._relay.intake.reject(token, 413, "body too large", at)
        return Answer(413, {"error": "body too large"})

    def too_slow(self) -> Answer:
        """408; the rest of the body may still come, so the connection cannot carry another
        request."""
        return Answer(408, {"error": "the request body did not arrive in time"}, _CLOSE)

    def wrong_method(self, token: str, method: str) -> None:
        """Recorded as the instance's rejection when ``token`` is a cached instance's."""
        at = self._relay.runtime.clock.time()
        self._relay.intake.reject(token, 405, f"wrong method: {method[:20]}", at)

    async def deliver(self, token: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """Verify and record the delivery, hand its execution to the executor. Nothing is
        acknowledged that the store may not hold: then 503 with ``Retry-After``."""
        try:
            return await self._deliver(token, url, headers, body)
        except StoreUnavailable as exc:
            self._health.failed(str(exc))
            return Answer(503, {"error": "the store is unavailable"}, _UNAVAILABLE)

    async def _deliver(self, token: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        relay, metrics = self._relay, self._metrics
        delivery = WebhookRequest(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            received_at=relay.runtime.clock.time(),
        )
        began = time.perf_counter()
        outcome = await relay.receive_webhook(token, delivery)
        metrics.ingest.observe(time.perf_counter() - began)
        if outcome.status >= 400:
            # a token no instance has: counted here only (there is no instance to record it on)
            unknown = outcome.instance is None and outcome.status == 404
            metrics.outcomes["unknown" if unknown else "rejected"].inc()
            return Answer(outcome.status, {"error": outcome.reason})
        if outcome.execution_id is None:
            metrics.outcomes["ignored"].inc()
            return Answer(200, {"status": "ignored", "reason": outcome.reason})
        gone = relay.store.gone()
        if gone is not None:  # recorded into a file that is no longer the store
            self._health.failed(gone)
            return Answer(503, {"error": "the store is unavailable"}, _UNAVAILABLE)
        self._health.worked()
        metrics.outcomes["duplicate" if outcome.duplicate else "accepted"].inc()
        # a held one (paused instance) is not claimable: its resume hands it over
        if not outcome.duplicate and not outcome.held:
            await self._executor.submit(outcome.execution_id, outcome.instance)
        if outcome.duplicate:
            content = {
                "execution_id": outcome.execution_id,
                "duplicate": True,
                "duplicate_of": outcome.execution_id,
            }
            return Answer(202, content)
        return Answer(202, {"execution_id": outcome.execution_id, "duplicate": False})


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_routes(answers: WebhookAnswers) -> list[Route]:
    """The plain Starlette routes of ``POST /webhooks/{token}`` (and with a trailing slash)."""

    async def webhook(request: Request) -> Response:
        try:
            async with asyncio.timeout(answers.body_timeout):
                body = await _read_body(request)
        except _TooLarge:
            answer = answers.too_large(request.path_params["token"])
        except TimeoutError:
            answer = answers.too_slow()
        except ClientDisconnect:  # the sender is gone: nothing recorded, and no one to answer
            return Response(status_code=400)
        else:
            token = request.path_params["token"]
            headers = dict(request.headers.items())  # a repeated header: its last value
            answer = await answers.deliver(token, str(request.url), headers, body)
        return JSONResponse(answer.content, answer.status, headers=dict(answer.headers))

    return [
        Route("/webhooks/{token}", webhook, methods=["POST"]),
        Route("/webhooks/{token}/", webhook, methods=["POST"]),
    ]
