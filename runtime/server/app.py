"""The Starlette app behind ``relay serve``.

``POST /webhooks/{token}``: the raw body and headers go to the instance's trigger, which
verifies them; an accepted delivery is committed to the store (with its pending execution)
before the 202 is sent, then handed to the executor. ``GET /health``, ``GET /metrics``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


def create_app(relay: Relay, executor: Executor, *, grace: float = 10.0) -> Starlette:
    """The server app; its lifespan starts the executor (resuming unfinished work) and
    shuts it down gracefully."""
    metrics = Metrics()

    async def webhook(request: Request) -> Response:
        token = request.path_params["token"]
        body = await request.body()
        if len(body) > MAX_BODY:
            metrics.deliveries.labels("too_large").inc()
            return JSONResponse({"error": "body too large"}, status_code=413)
        delivery = WebhookRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=body,
            received_at=relay.runtime.clock.time(),
        )
        with metrics.ingest.time():
            outcome = await relay.receive_webhook(token, delivery)
        if outcome.status >= 400:
            metrics.deliveries.labels("rejected").inc()
            return JSONResponse({"error": outcome.reason}, status_code=outcome.status)
        if outcome.execution_id is None:
            metrics.deliveries.labels("ignored").inc()
            return JSONResponse({"status": "ignored", "reason": outcome.reason}, status_code=200)
        metrics.deliveries.labels("duplicate" if outcome.duplicate else "accepted").inc()
        if not outcome.duplicate:
            await executor.submit(outcome.execution_id, outcome.instance)
        body_out = {"execution_id": outcome.execution_id, "duplicate": outcome.duplicate}
        return JSONResponse(body_out, status_code=202)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "in_flight": executor.in_flight()})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await executor.start()
        log.info("server started")
        try:
            yield {}
        finally:
            await executor.shutdown(grace)
            log.info("server stopped")

    return Starlette(
        routes=[
            Route("/webhooks/{token}", webhook, methods=["POST"]),
            Route("/health", health),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
