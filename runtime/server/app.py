"""The Starlette app behind ``relay serve``: its routes and its lifespan.

``POST /webhooks/{token}`` (``runtime.server.webhooks``): the raw body and headers go to the
instance's trigger, which verifies them; an accepted delivery is committed to the store (with
its pending execution) before the 202 is sent, then handed to the executor. ``GET /health``,
``GET /metrics``, the management API under ``/api/v1`` (``runtime.management``) and the
dashboard under ``/dashboard`` (``runtime.dashboard``).

Nothing is acknowledged that the store may not hold: when the database fails (disk full,
read-only) or its file is no longer the one opened (``RELAY_HOME`` moved or deleted), a delivery
gets 503 with ``Retry-After`` (the sender tries again later), the fault is logged once (one
line, until the store works again), ``/health`` answers 503, and the connection stays open. A
body that does not arrive within ``body_timeout`` gets 408.

The webhook endpoint is the hot path: by default the app answers it in plain ASGI
(``runtime.server._fast_webhooks``), in front of the plain route that answers the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from runtime.heap import frozen_heap
from runtime.rejections import flush_forever
from runtime.server._fast_webhooks import FastWebhookApp
from runtime.server.health import RETRY_AFTER, Metrics, StoreHealth
from runtime.server.pruning import fold_forever, prune_forever
from runtime.server.webhooks import BODY_TIMEOUT, WebhookEndpoint, webhook_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from runtime.executors import Executor
    from runtime.service import Service
    from runtime.store.retention import RetentionPolicy

log = structlog.get_logger("relay.server")


def create_app(
    relay: Service,
    executor: Executor,
    *,
    grace: float = 10.0,
    body_timeout: float = BODY_TIMEOUT,
    fast_webhooks: bool = True,
    api: bool = True,
    retention: RetentionPolicy | None = None,
) -> Starlette:
    """The server app; its lifespan starts the executor (resuming unfinished work) and
    shuts it down gracefully. A webhook body must arrive within ``body_timeout`` seconds.
    ``fast_webhooks=False`` serves webhooks by the plain route alone (same answers);
    ``api=False`` leaves out the management API (``/api/v1``, ``runtime.management``). With
    ``retention``, what it no longer keeps is pruned while the server runs (expired dedupe
    keys and rejection counts are, with or without it)."""
    metrics = Metrics()
    health_of_store = StoreHealth(relay.store)
    endpoint = WebhookEndpoint(relay, executor, metrics, health_of_store, body_timeout=body_timeout)

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
        chores = [
            scheduler,
            asyncio.create_task(prune_forever(relay, retention), name="pruning"),
            asyncio.create_task(fold_forever(relay), name="tallies"),
            # rejected deliveries are counted in memory and written about once a second
            asyncio.create_task(flush_forever(relay.intake.rejections), name="rejections"),
        ]
        log.info("server started")
        try:
            with frozen_heap():
                yield {}
        finally:
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
            await executor.shutdown(grace)
            log.info("server stopped")

    routes: list[BaseRoute] = [
        *webhook_routes(endpoint),
        Route("/health", health),
        Route("/metrics", metrics_endpoint),
    ]
    if api:
        # imported only when served: ``relay serve --no-api`` does not load FastAPI
        from runtime.dashboard import PREFIX, create_dashboard, root_redirect
        from runtime.management import api_mount

        routes.append(api_mount(relay, executor))
        # the dashboard, over the same service layer (its pages sign in with an API token)
        routes.append(Mount(PREFIX, app=create_dashboard(relay, executor)))
        routes.append(Route("/", root_redirect))
    if fast_webhooks:
        return FastWebhookApp(endpoint, routes=routes, lifespan=lifespan)
    return Starlette(routes=routes, lifespan=lifespan)
