"""The Starlette app behind ``relay serve``.

``POST /webhooks/{token}`` (a trailing slash is the same URL): the raw body and headers go to
the instance's trigger, which verifies them; an accepted delivery is committed to the store
(with its pending execution) before the 202 is sent, then handed to the executor.
``GET /health``, ``GET /metrics``.

Nothing is acknowledged that the store may not hold: when the database fails (disk full,
read-only) or its file is no longer the one opened (``RELAY_HOME`` moved or deleted), a delivery
gets 503 with ``Retry-After`` (the sender tries again later), the fault is logged once (one
line, until the store works again), ``/health`` answers 503, and the connection stays open. A
body that does not arrive within ``body_timeout`` gets 408.

The webhook endpoint is the hot path, so it is plain ASGI: ``RelayApp`` answers
``POST /webhooks/{token}`` itself (no Starlette request/response objects, middleware or route
matching per delivery) and hands every other request to Starlette, which also has the route
(so ``GET /webhooks/x`` is still a 405 from Starlette).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from runtime.declarations import WebhookRequest
from runtime.executors import Executor
from runtime.service import Relay
from runtime.store import StoreUnavailable

log = structlog.get_logger("relay.server")
MAX_BODY = 1024 * 1024
#: Seconds a sender has to finish sending a webhook body once its headers arrived.
BODY_TIMEOUT = 30.0
#: What a 503 tells the sender to wait before trying again (seconds).
RETRY_AFTER = 10


class Metrics:
    """Prometheus metrics of one server (its own registry: no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "relay_webhook_deliveries",
            "Webhook deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest = Histogram(
            "relay_webhook_ingest_seconds",
            "Time to verify and record a delivery",
            registry=self.registry,
        )
        # the children of the outcome label, resolved once (``labels()`` per delivery is not free)
        self.outcomes = {
            outcome: self.deliveries.labels(outcome)
            for outcome in ("too_large", "rejected", "ignored", "duplicate", "accepted")
        }


_JSON_HEADERS = [(b"content-type", b"application/json")]
_WEBHOOKS = "/webhooks/"


def _json_body(content: Any) -> bytes:
    """What ``JSONResponse`` renders ``content`` as."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


_URLS: dict[tuple[Any, ...], str] = {}


def _url(scope: Scope) -> str:
    """``str(starlette.datastructures.URL(scope=scope))``, remembered: a webhook URL repeats."""
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    key = (
        scope.get("scheme"),
        scope.get("server"),
        scope["path"],
        scope.get("query_string", b""),
        host,
    )
    url = _URLS.get(key)
    if url is None:
        if len(_URLS) > 1024:
            _URLS.clear()
        url = _URLS[key] = str(URL(scope=scope))
    return url


async def _answer(
    send: Send, status: int, content: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = _json_body(content)
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS, *(extra or ())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_UNAVAILABLE = [(b"retry-after", str(RETRY_AFTER).encode())]
_CLOSE = [(b"connection", b"close")]


class StoreHealth:
    """Whether the store can take deliveries: its file is the one opened and its last write
    did not fail. A fault is logged when it starts and when it ends, not per request."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self.fault: str | None = None
        self._fault_at = 0.0

    def problem(self) -> str | None:
        """Why deliveries cannot be acknowledged now, or ``None``. A write fault counts for
        ``RETRY_AFTER`` seconds: then the next delivery finds out whether it is over."""
        gone = self._relay.store.gone()
        if gone is not None:
            self.failed(gone)
            return gone
        if self.fault is not None and time.monotonic() - self._fault_at < RETRY_AFTER:
            return self.fault
        return None

    def failed(self, reason: str) -> None:
        if self.fault is None:
            log.error("store unavailable: deliveries are answered 503", reason=reason)
        self.fault = reason
        self._fault_at = time.monotonic()

    def worked(self) -> None:
        if self.fault is not None and self._relay.store.gone() is None:
            log.warning("store available again", was=self.fault)
            self.fault = None


class _AsgiEndpoint:
    """Wraps a function so Starlette's ``Route`` treats it as an ASGI app, not an endpoint."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class RelayApp(Starlette):
    """Starlette, with ``POST /webhooks/{token}`` answered directly (see the module doc)."""

    webhook: Any = None  # async (token, scope, receive, send) -> None, set by ``create_app``

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.startswith(_WEBHOOKS):
                token = path[len(_WEBHOOKS) :]
                if token.endswith("/"):  # the same URL: answered, not redirected
                    token = token[:-1]
                if token and "/" not in token:
                    scope["app"] = self
                    await self.webhook(token, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def create_app(
    relay: Relay, executor: Executor, *, grace: float = 10.0, body_timeout: float = BODY_TIMEOUT
) -> Starlette:
    """The server app; its lifespan starts the executor (resuming unfinished work) and
    shuts it down gracefully. A webhook body must arrive within ``body_timeout`` seconds."""
    metrics = Metrics()
    health_of_store = StoreHealth(relay)

    async def webhook(token: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def answer(
            status: int, content: Any, extra: list[tuple[bytes, bytes]] | None = None
        ) -> None:
            nonlocal started
            started = True
            await _answer(send, status, content, extra)

        try:
            await _webhook(token, scope, receive, answer)
        except StoreUnavailable as exc:
            health_of_store.failed(str(exc))
            if not started:
                await answer(503, {"error": "the store is unavailable"}, _UNAVAILABLE)
        except Exception:
            if not started:
                body = b"Internal Server Error"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-length", str(len(body)).encode()),
                            (b"content-type", b"text/plain; charset=utf-8"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise  # as Starlette's error middleware does: the server logs it too

    async def _webhook(token: str, scope: Scope, receive: Receive, answer: Any) -> None:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the sender is gone: nothing recorded, nothing to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > MAX_BODY:
                        metrics.outcomes["too_large"].inc()
                        await answer(413, {"error": "body too large"})
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            # the rest of the body may still come: this connection cannot carry another request
            await answer(408, {"error": "the request body did not arrive in time"}, _CLOSE)
            return
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        delivery = WebhookRequest(
            method="POST",
            url=_url(scope),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
            received_at=relay.runtime.clock.time(),
        )
        began = time.perf_counter()
        outcome = await relay.receive_webhook(token, delivery)
        metrics.ingest.observe(time.perf_counter() - began)
        if outcome.status >= 400:
            metrics.outcomes["rejected"].inc()
            await answer(outcome.status, {"error": outcome.reason})
            return
        if outcome.execution_id is None:
            metrics.outcomes["ignored"].inc()
            await answer(200, {"status": "ignored", "reason": outcome.reason})
            return
        gone = relay.store.gone()
        if gone is not None:  # recorded into a file that is no longer the store
            health_of_store.failed(gone)
            await answer(503, {"error": "the store is unavailable"}, _UNAVAILABLE)
            return
        health_of_store.worked()
        metrics.outcomes["duplicate" if outcome.duplicate else "accepted"].inc()
        if not outcome.duplicate:
            await executor.submit(outcome.execution_id, outcome.instance)
        await answer(202, {"execution_id": outcome.execution_id, "duplicate": outcome.duplicate})

    async def webhook_route(scope: Scope, receive: Receive, send: Send) -> None:
        """The same, as an ASGI route (for what ``RelayApp`` does not answer itself)."""
        await webhook(scope["path_params"]["token"], scope, receive, send)

    async def health(request: Request) -> Response:
        problem = health_of_store.problem()
        if problem is not None:
            return JSONResponse(
                {"status": "unhealthy", "reason": problem, "in_flight": executor.in_flight()},
                status_code=503,
                headers={"retry-after": str(RETRY_AFTER)},
            )
        return JSONResponse({"status": "ok", "in_flight": executor.in_flight()})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        from runtime.scheduler import Scheduler, run_scheduler

        await executor.start()
        # schedules and polling triggers fire from here (under a store lock per instance)
        scheduler = asyncio.create_task(run_scheduler(Scheduler(relay, executor)))
        log.info("server started")
        try:
            yield {}
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
            await executor.shutdown(grace)
            log.info("server stopped")

    app = RelayApp(
        routes=[
            Route("/webhooks/{token}", _AsgiEndpoint(webhook_route), methods=["POST"]),
            Route("/health", health),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
    app.webhook = webhook
    return app
