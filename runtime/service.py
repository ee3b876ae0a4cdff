"""relay as a service: instances deployed from flows, webhooks received, executions run durably.

``Relay`` ties a ``Runtime`` (components, HTTP, engine) to a ``Store`` (instances, encrypted
connections and tokens, deliveries, executions, state). It is used by ``relay serve``, the
workers, the CLI commands that change instances, and ``relay demo``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from attrs import frozen

from runtime.api import Consent, Runtime
from runtime.connections import ConnectionHandle
from runtime.context import State
from runtime.declarations import WebhookRequest
from runtime.errors import ConfigurationError, FlowError, NotFound, RelayError, WebhookRejected
from runtime.expressions import render_value
from runtime.flows import Flow
from runtime.logs import SECRETS
from runtime.plain_webhooks import (
    DEPLOY_STATE_KEY,
    evaluate_secret,
    stored_secret,
    verify_signature,
)
from runtime.redaction import SECRET_KEYS, Redactor
from runtime.store import Instance, Store
from runtime.store.records import ExecutionRow, LeaseLost

log = structlog.get_logger("relay.service")

#: Headers kept with a delivery record (the rest may carry credentials or noise).
#: Headers every delivery record keeps (never credentials); a trigger adds what it declares.
_KEPT_HEADERS = frozenset({"content-type", "user-agent"})
#: A plain ``webhook:`` trigger also keeps relay's own signature header.
_PLAIN_WEBHOOK_HEADERS = _KEPT_HEADERS | {"x-relay-signature"}

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


@frozen
class WebhookOutcome:
    """How a delivery was answered: ``status`` and, when accepted, its execution."""

    status: int
    execution_id: str | None = None
    duplicate: bool = False
    reason: str = ""
    instance: str | None = None


def public_url() -> str:
    import os

    return checked_public_url(
        os.environ.get("RELAY_PUBLIC_URL", "http://127.0.0.1:8000"), "RELAY_PUBLIC_URL"
    )


def checked_public_url(value: str, source: str) -> str:
    """``value`` (from ``source``: an option or variable name) as the base of webhook URLs:
    an http(s) URL with a host and no query or fragment, without a trailing slash."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        raise ConfigurationError(
            f"{source}={value!r} is not a usable public URL: it must look like "
            "https://relay.example.com (webhook senders reach relay there)"
        )
    return value.strip().rstrip("/")


class Relay:
    """One runtime + one store; safe to share across tasks in one event loop."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        *,
        base_url: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``monotonic`` is the clock the instance cache ages by (tests pass a manual one)."""
        self.runtime = runtime
        self.store = store
        self.base_url = (
            checked_public_url(base_url, "the base URL") if base_url else public_url()
        )
        #: parsed flows by (instance name, flow version, flow text): parsed once each
        self._flows: dict[tuple[str, int, str], Flow] = {}
        #: instances by webhook token and by name: (instance, monotonic time read)
        self._by_token: dict[str, tuple[Instance, float]] = {}
        self._by_name: dict[str, tuple[Instance, float]] = {}
        self._reading: dict[tuple[str, str], asyncio.Future[Instance | None]] = {}
        self._monotonic = monotonic
        # connections resolve through the store: named connections, and tokens (encrypted, with
        # the cross-process lock that keeps single-use refresh tokens single-flight)
        runtime.connection_source = store
        runtime.token_store = store.tokens

    # -- instances -----------------------------------------------------------------------

    def webhook_url(self, instance: Instance) -> str:
        return f"{self.base_url}/webhooks/{instance.webhook_token}"

    def flow_of(self, instance: Instance) -> Flow:
        # whatever process deployed it, this one must know the instance's secrets to scrub them
        SECRETS.add(
            str(v)
            for k, v in instance.deploy_state.items()
            if SECRET_KEYS.match(k) and isinstance(v, str)
        )
        return self._flow(instance, instance.flow_text, instance.flow_version)

    def _flow(self, instance: Instance, flow_text: str, version: int) -> Flow:
        """``flow_text`` (version ``version`` of ``instance``'s flow), parsed once."""
        key = (instance.name, version, flow_text)
        flow = self._flows.get(key)
        if flow is None:
            flow = self.runtime.load_flow_text(flow_text, instance.flow_path)
            self._flows[key] = flow
        return flow

    def concurrency_of(self, instance: str) -> int | None:
        """The concurrency limit of the newest parsed flow of ``instance``, if any."""
        cached = [(k[1], f) for k, f in self._flows.items() if k[0] == instance]
        return max(cached, key=lambda vf: vf[0])[1].concurrency if cached else None

    def forget(self, name: str) -> None:
        """Drop what this process cached about instance ``name``."""
        for key in [k for k in self._flows if k[0] == name]:
            del self._flows[key]
        self._by_name.pop(name, None)
        for token in [t for t, (i, _) in self._by_token.items() if i.name == name]:
            del self._by_token[token]

    async def instance_by_token(self, token: str, *, fresh: bool = False) -> Instance | None:
        """The instance of a webhook token, cached for ``INSTANCE_TTL`` seconds."""
        cached = self._by_token.get(token)
        if cached is not None and not fresh and self._age(cached[1]) < INSTANCE_TTL:
            return cached[0]
        return await self._single_flight(("token", token), self.store.instance_by_token, token)

    def _age(self, read_at: float) -> float:
        return self._monotonic() - read_at

    def _recheck_due(self, token: str) -> bool:
        """Whether the cached instance of ``token`` is old enough to be worth reading again."""
        cached = self._by_token.get(token)
        return cached is None or self._age(cached[1]) >= RECHECK_AFTER

    async def instance_named(self, name: str) -> Instance | None:
        """The instance called ``name``, cached for ``INSTANCE_TTL`` seconds."""
        cached = self._by_name.get(name)
        if cached is not None and self._age(cached[1]) < INSTANCE_TTL:
            return cached[0]
        return await self._single_flight(("name", name), self.store.get_instance, name)

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
        if len(self._by_token) > 10_000:  # unbounded only if instances churn; keep it small
            self._by_token.clear()
        self._by_token[instance.webhook_token] = (instance, t)
        self._by_name[instance.name] = (instance, t)

    async def connections(
        self, instance: Instance, flow: Flow
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """The instance's config scope and connection handles (tokens from the store)."""
        return await self.runtime.resolve_config(
            flow, instance.config, key_prefix=f"instance:{instance.name}:"
        )

    async def trigger_inputs(self, instance: Instance, flow: Flow) -> dict[str, Any]:
        scope, handles = await self.connections(instance, flow)
        raw = flow.trigger.inputs or {}
        rendered: dict[str, Any] = render_value(
            raw, {"config": scope, "trigger": {}, "steps": {}, "state": {}}
        )
        for key, value in list(rendered.items()):
            if isinstance(value, dict) and "$connection" in value:
                rendered[key] = handles[value["$connection"]]
        return rendered

    async def deploy(
        self, flow_path: str | Path, config: Mapping[str, Any], name: str | None = None
    ) -> Instance:
        """Check the flow and config, store the instance, run its trigger's deploy hook."""
        flow = self.runtime.load_flow(flow_path)
        name = name or Path(flow_path).stem
        if await self.store.get_instance(name) is not None:
            raise ConfigurationError(f"an instance named {name!r} exists; undeploy it first")
        self.forget(name)
        await self.runtime.resolve_config(flow, config, key_prefix=f"instance:{name}:")
        # a plain webhook's secret is evaluated once, here, and kept only in the encrypted
        # deploy state: the flow text (copied into every execution) holds just its expression
        secret = evaluate_secret(flow, config)
        instance = await self.store.create_instance(
            name,
            flow.name,
            str(flow_path),
            flow.text,
            dict(config),
            secrets.token_urlsafe(24),
            deploy_state={DEPLOY_STATE_KEY: secret} if secret is not None else None,
        )
        await self.store.record_webhook_url(name, self.webhook_url(instance))
        if flow.trigger.kind == "component":
            try:
                state = await self.runtime.deploy_trigger(
                    f"{flow.trigger.component}.{flow.trigger.trigger}",
                    await self.trigger_inputs(instance, flow),
                    webhook_url=self.webhook_url(instance),
                )
            except RelayError:
                await self.store.delete_instance(name)
                self.forget(name)
                raise
            SECRETS.add(
                str(v) for k, v in state.items() if SECRET_KEYS.match(k) and isinstance(v, str)
            )
            await self.store.set_deploy_state(name, state)
            instance = await self._instance(name)
        self.forget(name)
        log.info("deployed", instance=name, flow=flow.name)
        return instance

    async def undeploy(self, name: str) -> None:
        """Run the trigger's undeploy hook (e.g. delete the webhook subscription), then forget."""
        instance = await self._instance(name)
        flow = self.flow_of(instance)
        if flow.trigger.kind == "component":
            await self.runtime.undeploy_trigger(
                f"{flow.trigger.component}.{flow.trigger.trigger}",
                await self.trigger_inputs(instance, flow),
                webhook_url=self.webhook_url(instance),
                deploy_state=instance.deploy_state,
            )
        await self.store.delete_instance(name)
        self.forget(name)
        log.info("undeployed", instance=name)

    async def _instance(self, name: str) -> Instance:
        instance = await self.store.get_instance(name)
        if instance is None:
            raise ConfigurationError(f"no instance named {name!r}")
        return instance

    # -- connections ---------------------------------------------------------------------

    async def connect(
        self,
        name: str,
        component: str,
        key: str,
        fields: Mapping[str, Any],
        consent: Consent | None = None,
    ) -> ConnectionHandle:
        """Authorize a connection and store it (fields and token encrypted) as ``name``."""
        handle = await self.runtime.open_connection(
            name,
            component,
            key,
            {**fields, "token": None},
            store_key=f"connection:{name}",
            authorize=False,
        )
        if handle.declaration.kind == "oauth2":
            # a server that consents headlessly (the sandbox) needs no browser
            await self.runtime.authorize(
                handle, None if handle.endpoints.headless_consent else consent
            )
        await self.store.save_connection(name, component, key, dict(handle.fields))
        return handle

    # -- webhooks ------------------------------------------------------------------------

    async def receive_webhook(self, token: str, request: WebhookRequest) -> WebhookOutcome:
        """Verify a delivery and record it (durably) with its execution; does not run it."""
        instance = await self.instance_by_token(token)
        if instance is None:
            return WebhookOutcome(404, reason="unknown webhook")
        try:
            try:
                payload = await self._shape(instance, self.flow_of(instance), request)
            except WebhookRejected:
                # the cached instance may predate a change of its secrets: check the stored one,
                # unless it was read a moment ago (each forged delivery would cost a read)
                if not self._recheck_due(token):
                    raise
                stored = await self.instance_by_token(token, fresh=True)
                if stored is None:
                    return WebhookOutcome(404, reason="unknown webhook")
                instance = stored
                payload = await self._shape(instance, self.flow_of(instance), request)
        except WebhookRejected as exc:
            log.warning("webhook rejected", instance=instance.name, reason=exc.reason)
            return WebhookOutcome(exc.status, reason=exc.reason)
        except FlowError as exc:  # stored by an older relay: e.g. a literal webhook secret
            first = str(exc.problems[0]) if exc.problems else str(exc)
            log.error(
                "webhook refused: the stored flow no longer loads; redeploy the instance",
                instance=instance.name,
                problem=first,
            )
            return WebhookOutcome(503, reason="the instance's flow no longer loads: redeploy it")
        if payload is None:
            return WebhookOutcome(200, reason="ignored: event not selected")
        kept = self._kept_headers(self.flow_of(instance))
        headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        dedupe = hashlib.sha256(request.body).hexdigest()
        try:
            execution_id, new = await self.store.record_delivery(
                instance.name,
                dedupe,
                headers,
                request.body,
                request.received_at,
                payload,
                webhook_token=token,
            )
        except NotFound:  # undeployed by another process since it was cached
            self.forget(instance.name)
            return WebhookOutcome(404, reason="unknown webhook")
        return WebhookOutcome(202, execution_id, duplicate=not new, instance=instance.name)

    async def _shape(
        self, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any] | None:
        trigger = flow.trigger
        if trigger.kind == "component":
            event = await self.runtime.webhook_event(
                f"{trigger.component}.{trigger.trigger}",
                await self.trigger_inputs(instance, flow),
                request,
                deploy_state=instance.deploy_state,
            )
            if event is None:
                return None
            return {**dict(event.payload), "branch": event.branch}
        if trigger.kind == "webhook":
            if trigger.secret is not None:
                secret = stored_secret(instance.deploy_state)
                if secret is None:  # deployed before secrets were evaluated at deploy
                    raise WebhookRejected("the instance has no webhook secret: redeploy it", 401)
                verify_signature(secret, request)
            shown = _safe_headers(request.headers, _PLAIN_WEBHOOK_HEADERS)
            return {"headers": shown, "body": _parse_body(request.body)}
        raise WebhookRejected("this flow is not triggered by webhooks", status=405)

    def _kept_headers(self, flow: Flow) -> frozenset[str]:
        """The request headers a delivery to ``flow`` keeps: relay's own plus its trigger's."""
        trigger = flow.trigger
        if trigger.kind == "webhook":
            return _PLAIN_WEBHOOK_HEADERS
        if trigger.kind == "component" and trigger.component and trigger.trigger:
            registered = self.runtime.registry.require(trigger.component)
            declared = registered.component.trigger(trigger.trigger)
            if declared is not None and declared.kept_headers:
                return _KEPT_HEADERS.union(declared.kept_headers)
        return _KEPT_HEADERS

    # -- executions ----------------------------------------------------------------------

    async def start_manual(self, name: str, payload: Any) -> str:
        """Record a manual or scheduled execution of an instance."""
        instance = await self._instance(name)
        return await self.store.create_execution(
            instance.name, instance.flow_text, instance.flow_version, payload
        )

    async def execute(
        self,
        execution_id: str,
        worker: str,
        lease: float = 300.0,
        instance: str | None = None,
        *,
        on_claim: Callable[[ExecutionRow], object] | None = None,
    ) -> str | None:
        """Claim and run one execution; returns its final status, or None if not claimed (or
        its lease was lost before it could record the outcome: then another claim owns it).

        ``instance`` (the execution's instance, when the caller knows it) lets the claim load
        the persistent state in the same transaction. ``on_claim`` is told the claimed row
        (its ``holder`` is the claim executors renew the lease under). Every outcome is written
        under that claim: a holder whose lease lapsed and was taken over writes nothing."""
        hint = None
        if instance is not None:
            cached = self._by_name.get(instance)
            if cached is not None:
                hint = self.flow_of(cached[0]).name
        claimed = await self.store.claim_with_state(execution_id, worker, lease, hint)
        if claimed is None:
            return None
        row, stored, state_flow = claimed
        if on_claim is not None:
            on_claim(row)
        holder = row.holder
        try:
            found = await self.instance_named(row.instance) if row.instance else None
            if found is None:
                await self.store.finish_execution(
                    execution_id,
                    "failed",
                    {"error": {"type": "ConfigurationError", "message": "the instance is gone"}},
                    {},
                    holder=holder,
                )
                return "failed"
            self.flow_of(found)  # learns the instance's secrets (to scrub them), caches its flow
            flow = self._flow(found, row.flow_text, row.flow_version)
            if flow.name != state_flow:  # the claim guessed another flow's state: read it
                stored = await self.store.load_state(found.name, flow.name)
            state = State(
                flow=stored.get("flow", {}),
                cross_flow=stored.get("cross_flow", {}),
                integration=stored.get("integration", {}),
            )
            try:
                scope, handles = await self.connections(found, flow)
            except RelayError as exc:
                error = {"type": type(exc).__name__, "message": Redactor().text(str(exc))}
                await self.store.finish_execution(
                    execution_id, "failed", {"error": error}, {}, holder=holder
                )
                log.warning(
                    "execution failed before its first step",
                    execution_id=execution_id,
                    instance=row.instance,
                    error=str(exc),
                )
                return "failed"
            replay = row.replay_outputs if hasattr(row, "replay_outputs") else None
            result = await self.runtime.run(
                flow,
                config=scope,
                connections=handles,
                payload=row.payload,
                state=state,
                execution_id=execution_id,
                instance=found.name,
                reuse_outputs=replay,
            )
            # the outcome and the persistent state scopes, in one transaction; a scope that
            # was empty and still is needs no write (reading it gives the same empty document)
            scopes = state.as_dict()
            for name in ("flow", "cross_flow", "integration"):
                if not scopes[name] and not stored.get(name):
                    del scopes[name]
            await self.store.finish_execution(
                execution_id,
                result.status,
                result.as_dict(),
                scopes,
                flow_name=flow.name,
                holder=holder,
            )
        except LeaseLost:
            log.warning(
                "execution not recorded: its lease was taken over by another claim",
                execution_id=execution_id,
                instance=row.instance,
                attempt=row.attempts,
            )
            return None
        if result.status == "failed":  # the default level (warning) must show a failure
            recorded = result.as_dict()["error"] or {}
            log.warning(
                "execution failed",
                execution_id=execution_id,
                instance=row.instance,
                step=recorded.get("step"),
                error=Redactor().text(str(recorded.get("message", ""))),
            )
        else:
            log.info(
                "execution finished",
                execution_id=execution_id,
                instance=row.instance,
                status=result.status,
            )
        return result.status

    async def replay(
        self, execution_id: str, *, from_step: str | None = None, flow_version: str = "original"
    ) -> str:
        """A new execution with the same trigger payload; with ``from_step``, the outputs of
        the top-level steps before it are reused instead of run again."""
        row = await self.store.get_execution(execution_id)
        if row is None:
            raise ConfigurationError(f"no execution {execution_id!r}")
        instance = await self._instance(row.instance) if row.instance else None
        if flow_version == "current":
            if instance is None:
                raise ConfigurationError("the execution's instance is gone")
            flow_text, version = instance.flow_text, instance.flow_version
        else:
            flow_text, version = row.flow_text, row.flow_version
        reuse: dict[str, Any] | None = None
        if from_step is not None:
            flow = self.runtime.load_flow_text(flow_text, instance.flow_path if instance else "")
            reuse = _outputs_before(flow, from_step, row.result or {})
        return await self.store.create_execution(
            row.instance,
            flow_text,
            version,
            row.payload,
            replay_of=execution_id,
            reuse_outputs=reuse,
        )


def _outputs_before(flow: Flow, step: str, result: Mapping[str, Any]) -> dict[str, Any]:
    ids = [s.id for s in flow.steps]
    if step not in ids:
        raise ConfigurationError(f"no top-level step {step!r} (steps: {', '.join(ids)})")
    outputs = result.get("outputs") or {}
    reuse = {}
    for earlier in ids[: ids.index(step)]:
        if earlier not in outputs:
            raise ConfigurationError(f"step {earlier!r} has no recorded output to reuse")
        reuse[earlier] = outputs[earlier]
    return reuse


def _safe_headers(headers: Mapping[str, str], kept: frozenset[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() in kept}


def _parse_body(body: bytes) -> Any:
    """JSON when the body is JSON a flow can hold, else its text (nothing is dropped)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        return body.decode("utf-8", "replace")
