"""A webhook endpoint for tests: an ASGI app that records each POST and answers a set status."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class WebhookReceiver:
    """Records every POST to any path as (headers, body) and answers ``status``; ``arrived``
    is set by the first one, for a test in another thread to wait on."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            self.arrived.set()
            return Response(status_code=self.status)

        self.app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])

    def transport(self) -> httpx.ASGITransport:
        """A transport delivering to this receiver with no socket."""
        return httpx.ASGITransport(app=self.app)

    def events(self) -> list[dict[str, Any]]:
        """The bodies received, as JSON."""
        return [json.loads(body) for _headers, body in self.received]
