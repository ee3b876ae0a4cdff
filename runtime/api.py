"""``Runtime``: the public facade. Load flows, resolve config, run, inspect, call directly.

``Runtime`` holds what the jobs share (components, token store, clock, HTTP clients, its
redactor and logger) and hands each job only what it uses: ``engine`` runs an execution,
``config`` resolves a flow's config, ``connections`` opens and authorizes connections,
``invoke`` calls an action, data source or trigger hook outside any flow.

::

    rt = Runtime()
    flow = rt.load_flow("flows/booking.yaml")
    result = rt.run_sync(flow, config={...}, payload={...})      # or: await rt.run(...)
    print(result.status, result.outputs)
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

import structlog

from runtime.clock import Clock
from runtime.config import ConnectionSource, resolve_config
from runtime.connections import (
    REDIRECT_URI,
    ConnectionHandle,
    Connector,
    Consent,
    InMemoryTokenStore,
    TokenStore,
)
from runtime.context import Context, State
from runtime.engine import Execution, ExecutionEnv
from runtime.errors import ConfigurationError
from runtime.flows import Flow, load_flow_file, load_flow_text
from runtime.invoke import Invoker
from runtime.logs import runtime_logger
from runtime.plans import ActionPlans
from runtime.plugins import in_process_hosts, load_components, make_plugin_manager, settle
from runtime.redaction import Redactor
from runtime.transport import HostRouter, shared_client

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from structlog.typing import FilteringBoundLogger

    from runtime.checkpoints import Checkpointer
    from runtime.declarations import Connection, TriggerEvent, WebhookRequest
    from runtime.http import AsyncClient, RequestLimiter
    from runtime.oauth import Token
    from runtime.registry import Registry
    from runtime.results import ExecutionResult

__all__ = ["REDIRECT_URI", "ConnectionSource", "Consent", "Runtime"]


class Runtime:
    """Components loaded from plugins, a token store, a clock and in-process hosts: loads and
    runs flows in memory, and calls components directly. ``runtime.service.Service`` binds one
    to a store to deploy instances and run their executions durably."""

    def __init__(
        self,
        *,
        plugins: tuple[object, ...] | list[object] = (),
        load_entry_points: bool = True,
        hosts: Mapping[str, Any] | None = None,
        token_store: TokenStore | None = None,
        clock: Clock | None = None,
        logger: FilteringBoundLogger | None = None,
        connection_source: ConnectionSource | None = None,
        request_limiter: RequestLimiter | None = None,
    ) -> None:
        self.plugin_manager = make_plugin_manager(plugins, load_entry_points=load_entry_points)
        self.registry: Registry = load_components(self.plugin_manager)
        #: What the engine works out once per action step (see ``ActionPlans``).
        self.action_plans = ActionPlans(self.registry)
        self.hosts = {**in_process_hosts(self.plugin_manager), **(hosts or {})}
        settle(self.plugin_manager, self.registry)
        self.router = HostRouter(self.hosts)
        self.token_store: TokenStore = token_store or InMemoryTokenStore()
        self.clock = clock or Clock()
        #: The secrets this runtime has seen, scrubbed from its records and logs; shared with
        #: the runtimes ``using`` derives.
        self.redactor: Redactor = Redactor()
        #: ``logger`` (default: structlog's ``relay``), scrubbed of this runtime's secrets.
        self.logger: FilteringBoundLogger = runtime_logger(
            logger or structlog.get_logger("relay"), self.redactor
        )
        self._clients: dict[int, AsyncClient] = {}
        #: Where ``{use: NAME}`` connections are looked up (a store, for a service).
        self.connection_source: ConnectionSource | None = connection_source
        #: Awaited with a connection's store key before each request made with it (a rate limit
        #: shared across processes: the Dramatiq workers set one). ``None``: no limit here.
        self.request_limiter: RequestLimiter | None = request_limiter

    def using(
        self,
        *,
        token_store: TokenStore | None = None,
        connection_source: ConnectionSource | None = None,
        request_limiter: RequestLimiter | None = None,
    ) -> Runtime:
        """A runtime sharing these components and hosts, with its own sources of connections.

        How a service binds the runtime it is given to its store without changing it.
        """
        other = copy.copy(self)
        other._clients = {}
        if token_store is not None:
            other.token_store = token_store
        if connection_source is not None:
            other.connection_source = connection_source
        if request_limiter is not None:
            other.request_limiter = request_limiter
        return other

    # -- flows ---------------------------------------------------------------------------

    def load_flow(self, path: str | Path) -> Flow:
        """Load and statically check a flow file; raises ``FlowError`` with every problem."""
        return load_flow_file(path, self.registry)

    def load_flow_text(self, text: str, file: str = "<flow>") -> Flow:
        """``load_flow`` for flow text (``file`` names it in problems)."""
        return load_flow_text(text, file, self.registry)

    # -- http ----------------------------------------------------------------------------

    def http_client(self) -> AsyncClient:
        """The pooled client of the running event loop (clients cannot cross loops)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None or client.is_closed:
            client = shared_client(self.router)
            self._clients[id(loop)] = client
        return client

    async def aclose(self) -> None:
        """Close the running event loop's pooled client."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(id(loop), None)
        if client is not None:
            await client.aclose()

    # -- config and connections ----------------------------------------------------------

    def _connector(self) -> Connector:
        return Connector(
            registry=self.registry,
            token_store=self.token_store,
            clock=self.clock,
            http=self.http_client,
            redactor=self.redactor,
        )

    def connection_declaration(self, component: str, key: str) -> Connection:
        """The connection ``key`` declared by ``component``."""
        return self._connector().declaration(component, key)

    async def open_connection(
        self,
        name: str,
        component: str,
        key: str,
        values: Mapping[str, Any],
        *,
        store_key: str | None = None,
        authorize: bool = True,
    ) -> ConnectionHandle:
        """Validate a connection's field values and return its handle (what an action's
        connection input takes, e.g. ``rt.picklist(ref, {"connection": handle})``).

        - ``name``: what the connection is called in errors, logs and records (a flow's config
          variable, say ``"calendly"``).
        - ``component``, ``key``: which declared connection, e.g. ``"calendly"`` and
          ``"calendlyOauth2Connection"`` (``relay components`` lists them).
        - ``values``: its field values (``relay describe calendly.calendlyOauth2Connection``
          lists the fields), validated with every problem named ``$.NAME.field``. It may carry
          ``token`` (``access_token``, ``refresh_token``, ``expires_in`` or ``expires_at``),
          which seeds the token store.
        - ``store_key``: where its token is kept in the token store (default
          ``"COMPONENT:KEY:NAME"``); two handles with one key share one token.
        - ``authorize``: whether to get a token now when none is stored. An OAuth connection
          whose server consents headlessly (a sandbox) is then connected on the spot; one that
          needs a browser is ``ReconnectRequired``. With ``False`` no request is made.
        """
        return await self._connector().open(
            name, component, key, values, store_key=store_key, authorize=authorize
        )

    async def authorize(self, handle: ConnectionHandle, consent: Consent | None = None) -> Token:
        """Run the authorization-code flow (state + PKCE) and store the token.

        ``consent(authorize_url, redirect_uri)`` returns the URL the user's browser was
        redirected to; without it, the server must consent to a plain GET (a sandbox).
        """
        return await self._connector().authorize(handle, consent)

    async def exchange_code(
        self, handle: ConnectionHandle, code: str, verifier: str, redirect_uri: str
    ) -> Token:
        """Second leg of the authorization-code flow; the token is stored."""
        return await self._connector().exchange_code(handle, code, verifier, redirect_uri)

    async def resolve_config(
        self, flow: Flow, values: Mapping[str, Any] | None, *, key_prefix: str = ""
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """Check config values against the flow's declarations; open its connections."""
        return await resolve_config(
            flow,
            values,
            open_connection=self.open_connection,
            connection_source=self.connection_source,
            key_prefix=key_prefix,
        )

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        flow: Flow,
        *,
        config: Mapping[str, Any] | None = None,
        payload: Any = None,
        state: State | None = None,
        execution_id: str | None = None,
        instance: str | None = None,
        connections: Mapping[str, ConnectionHandle] | None = None,
        reused_outputs: Mapping[str, Any] | None = None,
        checkpoints: Checkpointer | None = None,
    ) -> ExecutionResult:
        """Run ``flow`` once with ``payload`` as ``trigger``; never raises for step failures
        (they are in the result), only for invalid config. With ``checkpoints`` (a run on a
        store) every step is checkpointed as it finishes and the run goes on from the
        checkpoints of an earlier claim; without, it runs in memory."""
        if connections is None:
            scope, handles = await self.resolve_config(flow, config)
        else:
            scope, handles = dict(config or {}), dict(connections)
        given: dict[str, Any] = {"id": execution_id} if execution_id else {}
        execution = Execution(
            env=ExecutionEnv(
                clock=self.clock,
                logger=self.logger,
                plans=self.action_plans,
                http_client=self.http_client,
                request_limiter=self.request_limiter,
                redactor=self.redactor,
            ),
            flow=flow,
            config=scope,
            connections=handles,
            trigger=payload if payload is not None else {},
            state=state or State(),
            instance=instance,
            reused_outputs=dict(reused_outputs or {}),
            checkpoints=checkpoints,
            **given,  # else a fresh id
        )
        return await execution.run()

    def run_sync(self, flow: Flow, **kwargs: Any) -> ExecutionResult:
        """``run`` for code without an event loop. Inside a running one (async code, a
        notebook) it is a ``ConfigurationError`` saying to ``await rt.run(...)`` instead."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running: the one case run_sync serves
        else:
            raise ConfigurationError(
                "Runtime.run_sync cannot run inside a running event loop: use "
                "`await rt.run(flow, ...)` there"
            )

        async def main() -> ExecutionResult:
            try:
                return await self.run(flow, **kwargs)
            finally:
                await self.aclose()

        return asyncio.run(main())

    # -- direct calls (tests, picklists, triggers) ----------------------------------------

    def context(self, *, step: str = "direct", flow: str = "direct", **extra: Any) -> Context:
        """A context for calling a component function directly (outside any flow)."""
        return Context(
            execution_id="direct",
            flow=flow,
            step=step,
            logger=self.logger.bind(step=step),
            clock=self.clock,
            http_client=self.http_client(),
            loop=asyncio.get_running_loop(),
            request_limiter=self.request_limiter,
            **extra,
        )

    def _invoker(self) -> Invoker:
        return Invoker(self.registry, self.context)

    async def invoke_action(self, ref: str, inputs: Mapping[str, Any], **context: Any) -> Any:
        """Validate ``inputs`` and call one action (``component.key``) directly."""
        return await self._invoker().action(ref, inputs, **context)

    async def picklist(self, ref: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a data source; returns ``[{"key", "label"}, ...]``."""
        return await self._invoker().picklist(ref, inputs)

    async def deploy_trigger(
        self, ref: str, inputs: Mapping[str, Any], *, webhook_url: str
    ) -> dict[str, Any]:
        """Run a trigger's ``on_deploy``; what it returned (kept as the deploy state)."""
        return await self._invoker().deploy_trigger(ref, inputs, webhook_url=webhook_url)

    async def undeploy_trigger(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        webhook_url: str,
        deploy_state: Mapping[str, Any],
    ) -> None:
        """Run a trigger's ``on_undeploy`` with the state its deploy left."""
        await self._invoker().undeploy_trigger(
            ref, inputs, webhook_url=webhook_url, deploy_state=deploy_state
        )

    async def webhook_event(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        request: WebhookRequest,
        *,
        deploy_state: Mapping[str, Any] | None = None,
    ) -> TriggerEvent | None:
        """Verify and shape one delivery; raises ``WebhookRejected`` when it fails checks."""
        return await self._invoker().webhook_event(ref, inputs, request, deploy_state=deploy_state)

    async def poll(
        self, ref: str, inputs: Mapping[str, Any], cursor: Any, *, state: State | None = None
    ) -> Any:
        """One poll of a polling trigger from ``cursor``."""
        return await self._invoker().poll(ref, inputs, cursor, state=state)
