"""ASGI apps behind a real uvicorn server on a loopback port, for tests that need real HTTP.

Readiness is an event set by uvicorn's own startup, so no test polls or sleeps for a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import uvicorn
from relay_processes import free_port

T = TypeVar("T")
#: Seconds a server may take to start before a test gives up (a bound, not a speed claim).
START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server, telling ``on_started`` when its startup is over (or has failed)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            await super().startup(sockets=sockets)
        finally:
            self._on_started()  # on failure too: the waiter then finds ``started`` false


def _config(app: Any, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )


class ServerThread:
    """``app`` served by uvicorn in a thread of its own, from ``with`` until its end."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self.server = _Server(_config(app, self.port), self._ready.set)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        if not self._ready.wait(START_TIMEOUT) or not self.server.started:
            raise RuntimeError(f"the server on port {self.port} did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``work`` on the server's event loop and wait for its result (e.g. awaiting the
        app's own background tasks, which live on that loop)."""
        assert self.server.loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(work, self.server.loop).result(timeout)


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """``app`` served by uvicorn on the running event loop; yields its URL once started."""
    port = free_port() if port is None else port
    started = asyncio.Event()
    server = _Server(_config(app, port), started.set)
    task = asyncio.create_task(server.serve())
    await asyncio.wait_for(started.wait(), START_TIMEOUT)
    if not server.started:
        await task  # raises what stopped it
        raise RuntimeError(f"the server on port {port} did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
