"""The Starlette app behind ``relay serve``.

``POST /webhooks/{token}``: the raw body and headers go to the instance's trigger, which
verifies them; an accepted delivery is committed to the store (with its pending execution)
before the 202 is sent, then handed to the executor. ``GET /health``, ``GET /metrics``.

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

log = structlog.get_logger("relay.server")
MAX_BODY = 1024 * 1024


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


async def _answer(send: Send, status: int, content: Any) -> None:
    body = _json_body(content)
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
                if token and "/" not in token:
                    scope["app"] = self
                    await self.webhook(token, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def create_app(relay: Relay, executor: Executor, *, grace: float = 10.0) -> Starlette:
    """The server app; its lifespan starts the executor (resuming unfinished work) and
    shuts it down gracefully."""
    metrics = Metrics()

    async def webhook(token: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def answer(status: int, content: Any) -> None:
            nonlocal started
            started = True
            await _answer(send, status, content)

        try:
            await _webhook(token, scope, receive, answer)
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
        metrics.outcomes["duplicate" if outcome.duplicate else "accepted"].inc()
        if not outcome.duplicate:
            await executor.submit(outcome.execution_id, outcome.instance)
        await answer(202, {"execution_id": outcome.execution_id, "duplicate": outcome.duplicate})

    async def webhook_route(scope: Scope, receive: Receive, send: Send) -> None:
        """The same, as an ASGI route (for what ``RelayApp`` does not answer itself)."""
        await webhook(scope["path_params"]["token"], scope, receive, send)

    async def health(request: Request) -> Response:
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
