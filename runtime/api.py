"""``Runtime``: the programmatic front door. Load flows, resolve config, run, inspect.

::

    rt = Runtime()
    flow = rt.load_flow("flows/booking.yaml")
    result = rt.run_sync(flow, config={...}, payload={...})      # or: await rt.run(...)
    print(result.status, result.outputs)
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog
from structlog.typing import FilteringBoundLogger

from runtime.clock import Clock
from runtime.connections import ConnectionHandle, InMemoryTokenStore, TokenStore
from runtime.context import Context, State
from runtime.declarations import Connection, TriggerEvent, WebhookRequest
from runtime.engine import ActionPlans, Execution, call_function
from runtime.errors import ConfigurationError, InputValidationError, Problem, ReconnectRequired
from runtime.flows import Flow, load_flow_file, load_flow_text
from runtime.http import AsyncClient, HostRouter, RequestLimiter, get_redirect, shared_client
from runtime.inputs import CONNECTION_MARKER, json_path
from runtime.logs import SECRETS
from runtime.oauth import Token, authorization_request, code_from_redirect, token_request
from runtime.plugins import in_process_hosts, load_components, make_plugin_manager
from runtime.redaction import Redactor
from runtime.registry import Registry
from runtime.results import ExecutionResult

_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
}
REDIRECT_URI = "http://127.0.0.1:8976/relay/oauth/callback"
#: ``consent(authorize_url, redirect_uri) -> callback URL``: how a user approves a connection.
Consent = Callable[[str, str], Awaitable[str]]


class ConnectionSource(Protocol):
    """Named, stored connections (``{use: NAME}`` in a flow's config)."""

    async def get_connection(self, name: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(component, connection key, fields)`` of the stored connection ``name``."""
        ...


class Runtime:
    """Components loaded from plugins, a token store, a clock and in-process hosts."""

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
        self.router = HostRouter(self.hosts)
        self.token_store: TokenStore = token_store or InMemoryTokenStore()
        self.clock = clock or Clock()
        self.logger: FilteringBoundLogger = logger or structlog.get_logger("relay")
        self._clients: dict[int, AsyncClient] = {}
        #: Where ``{use: NAME}`` connections are looked up (a store, for a service).
        self.connection_source: ConnectionSource | None = connection_source
        #: Awaited with a connection's store key before each request made with it (a rate limit
        #: shared across processes: the Dramatiq workers set one). ``None``: no limit here.
        self.request_limiter: RequestLimiter | None = request_limiter
        #: The secrets this runtime has seen, scrubbed from its records and logs.
        self.redactor: Redactor = SECRETS

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
        loop = asyncio.get_running_loop()
        client = self._clients.pop(id(loop), None)
        if client is not None:
            await client.aclose()

    # -- config and connections ----------------------------------------------------------

    def connection_declaration(self, component: str, key: str) -> Connection:
        declaration = self.registry.require(component).component.connection(key)
        if declaration is None:
            raise ConfigurationError(f"component {component!r} has no connection {key!r}")
        return declaration

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
        declaration = self.connection_declaration(component, key)
        registered = self.registry.require(component)
        fields = {k: v for k, v in values.items() if k != "token"}
        raw_token = values.get("token")
        schema = registered.schema("connection", key)
        try:
            cleaned = schema.validate(fields)
        except InputValidationError as exc:
            problems = [Problem(p.message, f"$.{name}{p.path[1:]}") for p in exc.problems]
            raise InputValidationError(f"invalid connection {name!r}", problems) from None
        endpoints = declaration.endpoints(cleaned)
        handle = ConnectionHandle(
            name=name,
            component=component,
            declaration=declaration,
            fields=cleaned,
            endpoints=endpoints,
            store=self.token_store,
            store_key=store_key or f"{component}:{key}:{name}",
            clock=self.clock,
            http=self.http_client(),
        )
        SECRETS.add(handle.secrets)
        if declaration.kind == "oauth2" and authorize:
            if isinstance(raw_token, Mapping):
                await self.token_store.save(
                    handle.store_key,
                    Token.from_response(raw_token, self.clock.time())
                    if "expires_at" not in raw_token
                    else Token.from_dict(raw_token),
                )
            if await self.token_store.load(handle.store_key) is None:
                if not endpoints.headless_consent:
                    raise ReconnectRequired(name, "no token: run `relay connect` first")
                await self.authorize(handle)
        return handle

    async def authorize(self, handle: ConnectionHandle, consent: Consent | None = None) -> Token:
        """Run the authorization-code flow (state + PKCE) and store the token.

        ``consent(authorize_url, redirect_uri)`` returns the URL the user's browser was
        redirected to; without it, the server must consent to a plain GET (a sandbox).
        """
        fields = handle.fields
        request = authorization_request(
            handle.endpoints.authorize_url,
            str(fields.get("clientId", "")),
            REDIRECT_URI,
            str(fields.get("scopes", "") or ""),
        )
        if consent is not None:
            location = await consent(request.url, request.redirect_uri)
        elif handle.endpoints.headless_consent:
            status, location = await get_redirect(handle.http, request.url)
            if status not in (301, 302, 303, 307) or not location:
                raise ReconnectRequired(handle.name, f"authorization failed ({status})")
        else:
            raise ReconnectRequired(handle.name, "this server needs a browser to consent")
        code = code_from_redirect(location, request.state)
        return await self.exchange_code(handle, code, request.code_verifier, request.redirect_uri)

    async def exchange_code(
        self, handle: ConnectionHandle, code: str, verifier: str, redirect_uri: str
    ) -> Token:
        """Second leg of the authorization-code flow; the token is stored."""
        token = await token_request(
            handle.http,
            handle.endpoints.token_url,
            client_id=str(handle.fields.get("clientId", "")),
            client_secret=str(handle.fields.get("clientSecret", "")),
            form={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            now=self.clock.time(),
            connection=handle.name,
        )
        await self.token_store.save(handle.store_key, token)
        handle.token = token
        SECRETS.add(handle.secrets)
        return token

    async def resolve_config(
        self, flow: Flow, values: Mapping[str, Any] | None, *, key_prefix: str = ""
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """Check config values against the flow's declarations; open its connections."""
        values = dict(values or {})
        problems: list[Problem] = []
        scope: dict[str, Any] = {}
        connections: dict[str, ConnectionHandle] = {}
        declared = {c.name for c in flow.config}
        for extra in sorted(set(values) - declared):
            problems.append(Problem("is not a config variable of this flow", json_path([extra])))
        for var in flow.config:
            value = values.get(var.name, var.default)
            if value is None:
                if var.required:
                    problems.append(Problem("is required", json_path([var.name])))
                scope[var.name] = None
                continue
            if var.type == "connection":
                if not isinstance(value, dict | Mapping):  # (dict first: no ABC check)
                    problems.append(
                        Problem("must be a mapping of connection fields", json_path([var.name]))
                    )
                    continue
                assert var.component and var.connection
                store_key = f"{key_prefix}{var.component}:{var.connection}:{var.name}"
                if "use" in value:
                    used = str(value["use"])
                    found = await self._named(used, var.component, var.connection)
                    if isinstance(found, str):
                        problems.append(Problem(found, json_path([var.name])))
                        continue
                    value, store_key = found, f"connection:{used}"
                try:
                    connections[var.name] = await self.open_connection(
                        var.name, var.component, var.connection, value, store_key=store_key
                    )
                except InputValidationError as exc:
                    problems.extend(exc.problems)
                scope[var.name] = {CONNECTION_MARKER: var.name}
                continue
            expected = _CONFIG_TYPES.get(var.type)
            if expected is not None and (
                not isinstance(value, expected)
                or (var.type != "boolean" and isinstance(value, bool))
            ):
                problems.append(Problem(f"must be a {var.type}", json_path([var.name])))
            scope[var.name] = value
        if problems:
            raise InputValidationError(f"invalid config for flow {flow.name!r}", problems)
        return scope, connections

    async def _named(self, name: str, component: str, key: str) -> dict[str, Any] | str:
        """The stored fields of connection ``name``, or why they cannot be used."""
        found = (
            await self.connection_source.get_connection(name) if self.connection_source else None
        )
        if found is None:
            return f"no stored connection {name!r} (run `relay connect`)"
        if (found[0], found[1]) != (component, key):
            return f"connection {name!r} is a {found[0]}.{found[1]}, not {component}.{key}"
        return found[2]

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
        reuse_outputs: Mapping[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run ``flow`` once with ``payload`` as ``trigger``; never raises for step failures
        (they are in the result), only for invalid config."""
        if connections is None:
            scope, handles = await self.resolve_config(flow, config)
        else:
            scope, handles = dict(config or {}), dict(connections)
        given: dict[str, Any] = {"id": execution_id} if execution_id else {}
        execution = Execution(
            runtime=self,
            flow=flow,
            config=scope,
            connections=handles,
            trigger=payload if payload is not None else {},
            state=state or State(),
            instance=instance,
            reuse_outputs=dict(reuse_outputs or {}),
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

    def _split(self, ref: str) -> tuple[str, str]:
        component, _, key = ref.partition(".")
        if not key:
            raise ConfigurationError(f"expected COMPONENT.KEY, got {ref!r}")
        return component, key

    async def _prepare(
        self, kind: str, ref: str, inputs: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        component, key = self._split(ref)
        registered = self.registry.require(component)
        finder = {
            "action": registered.component.action,
            "data_source": registered.component.data_source,
            "trigger": registered.component.trigger,
        }[kind]
        item = finder(key)
        if item is None:
            raise ConfigurationError(
                f"component {component!r} has no {kind.replace('_', ' ')} {key!r}"
            )
        schema = registered.schema(kind, key)
        handles = {k: v for k, v in inputs.items() if isinstance(v, ConnectionHandle)}
        plain = {k: v for k, v in inputs.items() if k not in handles}
        markers = {k: {CONNECTION_MARKER: v.name} for k, v in handles.items()}
        params = schema.validate({**plain, **markers})
        params.update(handles)
        return item, params

    async def invoke_action(self, ref: str, inputs: Mapping[str, Any], **context: Any) -> Any:
        """Validate ``inputs`` and call one action (``component.key``) directly."""
        action, params = await self._prepare("action", ref, inputs)
        return await call_function(action.perform, self.context(step=ref, **context), params)

    async def picklist(self, ref: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a data source; returns ``[{"key", "label"}, ...]``."""
        source, params = await self._prepare("data_source", ref, inputs)
        items: list[dict[str, Any]] = await call_function(
            source.perform, self.context(step=ref), params
        )
        return items

    async def deploy_trigger(
        self, ref: str, inputs: Mapping[str, Any], *, webhook_url: str
    ) -> dict[str, Any]:
        trigger, params = await self._prepare("trigger", ref, inputs)
        if trigger.on_deploy is None:
            return {}
        ctx = self.context(step=ref, webhook_url=webhook_url)
        state: dict[str, Any] = await call_function(trigger.on_deploy, ctx, params) or {}
        return state

    async def undeploy_trigger(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        webhook_url: str,
        deploy_state: Mapping[str, Any],
    ) -> None:
        trigger, params = await self._prepare("trigger", ref, inputs)
        if trigger.on_undeploy is None:
            return
        ctx = self.context(step=ref, webhook_url=webhook_url, deploy_state=dict(deploy_state))
        await call_function(trigger.on_undeploy, ctx, params)

    async def webhook_event(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        request: WebhookRequest,
        *,
        deploy_state: Mapping[str, Any] | None = None,
    ) -> TriggerEvent | None:
        """Verify and shape one delivery; raises ``WebhookRejected`` when it fails checks."""
        trigger, params = await self._prepare("trigger", ref, inputs)
        ctx = self.context(step=ref, webhook_url=request.url, deploy_state=dict(deploy_state or {}))
        event: TriggerEvent | None = await call_function(trigger.perform, ctx, request, params)
        return event

    async def poll(
        self, ref: str, inputs: Mapping[str, Any], cursor: Any, *, state: State | None = None
    ) -> Any:
        trigger, params = await self._prepare("trigger", ref, inputs)
        ctx = self.context(step=ref, state=state or State())
        return await call_function(trigger.poll, ctx, params, cursor)
