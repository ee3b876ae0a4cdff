"""What a component function sees: identifiers, a logger, state scopes, time and HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define, field

from runtime.checkpoints import Suspend
from runtime.errors import ConfigurationError
from runtime.http import (
    AsyncClient,
    ErrorParser,
    HttpClient,
    RequestLimiter,
    default_error,
)
from runtime.transport import origin_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from structlog.typing import FilteringBoundLogger

    from runtime.clock import Clock
    from runtime.connections import ConnectionHandle

T = TypeVar("T")
_BEARER: tuple[str, str, str | None] = ("Authorization", "Bearer ", None)


def idempotency_key(execution_id: str, step: str) -> str:
    """The idempotency key of the step at path ``step`` in ``execution_id``: 32 hex digits,
    the same on every attempt and resume of that step, different for every other step."""
    return hashlib.sha256(f"relay/{execution_id}/{step}".encode()).hexdigest()[:32]


@define
class State:
    """The state scopes an action may read and write; persisted with the execution.

    ``execution``: this run only. ``flow``: this instance of the flow, across runs.
    ``cross_flow``: every flow of the same instance/customer. ``integration``: every instance.
    """

    execution: dict[str, Any] = field(factory=dict)
    flow: dict[str, Any] = field(factory=dict)
    cross_flow: dict[str, Any] = field(factory=dict)
    integration: dict[str, Any] = field(factory=dict)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The four scopes by name, as the store and the expressions see them."""
        return {
            "execution": self.execution,
            "flow": self.flow,
            "cross_flow": self.cross_flow,
            "integration": self.integration,
        }


@define
class Context:
    """Passed as the first argument to every action, data source and trigger function."""

    execution_id: str
    flow: str
    step: str
    logger: FilteringBoundLogger
    clock: Clock
    http_client: AsyncClient = field(repr=False)
    state: State = field(factory=State)
    instance: str | None = None
    #: For webhook triggers: the URL deliveries for this instance arrive at.
    webhook_url: str | None = None
    #: For webhook triggers: what ``on_deploy`` returned (e.g. the subscription URI).
    deploy_state: dict[str, Any] = field(factory=dict)
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    #: ``Runtime.request_limiter``: awaited before each request made with a connection.
    request_limiter: RequestLimiter | None = field(default=None, repr=False)
    #: Where ``http`` keeps the clients it made, for reuse: the engine passes one dict to every
    #: step of an execution (a client holds no state of its own between requests).
    http_clients: dict[Any, HttpClient] = field(factory=dict, repr=False)
    #: Given as ``idempotency_key=``: the step's key (read it as ``ctx.idempotency_key``).
    _idempotency_key: str | None = field(default=None, alias="idempotency_key", repr=False)
    #: Whether ``idempotency_key`` is derived from ``execution_id`` and ``step`` when none is
    #: given (the engine's steps): derived on first read, as most steps never read it.
    keyed: bool = field(default=False, repr=False)
    #: Seconds of waiting above which ``wait`` suspends the execution instead of holding it
    #: (set when the execution runs on a store; ``None``: every wait is held in memory).
    suspend_after: float | None = None

    def http(
        self,
        connection: ConnectionHandle | None = None,
        *,
        base_url: str | None = None,
        error_parser: ErrorParser = default_error,
        retries: int = 3,
        timeout: float | None = None,
    ) -> HttpClient:
        """An HTTP client for ``connection``'s API (its token sent only to that API's origin).
        ``base_url`` with a connection may change the path, never the origin."""
        url = base_url or (connection.endpoints.api_base_url if connection else None)
        if url is None:
            raise ValueError("http() needs a connection or a base_url")
        if connection is not None and base_url is not None:
            own = origin_of(connection.endpoints.api_base_url)
            if origin_of(base_url) != own:
                raise ConfigurationError(
                    f"refusing to send connection {connection.name!r}'s token to another "
                    "host, port or scheme than its API's: credentials stay with their API"
                )
        # connections are keyed by identity: a handle lives as long as its execution
        key = (
            id(connection),
            id(self.http_client),
            id(self.clock),
            url,
            error_parser,
            retries,
            timeout,
            self.request_limiter,
        )
        made = self.http_clients.get(key)
        if made is not None and made.auth is connection:
            return made
        before = None
        if connection is not None and self.request_limiter is not None:
            # keyed by the stored connection: its API's per-user limit is shared by every user
            before = partial(self.request_limiter, connection.store_key)
        made = self.http_clients[key] = HttpClient(
            url,
            client=self.http_client,
            clock=self.clock,
            auth=connection,
            error_parser=error_parser,
            retries=retries,
            timeout=timeout,
            before_request=before,
            credential=(connection.declaration.credential() if connection is not None else _BEARER),
        )
        return made

    @property
    def idempotency_key(self) -> str | None:
        """The same for every attempt and resume of this step in this execution: an action
        that creates something can send it (e.g. as an ``Idempotency-Key`` header) or look for
        what an earlier attempt made, so that repeating the step does not make it twice."""
        if self._idempotency_key is None and self.keyed:
            self._idempotency_key = idempotency_key(self.execution_id, self.step)
        return self._idempotency_key

    def now(self) -> float:
        """The execution's clock reading (an injected clock in tests)."""
        return self.clock.time()

    async def sleep(self, seconds: float) -> None:
        """Wait on the execution's clock, so tests with a manual clock do not really wait."""
        await self.clock.sleep(seconds)

    async def wait(self, seconds: float, output: Any = None) -> None:
        """Wait ``seconds`` as a step that ends when the wait does, with ``output``: on a store,
        a wait longer than ``suspend_after`` suspends the execution (it holds no worker while
        it waits, survives restarts, and this step completes with ``output`` once it is
        over); otherwise the wait is ``sleep``."""
        if self.suspend_after is not None and seconds > self.suspend_after:
            raise Suspend(self.clock.time() + seconds, "complete", output)
        await self.clock.sleep(seconds)

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """From a plain (non-async) function running in a worker thread, run async code
        on the execution's event loop and wait for its result."""
        if self.loop is None:
            raise RuntimeError("call() is only for plain functions run by the engine")

        async def runner() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result()
