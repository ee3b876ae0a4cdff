"""relay as a service: a ``Runtime`` bound to a ``Store``, composing the instance cache, webhook
intake and execution running, and deploying, undeploying and connecting instances.

``Service`` ties a ``Runtime`` (components, HTTP, engine) to a ``Store`` (instances, encrypted
connections and tokens, deliveries, executions, state). It is used by ``relay serve``, the
workers, the CLI commands that change instances, and ``relay demo``.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from runtime.errors import ConfigurationError, NotFound, RelayError
from runtime.instance_cache import InstanceCache
from runtime.instance_config import resolve_instance_config
from runtime.instance_config import trigger_inputs as render_trigger_inputs
from runtime.intake import WebhookIntake, WebhookOutcome
from runtime.lifecycle import Redeployed, pause, redeploy, resume
from runtime.running import Runner
from runtime.webhook_sync import Moved
from runtime.webhook_sync import sync as sync_webhook_urls

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from runtime.api import Consent, Runtime
    from runtime.connections import ConnectionHandle
    from runtime.declarations import WebhookRequest
    from runtime.flows import Flow
    from runtime.store import FlowVersion, Instance, Store
    from runtime.store.deliveries import DeliveryEntry, Outcome
    from runtime.store.records import ExecutionRow

log = structlog.get_logger("relay.service")

__all__ = ["Redeployed", "Service", "WebhookOutcome", "checked_public_url", "public_url"]


def public_url() -> str:
    """The base of webhook URLs: ``RELAY_PUBLIC_URL``, checked (default the local server)."""
    import os

    return checked_public_url(
        os.environ.get("RELAY_PUBLIC_URL", "http://127.0.0.1:8000"), "RELAY_PUBLIC_URL"
    )


def checked_public_url(value: str, source: str) -> str:
    """``value`` (from ``source``: an option or variable name) as the base of webhook URLs:
    an http(s) URL with a host and no query or fragment, without a trailing slash."""
    from urllib.parse import urlsplit, urlunsplit

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
    # the scheme as URLs spell it ("HTTP://..." names the same base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")


class Service:
    """Deployed instances, their webhooks and their durable executions: a ``Runtime`` bound to
    a ``Store``. ``Runtime`` alone runs flows in memory; ``Service`` keeps them. Safe to share
    across tasks in one event loop."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        *,
        base_url: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``monotonic`` is the clock the instance cache ages by (tests pass a manual one)."""
        #: ``runtime`` bound to the store: connections resolve through it (named connections,
        #: and tokens, encrypted, with the cross-process lock that keeps single-use refresh
        #: tokens single-flight). Its HTTP clients are this service's: ``aclose`` closes them.
        self.runtime = runtime.using(token_store=store.tokens, connection_source=store)
        self.store = store
        self.base_url = checked_public_url(base_url, "the base URL") if base_url else public_url()
        #: the instances and parsed flows this process has read
        self.instances = InstanceCache(self.runtime, store, monotonic=monotonic)
        self.intake = WebhookIntake(self.runtime, store, self.instances)
        self.runner = Runner(self.runtime, store, self.instances)

    async def aclose(self) -> None:
        """Write the rejected deliveries still counted in memory, then close this service's
        HTTP clients (not the store, nor the runtime it was given)."""
        try:
            await self.intake.rejections.flush()
        except Exception as exc:  # the store is away: the counts are lost, the close goes on
            log.warning("counting rejected deliveries failed", error=type(exc).__name__)
        await self.runtime.aclose()

    # -- instances -----------------------------------------------------------------------

    def webhook_url(self, instance: Instance) -> str:
        """The URL webhook senders deliver ``instance``'s events to."""
        return f"{self.base_url}/webhooks/{instance.webhook_token}"

    def flow_of(self, instance: Instance) -> Flow:
        """The instance's flow, parsed once (see ``InstanceCache.flow_of``)."""
        return self.instances.flow_of(instance)

    def concurrency_of(self, instance: str) -> int | None:
        """The concurrency limit of the newest parsed flow of ``instance``, if any."""
        return self.instances.concurrency_of(instance)

    def forget(self, name: str) -> None:
        """Drop what this process cached about instance ``name``."""
        self.instances.forget(name)

    async def instance_by_token(self, token: str, *, fresh: bool = False) -> Instance | None:
        """The instance of a webhook token, cached for a few seconds."""
        return await self.instances.by_token(token, fresh=fresh)

    async def instance_named(self, name: str) -> Instance | None:
        """The instance called ``name``, cached for a few seconds."""
        return await self.instances.named(name)

    async def connections(
        self, instance: Instance, flow: Flow
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """The instance's config scope and connection handles (tokens from the store)."""
        return await resolve_instance_config(self.runtime, instance, flow)

    async def trigger_inputs(self, instance: Instance, flow: Flow) -> dict[str, Any]:
        """The instance's trigger inputs, rendered against its resolved config."""
        return render_trigger_inputs(flow, await self.connections(instance, flow))

    async def deploy(
        self,
        flow_path: str | Path,
        config: Mapping[str, Any],
        name: str | None = None,
        *,
        text: str | None = None,
    ) -> Instance:
        """Check the flow and config, store the instance, run its trigger's deploy hook. With
        ``text`` the flow is that text (the API's case) and ``flow_path`` only names it."""
        if text is None:
            flow = self.runtime.load_flow(flow_path)
        else:
            flow = self.runtime.load_flow_text(text, str(flow_path))
        name = name or Path(flow_path).stem
        if await self.store.get_instance(name) is not None:
            raise ConfigurationError(f"an instance named {name!r} exists; undeploy it first")
        self.forget(name)
        await self.runtime.resolve_config(flow, config, key_prefix=f"instance:{name}:")
        trigger = flow.trigger
        # what the trigger's kind works out before the instance exists (a plain webhook's
        # secret) is kept only in the encrypted deploy state, never in the flow text
        initial = trigger.initial_deploy_state(flow, config, self.runtime.redactor)
        instance = await self.store.create_instance(
            name,
            flow.name,
            str(flow_path),
            flow.text,
            dict(config),
            secrets.token_urlsafe(24),
            deploy_state=initial,
        )
        await self.store.record_webhook_url(name, self.webhook_url(instance))
        try:
            state = await trigger.deploy(self, instance, flow)
        except RelayError:
            await self.store.delete_instance(name)
            self.forget(name)
            raise
        if state is not None:
            await self.store.set_deploy_state(name, dict(state))
            instance = await self._instance(name)
        self.forget(name)
        log.info("deployed", instance=name, flow=flow.name)
        return instance

    async def undeploy(self, name: str) -> None:
        """Run the trigger's undeploy hook (e.g. delete the webhook subscription), then forget."""
        instance = await self._instance(name)
        flow = self.flow_of(instance)
        await flow.trigger.undeploy(self, instance, flow)
        await self.store.delete_instance(name)
        self.forget(name)
        log.info("undeployed", instance=name)

    async def redeploy(
        self,
        name: str,
        flow: str | Path,
        config: Mapping[str, Any] | None = None,
    ) -> Redeployed:
        """Install ``flow`` (a ``Path``: a flow file; a ``str``: flow text) as the next flow
        version of instance ``name`` in place, with ``config`` (default: the instance's): the
        same name and webhook URL, state and poll cursor kept. The flow is validated and its
        config resolved before anything changes; the trigger's deploy step runs again only
        when its inputs changed (see ``runtime.lifecycle``)."""
        return await redeploy(self, name, flow, config)

    async def sync_webhook_urls(
        self, names: Collection[str] | None = None, *, dry_run: bool = False
    ) -> list[Moved]:
        """Re-register the instances (of ``names``, if given) whose webhook URL, as registered,
        differs from where this server receives them (see ``runtime.webhook_sync``); with
        ``dry_run``, only find them."""
        return await sync_webhook_urls(self, names, dry_run=dry_run)

    async def pause(self, name: str) -> bool:
        """Pause instance ``name``: its deliveries are still verified, recorded and answered
        202 but held; its schedule and polls stop. ``False`` if it was paused already."""
        return await pause(self, name)

    async def resume(self, name: str) -> list[str]:
        """Resume instance ``name``: the executions it held are pending again; returns their
        ids in the order received (hand them to an executor; a running ``relay serve`` takes
        them over at its next sweep)."""
        return await resume(self, name)

    async def flow_versions(self, name: str) -> list[FlowVersion]:
        """Every flow version of instance ``name``, oldest first."""
        await self._instance(name)
        return await self.store.list_flow_versions(name)

    async def _instance(self, name: str) -> Instance:
        instance = await self.store.get_instance(name)
        if instance is None:
            raise NotFound("instance", name)
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

    # -- webhooks and executions ---------------------------------------------------------

    async def receive_webhook(self, token: str, request: WebhookRequest) -> WebhookOutcome:
        """Verify a delivery and record it (durably) with its execution; does not run it."""
        return await self.intake.receive_webhook(token, request)

    async def deliveries(
        self,
        name: str,
        outcome: Outcome | None = None,
        limit: int = 50,
        after: tuple[float, str] | None = None,
    ) -> list[DeliveryEntry]:
        """Instance ``name``'s deliveries, newest first, continuing after the key ``after``
        (``runtime.store.deliveries``); the rejections this process counted so far are
        written first, so the page has them."""
        await self.intake.rejections.flush()
        found: list[DeliveryEntry] = await self.store.page_deliveries(name, outcome, limit, after)
        return found

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
        """Claim and run one execution (see ``Runner.execute``): its final status, ``"waiting"``
        when it was suspended, or ``None`` when it was not claimed."""
        return await self.runner.execute(execution_id, worker, lease, instance, on_claim=on_claim)

    async def cancel(self, execution_id: str) -> str:
        """Cancel an execution (see ``Runner.cancel``): ``"canceled"``, ``"requested"`` (it
        runs; it stops at its next checkpoint) or ``"finished"``."""
        return await self.runner.cancel(execution_id)

    async def replay(
        self, execution_id: str, *, from_step: str | None = None, flow_version: str = "original"
    ) -> str:
        """A new execution with the same trigger payload (see ``Runner.replay``)."""
        return await self.runner.replay(
            execution_id, from_step=from_step, flow_version=flow_version
        )
