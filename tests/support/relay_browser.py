"""What the browser tests drive: the Calendly sandbox and ``relay serve``'s app, each on a
loopback port, on an event loop of their own in a thread (Playwright's sync API runs in the
test's thread); and Debian's Chromium, found or skipped (a failure under ``CI=true``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from relay_processes import free_port

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import InProcessExecutor, Runtime, Service, create_app, open_store

T = TypeVar("T")
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

#: A booking flow: a step of its own, then the sandbox's API: the meeting, and its host's busy
#: times (which the sandbox's broken-calendar fault makes fail, with a 424 no retry hides).
FLOW = """\
name: booking watch
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  organization: {type: string}
trigger:
  component: calendly
  trigger: calendlyTrigger
  inputs:
    connection: ${{ config.calendly }}
    eventNamesInput: [invitee.created]
    organization: ${{ config.organization }}
    scope: organization
steps:
  - id: event
    action: relay.value
    inputs: {value: "${{ trigger.body.event }}"}
  - id: meeting
    action: calendly.getEvent
    inputs:
      connection: ${{ config.calendly }}
      uuid: ${{ trigger.body.payload.scheduled_event.uri }}
  - id: busy
    action: calendly.listUserBusyTimes
    inputs:
      connection: ${{ config.calendly }}
      user: ${{ steps.meeting.data.resource.event_memberships[0].user }}
      startTime: ${{ steps.meeting.data.resource.start_time }}
      endTime: ${{ steps.meeting.data.resource.end_time }}
"""


def chromium() -> str:
    """Debian's Chromium; the test skips without it (fails under CI, which installs it)."""
    for path in CHROMIUM:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    if found:
        return found
    message = "no Chromium found (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: required under CI=true")
    pytest.skip(message)


@contextlib.asynccontextmanager
async def _serve(app: Any, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, access_log=False, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # uvicorn sets ``started`` without an event to await
    try:
        yield
    finally:
        server.should_exit = True
        await task


class Stack:
    """A sandbox and a relay serving ``FLOW`` as instance ``watch`` (connection ``cal``), with
    a token of each scope; ``call`` runs a coroutine on their loop."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.tokens: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sandbox: Sandbox
        self.relay: Service
        self.executor: InProcessExecutor

    def __enter__(self) -> Stack:
        self._thread.start()
        if not self._ready.wait(60) or self._failure is not None:
            raise RuntimeError(f"the stack did not start: {self._failure!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            self.sandbox = Sandbox(SandboxConfig(seed=7, events=10, base_url=self.sandbox_url))
            store = await open_store(
                f"sqlite+aiosqlite:///{self.home / 'relay.db'}", data_dir=self.home
            )
            runtime = Runtime()
            self.relay = Service(runtime, store, base_url=self.url)
            executor = self.executor = InProcessExecutor(self.relay)
            async with (
                _serve(self.sandbox.app, int(self.sandbox_url.rsplit(":", 1)[1])),
                _serve(create_app(self.relay, executor), int(self.url.rsplit(":", 1)[1])),
            ):
                await self._setup()
                self._ready.set()
                await self._stop.wait()
            await self.relay.aclose()
            await runtime.aclose()
            await store.close()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            raise

    async def _setup(self) -> None:
        client_id, client_secret = self.sandbox.register_client()
        fields = {
            "clientId": client_id,
            "clientSecret": client_secret,
            "useLiveServer": False,
            "sandboxUrl": self.sandbox_url,
        }
        await self.relay.connect("cal", "calendly", "calendlyOauth2Connection", fields)
        flow = self.home / "watch.yaml"
        flow.write_text(FLOW)
        config = {"calendly": {"use": "cal"}, "organization": self.sandbox.organization.uri}
        await self.relay.deploy(flow, config, "watch")
        for scope in ("read", "operate", "admin"):
            _record, self.tokens[scope] = await self.relay.store.create_api_token(
                f"browser-{scope}", scope
            )

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``work`` on the stack's loop; its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def run(self, work: Callable[[], T]) -> T:
        """Run the plain callable ``work`` on the stack's loop (the sandbox's methods schedule
        webhook deliveries there)."""

        async def wrapped() -> T:
            return work()

        return self.call(wrapped())

    async def start(self, instance: str, payload: Any) -> str:
        """Record a manual execution of ``instance`` and hand it to the executor."""
        execution = await self.relay.start_manual(instance, payload)
        await self.executor.submit(execution, instance)
        return execution

    def break_calendar(self, broken: bool) -> None:
        """The host's calendar cannot be read (``/user_busy_times`` answers 424), or can."""
        self.run(lambda: self.sandbox.set_calendar_error(self.sandbox.owner.uuid, broken))

    def book(self) -> dict[str, Any]:
        """An invitee books in the sandbox (its webhook goes to relay)."""
        booked: dict[str, Any] = self.run(self.sandbox.book)
        return booked


@contextlib.contextmanager
def stack(home: Path) -> Iterator[Stack]:
    """A started ``Stack`` under ``home``."""
    with Stack(home) as started:
        yield started
