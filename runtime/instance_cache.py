"""The instance cache: instances read from the store (by webhook token and by name) and their
parsed flows, reused for a few seconds so each webhook and execution does not read the store."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from runtime.redaction import SECRET_KEYS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.api import Runtime
    from runtime.flows import Flow
    from runtime.store import Instance, Store

#: Seconds an instance read from the store is reused for webhooks and executions. Changes made
#: by this process (deploy, undeploy) take effect at once; changes made by another process
#: (``relay deploy``/``undeploy`` while ``relay serve`` runs) within this many seconds. A
#: delivery whose verification fails against a cached instance is checked once more against
#: the stored one (see ``RECHECK_AFTER``), and one for an instance gone from the store is
#: answered 404.
INSTANCE_TTL = 2.0
#: A delivery refused against a cached instance re-reads the stored one only if the cached copy
#: was read at least this many seconds ago: forged deliveries then cost at most one store read
#: (and decryption) per instance per interval, and a secret changed by another process is
#: picked up within it.
RECHECK_AFTER = 0.5
#: Tokens cached at most (more only if instances churn): past it the token cache starts over.
_MAX_TOKENS = 10_000


class InstanceCache:
    """Instances and parsed flows of one process; reads the store, never writes it.

    Safe to share across tasks in one event loop: callers that miss the cache together share
    one store read (single flight)."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``monotonic`` is the clock entries age by (tests pass a manual one)."""
        self._runtime = runtime
        self._store = store
        self._monotonic = monotonic
        #: parsed flows by (instance name, flow version, flow text): parsed once each
        self._flows: dict[tuple[str, int, str], Flow] = {}
        #: instances by webhook token and by name: (instance, monotonic time read)
        self._by_token: dict[str, tuple[Instance, float]] = {}
        self._by_name: dict[str, tuple[Instance, float]] = {}
        self._reading: dict[tuple[str, str], asyncio.Future[Instance | None]] = {}

    # -- instances -----------------------------------------------------------------------

    async def by_token(self, token: str, *, fresh: bool = False) -> Instance | None:
        """The instance of a webhook token, cached for ``INSTANCE_TTL`` seconds (``fresh``:
        read the store whatever the cache holds)."""
        cached = self._by_token.get(token)
        if cached is not None and not fresh and self._age(cached[1]) < INSTANCE_TTL:
            return cached[0]
        return await self._single_flight(("token", token), self._store.instance_by_token, token)

    async def named(self, name: str) -> Instance | None:
        """The instance called ``name``, cached for ``INSTANCE_TTL`` seconds."""
        cached = self._by_name.get(name)
        if cached is not None and self._age(cached[1]) < INSTANCE_TTL:
            return cached[0]
        return await self._single_flight(("name", name), self._store.get_instance, name)

    def peek(self, name: str) -> Instance | None:
        """The cached instance called ``name``, however old, without reading the store."""
        cached = self._by_name.get(name)
        return cached[0] if cached is not None else None

    def peek_token(self, token: str) -> Instance | None:
        """The cached instance of ``token``, however old, without reading the store."""
        cached = self._by_token.get(token)
        return cached[0] if cached is not None else None

    def recheck_due(self, token: str) -> bool:
        """Whether the cached instance of ``token`` is old enough to be worth reading again
        (after a delivery was refused against it)."""
        cached = self._by_token.get(token)
        return cached is None or self._age(cached[1]) >= RECHECK_AFTER

    def forget(self, name: str) -> None:
        """Drop what this process cached about instance ``name``."""
        for key in [k for k in self._flows if k[0] == name]:
            del self._flows[key]
        self._by_name.pop(name, None)
        for token in [t for t, (i, _) in self._by_token.items() if i.name == name]:
            del self._by_token[token]

    # -- flows ---------------------------------------------------------------------------

    def flow_of(self, instance: Instance) -> Flow:
        """The instance's current flow, parsed once; learns the instance's secrets first."""
        # whatever process deployed it, this one must know the instance's secrets to scrub them
        self._runtime.redactor.add(
            str(v)
            for k, v in instance.deploy_state.items()
            if SECRET_KEYS.match(k) and isinstance(v, str)
        )
        return self.flow(instance, instance.flow_text, instance.flow_version)

    def flow(self, instance: Instance, flow_text: str, version: int) -> Flow:
        """``flow_text`` (version ``version`` of ``instance``'s flow), parsed once."""
        key = (instance.name, version, flow_text)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._runtime.load_flow_text(flow_text, instance.flow_path)
            self._flows[key] = flow
        return flow

    def concurrency_of(self, name: str) -> int | None:
        """The concurrency limit of the newest parsed flow of instance ``name``, if any."""
        cached = [(k[1], f) for k, f in self._flows.items() if k[0] == name]
        return max(cached, key=lambda vf: vf[0])[1].concurrency if cached else None

    # -- reading -------------------------------------------------------------------------

    def _age(self, read_at: float) -> float:
        return self._monotonic() - read_at

    async def _single_flight(
        self, key: tuple[str, str], read: Callable[[str], Awaitable[Instance | None]], arg: str
    ) -> Instance | None:
        """One store read per key at a time: callers that miss the cache together share it.
        The cache is updated as the read ends, before any caller resumes."""

        async def read_and_remember() -> Instance | None:
            try:
                instance = await read(arg)
            finally:
                self._reading.pop(key, None)
            if instance is None:
                if key[0] == "token":
                    self._by_token.pop(arg, None)
                else:
                    self._by_name.pop(arg, None)
            self._remember(instance)
            return instance

        pending = self._reading.get(key)
        if pending is None:
            pending = self._reading[key] = asyncio.ensure_future(read_and_remember())
        return await asyncio.shield(pending)

    def _remember(self, instance: Instance | None) -> None:
        if instance is None:
            return
        t = self._monotonic()
        if len(self._by_token) > _MAX_TOKENS:
            self._by_token.clear()
        self._by_token[instance.webhook_token] = (instance, t)
        self._by_name[instance.name] = (instance, t)
